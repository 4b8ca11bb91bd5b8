"""DIN: pool a user's behaviour history by attention to the candidate item."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from rec_core.errors import ConfigError
from rec_core.features import SequenceFeature, SparseFeature
from rec_trainers.layers._features import Feature, check_pooled, flat_dim
from rec_trainers.layers.attention import ActivationUnit
from rec_trainers.layers.embedding import EmbeddingLayer
from rec_trainers.models.ranking._base import DEFAULT_MLP_PARAMS, RankingModel, build_mlp

__all__ = ["DIN"]

ATTENTION_KEYS = ("activation", "dims", "dropout", "use_softmax")


class DIN(RankingModel):
    """Weigh each past behaviour by its relevance to the candidate (Zhou et al., KDD 2018).

    Every history feature (a :class:`~rec_core.features.SequenceFeature`, padded with
    id 0) is pooled by an :class:`~rec_trainers.layers.ActivationUnit` against its
    target feature (``history_features[i]`` pairs with ``target_features[i]``;
    usually the history shares the target's table via ``shared_with``). The pooled
    histories, the target embeddings and the other features (embeddings and dense
    values) are concatenated and fed to an MLP with Dice activations.

    ``forward(x)`` returns **logits** of shape ``(B,)``, not probabilities: use
    ``BCEWithLogitsLoss`` and ``torch.sigmoid`` (torch-rechub's models returned
    sigmoid outputs).

    Args:
        features: User profile and context features (not the history or target).
        history_features: Behaviour sequences, e.g. the ids of clicked items.
        target_features: The candidate features the histories attend to.
        mlp_params: The final MLP, e.g. ``{"dims": [256, 128], "dropout": 0.2}``;
            its activation defaults to ``"dice"``.
        attention_mlp_params: The scoring MLP of the attention, keys ``dims``,
            ``activation``, ``dropout``, ``use_softmax``; ``None`` means
            ``{"dims": [36], "activation": "dice"}``.

    ``from_features`` takes each SequenceFeature whose ``shared_with`` names a
    SparseFeature of the list as a history feature and that SparseFeature as its
    target; the rest are the other features. Defaults:
    ``mlp_params={"dims": [256, 128], "dropout": 0.2}``,
    ``attention_mlp_params={"dims": [36], "activation": "dice"}``.

    Raises:
        ConfigError: If there is no history feature, the lists differ in length, or a
            pair differs in ``embed_dim``.
    """

    default_params: ClassVar[Mapping[str, Any]] = {
        "mlp_params": DEFAULT_MLP_PARAMS,
        "attention_mlp_params": {"dims": [36], "activation": "dice"},
    }

    def __init__(
        self,
        features: Iterable[Feature],
        history_features: Iterable[SequenceFeature],
        target_features: Iterable[SparseFeature],
        mlp_params: Mapping[str, Any],
        attention_mlp_params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.features = list(features)
        self.history_features = list(history_features)
        self.target_features = list(target_features)
        _check_pairs(self.history_features, self.target_features)
        everything: list[Feature] = [*self.features, *self.history_features, *self.target_features]
        check_pooled([*self.features, *self.target_features], "DIN")
        attention = dict(
            self.default_params["attention_mlp_params"] if attention_mlp_params is None else attention_mlp_params
        )
        unknown = sorted(set(attention) - set(ATTENTION_KEYS))
        if unknown:
            raise ConfigError(
                f"DIN: unknown attention_mlp_params key {unknown[0]!r} (accepted: {', '.join(ATTENTION_KEYS)})"
            )
        self.embedding = EmbeddingLayer(everything)
        self.attention_layers = nn.ModuleList(
            ActivationUnit(int(fea.embed_dim or 0), **attention) for fea in self.history_features
        )
        self.all_dims = flat_dim(everything)
        self.mlp = build_mlp("DIN", self.all_dims, mlp_params, default_activation="dice")

    @classmethod
    def feature_args(cls, features: list[Feature]) -> dict[str, Sequence[Feature]]:
        """Split the list into history sequences, their shared targets and the rest.

        Raises:
            ConfigError: If no SequenceFeature shares its table with a SparseFeature of the list.
        """
        sparse = {fea.name: fea for fea in features if isinstance(fea, SparseFeature)}
        history = [fea for fea in features if isinstance(fea, SequenceFeature) and fea.shared_with in sparse]
        if not history:
            raise ConfigError(
                "din needs a SequenceFeature with shared_with naming a SparseFeature target "
                "(e.g. SequenceFeature('hist_item', ..., shared_with='item')); none found"
            )
        targets = [sparse[str(fea.shared_with)] for fea in history]
        used = {fea.name for fea in history} | {fea.name for fea in targets}
        others = [fea for fea in features if fea.name not in used]
        return {"features": others, "history_features": history, "target_features": targets}

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the logits ``(B,)`` for the batch ``x``."""
        cache: dict[str, torch.Tensor] = {}  # each target is looked up once
        parts = []
        for unit, history, target in zip(
            self.attention_layers, self.history_features, self.target_features, strict=True
        ):
            seq, mask = self.embedding.sequence(x, history)
            parts.append(unit(seq, self.embedding.pooled(x, target, cache), mask))
        parts.append(self.embedding.flat(x, self.target_features, cache))
        if self.features:
            parts.append(self.embedding.flat(x, self.features))
        return self.mlp(torch.cat(parts, dim=1)).squeeze(1)


def _check_pairs(history: list[SequenceFeature], targets: list[SparseFeature]) -> None:
    if not history:
        raise ConfigError("DIN needs at least one history feature")
    if len(history) != len(targets):
        raise ConfigError(
            f"DIN pairs history_features with target_features, got {len(history)} and {len(targets)} features"
        )
    for hist, target in zip(history, targets, strict=True):
        if not isinstance(hist, SequenceFeature):
            raise ConfigError(f"DIN: history feature {hist.name!r} must be a SequenceFeature")
        if not isinstance(target, SparseFeature) or target.embed_dim != hist.embed_dim:
            raise ConfigError(
                f"DIN: target {target.name!r} must be a SparseFeature with the embed_dim of history "
                f"{hist.name!r} ({hist.embed_dim}), got {target!r}"
            )
