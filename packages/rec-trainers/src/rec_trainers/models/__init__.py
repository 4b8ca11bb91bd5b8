"""Models of rec-trainers, grouped by task like torch-rechub's ``torch_rechub.models``.

* :mod:`rec_trainers.models.ranking` — CTR models (LR, FM, WideDeep, DeepFM, DCN,
  DCNv2, xDeepFM, AutoInt, FiBiNet, DIN).
* :mod:`rec_trainers.models.multi_task` — multi-task models (SharedBottom, ESMM, MMOE,
  PLE, AITM); ``forward`` returns ``(B, n_task)`` logits / regression values.

Unlike torch-rechub, the ranking models return **logits** ``(B,)`` from ``forward``;
apply ``torch.sigmoid`` for probabilities. Import the subpackage you need
(``from rec_trainers.models.ranking import DeepFM``); this package imports nothing
heavy itself.
"""

from __future__ import annotations

__all__: list[str] = []
