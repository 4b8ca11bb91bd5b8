"""Building blocks shared by the rec-trainers models.

* :class:`EmbeddingLayer` — per-feature embedding tables, pooling and dense pass-through
  (see :mod:`rec_trainers.layers.embedding` for the batch conventions; the padding id
  of sequences is 0);
* :class:`MLP`, :class:`Dice` — the deep part;
* :class:`LinearLogit` — the first-order term;
* :class:`FM`, :class:`SENETLayer`, :class:`BiLinearInteraction` — field interactions;
* :class:`CrossNetwork`, :class:`CrossNetV2`, :class:`CrossNetMix` — DCN cross networks;
* :class:`CIN` — xDeepFM's compressed interaction network;
* :class:`InteractingLayer`, :class:`ActivationUnit` — AutoInt's and DIN's attention;
* :class:`ExpertGate`, :class:`CGC`, :func:`stack_experts` — MMoE's and PLE's experts and gates;
* :class:`AttentionTransfer` — AITM's adaptive information transfer;
* :class:`DenseEmbedding`, :func:`pool_sequence`, :func:`sequence_mask` — dense values
  as fields, and padding-aware sequence pooling.
"""

from __future__ import annotations

from rec_trainers.layers.attention import ActivationUnit, InteractingLayer, MultiHeadSelfAttention
from rec_trainers.layers.cin import CIN
from rec_trainers.layers.cross import CrossNetMix, CrossNetV2, CrossNetwork
from rec_trainers.layers.embedding import EmbeddingLayer
from rec_trainers.layers.interaction import FM, BiLinearInteraction, BiLinearInteractionLayer, SENETLayer
from rec_trainers.layers.linear import LinearLogit
from rec_trainers.layers.mlp import MLP, Dice, activation_layer
from rec_trainers.layers.moe import CGC, ExpertGate, stack_experts
from rec_trainers.layers.pooling import DenseEmbedding, pool_sequence, sequence_mask
from rec_trainers.layers.transfer import AttentionTransfer

__all__ = [
    "CGC",
    "CIN",
    "FM",
    "MLP",
    "ActivationUnit",
    "AttentionTransfer",
    "BiLinearInteraction",
    "BiLinearInteractionLayer",
    "CrossNetMix",
    "CrossNetV2",
    "CrossNetwork",
    "DenseEmbedding",
    "Dice",
    "EmbeddingLayer",
    "ExpertGate",
    "InteractingLayer",
    "LinearLogit",
    "MultiHeadSelfAttention",
    "SENETLayer",
    "activation_layer",
    "pool_sequence",
    "sequence_mask",
    "stack_experts",
]
