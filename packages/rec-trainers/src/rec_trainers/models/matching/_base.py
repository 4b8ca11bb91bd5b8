"""The contract of the two-tower retrieval models (task ``match``) and what they share.

Every model keeps torch-rechub's ``mode`` protocol: set ``model.mode`` to ``"user"``,
``"item"`` or ``None`` and call ``model(x)``. Independently of ``mode`` it also offers

* :meth:`MatchModel.user_tower` -> ``(B, d)``, or ``(B, K, d)`` for multi-interest models;
* :meth:`MatchModel.item_tower` -> ``(N, d)`` for ``N`` item rows;
* :meth:`MatchModel.score_items` -> ``(B, N)`` retrieval scores of users against items;
* :meth:`MatchModel.from_features`, which splits one flat feature list by naming convention.

Batches are dicts ``{feature name: tensor}`` as described in
:mod:`rec_trainers.layers.embedding` (sequences padded with id 0).
"""

from __future__ import annotations

import copy
import dataclasses
import operator
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn
from torch.nn import functional as F

from rec_core.errors import ConfigError, DataError
from rec_core.features import SequenceFeature, SparseFeature
from rec_trainers.layers._features import Feature, check_features
from rec_trainers.layers.embedding import EmbeddingLayer
from rec_trainers.layers.mlp import MLP

__all__ = [
    "HISTORY_PREFIX",
    "ITEM_PREFIX",
    "NEGATIVE_PREFIX",
    "MatchFeatures",
    "MatchModel",
    "check_positive_int",
    "check_temperature",
    "listwise_features",
    "pooled_history",
    "split_match_features",
    "tower_mlp",
]

ITEM_PREFIX = "item"
HISTORY_PREFIX = "hist_"
NEGATIVE_PREFIX = "neg_"
TOWER_KEYS = ("activation", "batch_norm", "dims", "dropout", "output_layer")

ModelT = TypeVar("ModelT", bound="MatchModel")


@dataclasses.dataclass
class MatchFeatures:
    """One flat feature list split into the roles of a two-tower model.

    Attributes:
        user: User-side features that are not the history.
        history: ``hist_*`` SequenceFeatures (the behaviour history).
        items: Item-side features (``item*`` names and the item id feature).
        item_id: The item id SparseFeature (named by ``item_feature``), or ``None``.
        negatives: ``neg_*`` SequenceFeatures holding sampled negative item ids.
    """

    user: list[Feature]
    history: list[SequenceFeature]
    items: list[Feature]
    item_id: SparseFeature | None
    negatives: list[SequenceFeature]


def split_match_features(features: Iterable[Feature], item_feature: str, owner: str) -> MatchFeatures:
    """Split a flat feature list by the naming convention of task ``match``.

    In this order: a SequenceFeature named ``neg_*`` holds negative item ids; a
    SequenceFeature named ``hist_*`` is the history; a feature named ``item_feature`` or
    starting with ``"item"`` is an item feature; every other feature is a user feature.

    Raises:
        ConfigError: If the feature named ``item_feature`` is not a SparseFeature.
    """
    groups = MatchFeatures(user=[], history=[], items=[], item_id=None, negatives=[])
    for fea in check_features(features, owner):
        if isinstance(fea, SequenceFeature) and fea.name.startswith(NEGATIVE_PREFIX):
            groups.negatives.append(fea)
        elif isinstance(fea, SequenceFeature) and fea.name.startswith(HISTORY_PREFIX):
            groups.history.append(fea)
        elif fea.name == item_feature or fea.name.startswith(ITEM_PREFIX):
            groups.items.append(fea)
        else:
            groups.user.append(fea)
    for fea in groups.items:
        if fea.name == item_feature:
            if not isinstance(fea, SparseFeature):
                raise ConfigError(f"{owner}: item_feature {item_feature!r} must be a SparseFeature, got {fea!r}")
            groups.item_id = fea
    return groups


def pooled_history(history: Iterable[SequenceFeature]) -> list[SequenceFeature]:
    """Return the histories, with ``pooling="concat"`` replaced by ``"mean"`` (pooled user towers)."""
    return [dataclasses.replace(fea, pooling="mean") if fea.pooling == "concat" else fea for fea in history]


def check_temperature(owner: str, temperature: float) -> float:
    """Return ``temperature`` as a float, checking that it is positive."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ConfigError(f"{owner}: temperature must be a positive number, got {temperature!r}")
    return float(temperature)


def check_positive_int(owner: str, option: str, value: Any) -> int:
    """Return ``value`` as an int >= 1, or raise a ConfigError naming ``owner`` and ``option``."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError:
        raise ConfigError(f"{owner}: {option} must be a positive integer, got {value!r}") from None
    if number < 1:
        raise ConfigError(f"{owner}: {option} must be a positive integer, got {value!r}")
    return number


