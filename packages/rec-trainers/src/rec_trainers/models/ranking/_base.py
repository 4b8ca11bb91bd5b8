"""The common base of the CTR ranking models: registry name, logits out, ``from_features``."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from torch import nn

from rec_core.errors import ConfigError
from rec_core.features import DenseFeature, SequenceFeature, SparseFeature
from rec_trainers.layers._features import Feature, check_features
from rec_trainers.layers.mlp import MLP

__all__ = [
    "DEFAULT_MLP_PARAMS", "LINEAR_INITS", "MLP_KEYS", "RankingModel", "build_mlp", "init_linear_layers", "split_kinds",
]

DEFAULT_MLP_PARAMS: dict[str, Any] = {"dims": [256, 128], "dropout": 0.2}
LINEAR_INITS = ("xavier_normal", "xavier_uniform")
MLP_KEYS = ("activation", "batch_norm", "dims", "dropout", "output_layer")

ModelT = TypeVar("ModelT", bound="RankingModel")


class RankingModel(nn.Module):
    """Base class of the CTR models: ``forward(x_dict)`` returns logits of shape ``(B,)``.

    Unlike torch-rechub, no model applies a sigmoid: train with
    ``BCEWithLogitsLoss`` and call ``torch.sigmoid`` for probabilities. Logits keep the
    loss numerically stable and let bf16/fp16 autocast run safely.

    Subclasses set :attr:`default_params` (the defaults of :meth:`from_features`) and
    implement :meth:`feature_args`; their registry names are declared once, where
    ``rec_trainers.plugin`` registers them.
    """

    default_params: ClassVar[Mapping[str, Any]] = {}

    @classmethod
    def from_features(cls: type[ModelT], features: Iterable[Feature], **params: Any) -> ModelT:
        """Build the model from one flat list of features, with sensible defaults.

        The list is split into the constructor's feature groups by
        :meth:`feature_args`; ``params`` replace entries of :attr:`default_params`
        (a dict such as ``mlp_params`` is replaced whole, not merged).

        Args:
            features: Sparse, sequence and dense feature definitions.
            **params: Constructor arguments other than the feature groups, and
                ``linear_init``: re-initialise every ``nn.Linear`` with one of
                :data:`LINEAR_INITS` (biases zero); ``None`` (default) keeps PyTorch's.

        Raises:
            ConfigError: For an unknown parameter or features the model cannot use.
        """
        features = check_features(features, cls.__name__)
        if not features:
            raise ConfigError(f"{cls.__name__} needs at least one feature")
        linear_init = params.pop("linear_init", None)
        unknown = sorted(set(params) - set(cls.default_params))
        if unknown:
            accepted = ", ".join(sorted([*cls.default_params, "linear_init"]))
            raise ConfigError(f"unknown parameter {unknown[0]!r} for {cls.__name__} (accepted: {accepted})")
        merged = {**copy.deepcopy(dict(cls.default_params)), **params}
        model = cls(**cls.feature_args(features), **merged)
        if linear_init is not None:
            init_linear_layers(model, linear_init)
        return model

    @classmethod
    def feature_args(cls, features: list[Feature]) -> dict[str, Sequence[Feature]]:
        """Map a flat feature list onto the constructor's feature arguments."""
        raise NotImplementedError


def init_linear_layers(model: nn.Module, scheme: str) -> None:
    """Re-initialise the weights of every ``nn.Linear`` in ``model`` by ``scheme``, and zero their biases.

    ``"xavier_normal"`` is FuxiCTR's (and so BARS's) initialisation of dense layers; with batch
    norm after each layer, larger starting weights than PyTorch's default mean smaller
    effective steps early on.

    Raises:
        ConfigError: For a scheme not in :data:`LINEAR_INITS`.
    """
    if scheme not in LINEAR_INITS:
        raise ConfigError(f"unknown linear_init {scheme!r} (available: {', '.join(LINEAR_INITS)})")
    init = getattr(nn.init, f"{scheme}_")
    for module in model.modules():
        if isinstance(module, nn.Linear):
            init(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def split_kinds(features: Iterable[Feature]) -> tuple[list[SparseFeature], list[SequenceFeature], list[DenseFeature]]:
    """Return the sparse, sequence and dense features, each in their original order."""
    features = list(features)
    return (
        [fea for fea in features if isinstance(fea, SparseFeature)],
        [fea for fea in features if isinstance(fea, SequenceFeature)],
        [fea for fea in features if isinstance(fea, DenseFeature)],
    )


def build_mlp(
    model: str,
    input_dim: int,
    mlp_params: Mapping[str, Any] | None,
    *,
    output_layer: bool = True,
    default_activation: str = "relu",
) -> MLP:
    """Build an :class:`MLP` from a torch-rechub ``mlp_params`` dict, checking its keys.

    Args:
        model: Model name, for messages.
        input_dim: Width of the MLP's input.
        mlp_params: ``{"dims": [...], "dropout": ..., "activation": ..., "batch_norm": ...}``.
        output_layer: Whether the model needs the MLP to end in one logit;
            ``mlp_params`` may repeat this value but not contradict it.
        default_activation: Activation used when ``mlp_params`` names none.

    Raises:
        ConfigError: For a missing dict, an unknown key, a contradicting
            ``output_layer``, or no hidden layer where the model needs one.
    """
    if not isinstance(mlp_params, Mapping):
        raise ConfigError(f"{model}: mlp_params must be a dict like {{'dims': [256, 128]}}, got {mlp_params!r}")
    unknown = sorted(set(mlp_params) - set(MLP_KEYS))
    if unknown:
        raise ConfigError(f"{model}: unknown mlp_params key {unknown[0]!r} (accepted: {', '.join(MLP_KEYS)})")
    args = {"activation": default_activation, **mlp_params}
    if args.setdefault("output_layer", output_layer) != output_layer:
        raise ConfigError(f"{model} needs mlp_params['output_layer']={output_layer}; remove the key")
    if not output_layer and not args.get("dims"):
        raise ConfigError(f"{model}: mlp_params['dims'] needs at least one hidden layer size")
    return MLP(input_dim, **args)
