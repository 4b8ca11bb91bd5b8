"""Two-tower retrieval models (task ``match``), with torch-rechub's class names and arguments.

``from torch_rechub.models.matching import MIND`` becomes
``from rec_trainers.models.matching import MIND``; constructors take the same arguments
and honour the same ``mode`` protocol: ``model.mode = "user"`` makes ``model(x)`` return
user embeddings, ``"item"`` item embeddings and ``None`` the training output:

* :class:`DSSM` — point-wise **logits** ``(B,)`` (torch-rechub returns their sigmoid;
  train with ``BCEWithLogitsLoss``);
* :class:`YoutubeDNN`, :class:`MIND`, :class:`ComirecSA`, :class:`ComirecDR` — list-wise
  logits ``(B, 1 + n_neg)`` against ``[positive, negatives...]`` (train with
  ``cross_entropy(logits, zeros)``).

Every model also has ``user_tower(x)`` -> ``(B, d)`` (``(B, K, d)`` for the
multi-interest MIND and ComiRec), ``item_tower(x)`` -> ``(N, d)``, both L2-normalised and
independent of ``mode``; ``score_items(user_emb, item_emb)`` -> ``(B, N)`` (maximum over
interests); and ``from_features(features, item_feature="item_id", **params)``, which splits
one flat feature list by name: ``neg_*`` sequences are negatives, ``hist_*`` sequences
the history, ``item*`` (and ``item_feature``) the item features, the rest user features.
"""

from __future__ import annotations

from rec_trainers.models.matching._base import MatchModel
from rec_trainers.models.matching.comirec import ComirecDR, ComirecSA
from rec_trainers.models.matching.dssm import DSSM
from rec_trainers.models.matching.mind import MIND
from rec_trainers.models.matching.youtube_dnn import YoutubeDNN

__all__ = ["DSSM", "MIND", "ComirecDR", "ComirecSA", "MatchModel", "YoutubeDNN"]