def tower_mlp(owner: str, option: str, input_dim: int, params: Mapping[str, Any] | None) -> MLP:
    """Build a tower MLP (no output layer) from a torch-rechub ``user_params``/``item_params`` dict.

    Args:
        owner: Model name, for messages.
        option: Argument name (``"user_params"``), for messages.
        input_dim: Width of the tower's input.
        params: ``{"dims": [...], "activation": ..., "dropout": ..., "batch_norm": ...}``.

    Raises:
        ConfigError: For a non-dict, an unknown key or ``output_layer=True``.
    """
    if not isinstance(params, Mapping):
        raise ConfigError(f"{owner}: {option} must be a dict like {{'dims': [128, 64]}}, got {params!r}")
    unknown = sorted(set(params) - set(TOWER_KEYS))
    if unknown:
        raise ConfigError(f"{owner}: unknown {option} key {unknown[0]!r} (accepted: {', '.join(TOWER_KEYS)})")
    args = dict(params)
    if args.pop("output_layer", False):
        raise ConfigError(f"{owner}: {option}['output_layer'] must be False (a tower outputs an embedding)")
    return MLP(input_dim, output_layer=False, **args)


def listwise_features(
    owner: str, item_features: Sequence[Feature], neg_item_feature: Sequence[Feature]
) -> tuple[SparseFeature, SequenceFeature | None]:
    """Return the one item id feature and the optional negatives feature of a list-wise model.

    Raises:
        ConfigError: If there is not exactly one SparseFeature item feature or more than
            one SequenceFeature of negatives.
    """
    items = check_features(item_features, owner)
    if len(items) != 1 or not isinstance(items[0], SparseFeature):
        raise ConfigError(f"{owner}: item_features must be one SparseFeature (the item id), got {items!r}")
    negs = check_features(neg_item_feature, owner)
    if len(negs) > 1 or (negs and not isinstance(negs[0], SequenceFeature)):
        raise ConfigError(f"{owner}: neg_item_feature must be one SequenceFeature (or empty), got {negs!r}")
    return items[0], (negs[0] if negs else None)


