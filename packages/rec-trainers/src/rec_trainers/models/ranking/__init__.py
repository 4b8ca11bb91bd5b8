"""CTR ranking models, with torch-rechub's class names and constructor arguments.

``from torch_rechub.models.ranking import DeepFM`` becomes
``from rec_trainers.models.ranking import DeepFM``; the constructors take the same
arguments. One difference: **every model's** ``forward(x_dict)`` **returns logits of
shape** ``(B,)``, **not sigmoid probabilities**. Train with ``BCEWithLogitsLoss`` (the
CTR trainer does) and apply ``torch.sigmoid`` for probabilities; logits keep the loss
numerically stable and make bf16/fp16 autocast safe.

Each model also has ``Model.from_features(features, **params)``, which builds it from
one flat feature list with sensible defaults (``Model.default_params``); its registry name
(``rec list models --task ctr``) is declared where ``rec_trainers.plugin`` registers it::

    model = DeepFM.from_features(features, mlp_params={"dims": [64, 32]})

Batch conventions (``{name: tensor}``; sequences padded with id 0) are described in
:mod:`rec_trainers.layers.embedding`.
"""

from __future__ import annotations

from rec_trainers.models.ranking._base import RankingModel
from rec_trainers.models.ranking.autoint import AutoInt
from rec_trainers.models.ranking.dcn import DCN
from rec_trainers.models.ranking.dcnv2 import DCNv2
from rec_trainers.models.ranking.deepfm import DeepFM
from rec_trainers.models.ranking.din import DIN
from rec_trainers.models.ranking.fibinet import FiBiNET, FiBiNet
from rec_trainers.models.ranking.fm import FM
from rec_trainers.models.ranking.lr import LR
from rec_trainers.models.ranking.widedeep import WideDeep
from rec_trainers.models.ranking.xdeepfm import xDeepFM

__all__ = [
    "DCN",
    "DIN",
    "FM",
    "LR",
    "AutoInt",
    "DCNv2",
    "DeepFM",
    "FiBiNET",
    "FiBiNet",
    "RankingModel",
    "WideDeep",
    "xDeepFM",
]
