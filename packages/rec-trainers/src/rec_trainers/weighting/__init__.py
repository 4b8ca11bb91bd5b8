"""Adaptive loss weighters for multi-task training: UWL, GradNorm and MetaBalance.

Registered by rec-trainers' plugin as ``uwl``, ``gradnorm`` and ``metabalance``; torch-rechub's
``adaptive_params`` dictionaries map onto them through :func:`weighter_from_adaptive_params`.
"""

from __future__ import annotations

from rec_trainers.weighting.adaptive import ADAPTIVE_WEIGHTERS, weighter_from_adaptive_params
from rec_trainers.weighting.gradnorm import GradNormWeighter
from rec_trainers.weighting.metabalance import MetaBalanceWeighter
from rec_trainers.weighting.uwl import UWLWeighter

__all__ = [
    "ADAPTIVE_WEIGHTERS",
    "GradNormWeighter",
    "MetaBalanceWeighter",
    "UWLWeighter",
    "weighter_from_adaptive_params",
]