class MatchModel(nn.Module):
    """Base of the two-tower models: ``mode`` dispatch, candidate scoring, ``from_features``.

    ``forward(x)`` returns :meth:`user_tower` when ``mode == "user"``, :meth:`item_tower`
    when ``mode == "item"`` and :meth:`training_logits` when ``mode is None``. Outputs are
    logits, never sigmoid/softmax probabilities.

    Subclasses set :attr:`listwise`, :attr:`multi_interest`, :attr:`default_params`
    (and :attr:`required_params`), implement the towers, :meth:`training_logits` and
    :meth:`feature_args`.
    """

    #: Training output: ``(B, 1 + n_neg)`` logits with the positive in column 0 (True),
    #: or one point-wise logit ``(B,)`` per (user, item) row (False).
    listwise: ClassVar[bool] = True
    #: Whether :meth:`user_tower` returns ``(B, K, d)`` (one vector per interest).
    multi_interest: ClassVar[bool] = False
    #: Defaults :meth:`from_features` fills in.
    default_params: ClassVar[Mapping[str, Any]] = {}
    #: Constructor options :meth:`from_features` cannot guess and needs from the caller.
    required_params: ClassVar[tuple[str, ...]] = ()

    #: ``"user"``, ``"item"`` or ``None`` (training), as in torch-rechub.
    mode: str | None
    #: Width ``d`` of the user and item embeddings.
    output_dim: int
    temperature: float
    embedding: EmbeddingLayer

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return user embeddings, item embeddings or training logits, depending on :attr:`mode`."""
        if self.mode == "user":
            return self.user_tower(x)
        if self.mode == "item":
            return self.item_tower(x)
        if self.mode is None:
            return self.training_logits(x)
        raise ConfigError(f"{type(self).__name__}: mode must be 'user', 'item' or None, got {self.mode!r}")

    def user_tower(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the L2-normalised user embeddings ``(B, d)`` (``(B, K, d)`` if multi-interest)."""
        raise NotImplementedError

    def item_tower(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the L2-normalised embeddings ``(N, d)`` of the item rows of ``x``."""
        raise NotImplementedError

    def training_logits(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the training output (see :attr:`listwise`), divided by the temperature."""
        raise NotImplementedError

    @staticmethod
    def score_items(user_emb: torch.Tensor, item_emb: torch.Tensor) -> torch.Tensor:
        """Return retrieval scores ``(B, N)`` of users against items (dot products, no temperature).

        For multi-interest embeddings ``(B, K, d)`` a user's score for an item is the
        maximum over its interests. All-zero interest rows (inactive interests of MIND's
        ``dynamic_interest``) never win the maximum.

        Args:
            user_emb: ``(B, d)`` or ``(B, K, d)`` from :meth:`user_tower`.
            item_emb: ``(N, d)`` from :meth:`item_tower`.
        """
        if item_emb.dim() != 2:
            raise DataError(f"score_items needs item embeddings (N, d), got {tuple(item_emb.shape)}")
        if user_emb.dim() == 2:
            return user_emb @ item_emb.T
        if user_emb.dim() != 3:
            raise DataError(f"score_items needs user embeddings (B, d) or (B, K, d), got {tuple(user_emb.shape)}")
        scores = torch.einsum("bkd,nd->bkn", user_emb, item_emb)
        active = user_emb.ne(0).any(dim=-1, keepdim=True)
        return scores.masked_fill(~active, float("-inf")).amax(dim=1)

    def id_embeddings(self, x: Mapping[str, torch.Tensor], feature: SparseFeature) -> torch.Tensor:
        """Return the L2-normalised id embeddings ``(N, d)`` of the item id feature."""
        return F.normalize(self.embedding.pooled(x, feature), p=2, dim=-1)

    def candidate_embeddings(
        self, x: Mapping[str, torch.Tensor], item: SparseFeature, negatives: SequenceFeature | None
    ) -> torch.Tensor:
        """Return the normalised embeddings ``(B, 1 + n_neg, d)`` of ``[positive, negatives...]``.

        Raises:
            ConfigError: If the model has no negatives feature.
        """
        if negatives is None:
            raise ConfigError(
                f"{type(self).__name__}: the training forward (mode=None) needs neg_item_feature; "
                "without one, score user_tower() against item_tower() (in-batch negatives)"
            )
        pos = self.id_embeddings(x, item).unsqueeze(1)
        neg, _ = self.embedding.sequence(x, negatives)
        if neg.shape[0] != pos.shape[0]:
            raise DataError(f"{negatives.name!r} has {neg.shape[0]} rows but {item.name!r} has {pos.shape[0]}")
        return torch.cat([pos, F.normalize(neg, p=2, dim=-1)], dim=1)

    def check_shared_negatives(self, item: SparseFeature, negatives: SequenceFeature | None) -> None:
        """Check that the negatives are looked up in the item id's table."""
        if negatives is not None and self.embedding.owner(negatives) != self.embedding.owner(item):
            raise ConfigError(
                f"{type(self).__name__}: neg_item_feature {negatives.name!r} must share the table of "
                f"{item.name!r} (set shared_with={item.name!r})"
            )

    @classmethod
    def from_features(
        cls: type[ModelT], features: Iterable[Feature], *, item_feature: str = "item_id", **params: Any
    ) -> ModelT:
        """Build the model from one flat feature list, split by naming convention.

        The convention (see :func:`split_match_features`): ``neg_*`` SequenceFeatures hold
        negative item ids, ``hist_*`` SequenceFeatures are the history (usually
        ``shared_with=item_feature``), features named ``item_feature`` or starting with
        ``"item"`` are item features and the rest user features. How each model uses the
        groups is described by its :meth:`feature_args`.

        Args:
            features: Sparse, sequence and dense feature definitions.
            item_feature: Name of the item id SparseFeature.
            **params: Constructor options other than the feature groups; they replace
                entries of :attr:`default_params` (a dict is replaced whole).

        Raises:
            ConfigError: For an unknown or missing option, or features the model cannot use.
        """
        groups = split_match_features(features, item_feature, cls.__name__)
        accepted = set(cls.default_params) | set(cls.required_params)
        unknown = sorted(set(params) - accepted)
        if unknown:
            raise ConfigError(
                f"unknown parameter {unknown[0]!r} for {cls.__name__} (accepted: {', '.join(sorted(accepted))})"
            )
        missing = [name for name in cls.required_params if name not in params]
        if missing:
            raise ConfigError(f"{cls.__name__}.from_features needs the option {missing[0]!r}")
        merged = {**cls.auto_params(groups, item_feature), **params}
        return cls(**cls.feature_args(groups, item_feature), **merged)

    @classmethod
    def auto_params(cls, groups: MatchFeatures, item_feature: str) -> dict[str, Any]:
        """Return the defaults of :meth:`from_features` (a deep copy of :attr:`default_params`)."""
        return copy.deepcopy(dict(cls.default_params))

    @classmethod
    def feature_args(cls, groups: MatchFeatures, item_feature: str) -> dict[str, list[Feature]]:
        """Map the split feature groups onto the constructor's feature arguments."""
        raise NotImplementedError

    @classmethod
    def require_item_id(cls, groups: MatchFeatures, item_feature: str) -> SparseFeature:
        """Return the item id feature of ``groups``, or raise a ConfigError naming the option."""
        if groups.item_id is None:
            names = ", ".join(fea.name for fea in [*groups.user, *groups.history, *groups.items]) or "none"
            raise ConfigError(
                f"{cls.__name__}: no item_feature {item_feature!r} among the features ({names}); "
                "pass item_feature=<name of the item id feature>"
            )
        return groups.item_id
