"""DCN-V2: full-rank or mixture-of-low-rank cross networks, stacked or parallel with an MLP."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from rec_core.errors import ConfigError
from rec_trainers.layers._features import Feature, check_pooled, flat_dim
from rec_trainers.layers.cross import CrossNetMix, CrossNetV2
from rec_trainers.layers.embedding import EmbeddingLayer
from rec_trainers.layers.mlp import MLP
from rec_trainers.models.ranking._base import DEFAULT_MLP_PARAMS, RankingModel, build_mlp

__all__ = ["DCNv2"]

MODEL_STRUCTURES = ("crossnet_only", "parallel", "stacked")


class DCNv2(RankingModel):
    """Improve DCN with matrix-valued cross layers (Wang et al., WWW 2021).

    The cross network is :class:`~rec_trainers.layers.CrossNetMix` (a gated mixture
    of low-rank experts) or, with ``use_low_rank_mixture=False``, the full-rank
    :class:`~rec_trainers.layers.CrossNetV2`. ``model_structure`` wires it to the
    MLP (which has no output unit):

    * ``"parallel"``: cross network and MLP both read the flat input; their outputs
      are concatenated;
    * ``"stacked"``: the MLP reads the cross network's output;
    * ``"crossnet_only"``: no MLP (``mlp_params`` is ignored and may be ``None``).

    A linear layer maps the result to the logit.

    ``forward(x)`` returns **logits** of shape ``(B,)``, not probabilities: use
    ``BCEWithLogitsLoss`` and ``torch.sigmoid`` (torch-rechub's models returned
    sigmoid outputs).

    Args:
        features: All features of the model.
        n_cross_layers: Number of cross layers.
        mlp_params: The MLP, e.g. ``{"dims": [256, 128], "dropout": 0.2}``.
        model_structure: ``"parallel"``, ``"stacked"`` or ``"crossnet_only"``.
        use_low_rank_mixture: Use the mixture of low-rank experts.
        low_rank: Rank of each expert.
        num_experts: Number of experts per cross layer.

    ``from_features`` defaults: ``n_cross_layers=3``,
    ``mlp_params={"dims": [256, 128], "dropout": 0.2}``,
    ``model_structure="parallel"``, ``use_low_rank_mixture=True``, ``low_rank=32``,
    ``num_experts=4``.

    Raises:
        ConfigError: For an unknown ``model_structure``.
    """

    default_params: ClassVar[Mapping[str, Any]] = {
        "n_cross_layers": 3,
        "mlp_params": DEFAULT_MLP_PARAMS,
        "model_structure": "parallel",
        "use_low_rank_mixture": True,
        "low_rank": 32,
        "num_experts": 4,
    }

    def __init__(
        self,
        features: Iterable[Feature],
        n_cross_layers: int,
        mlp_params: Mapping[str, Any] | None,
        model_structure: str = "parallel",
        use_low_rank_mixture: bool = True,
        low_rank: int = 32,
        num_experts: int = 4,
    ) -> None:
        super().__init__()
        if model_structure not in MODEL_STRUCTURES:
            raise ConfigError(
                f"DCNv2: unknown model_structure {model_structure!r} (use one of {', '.join(MODEL_STRUCTURES)})"
            )
        self.features = list(features)
        self.model_structure = model_structure
        check_pooled(self.features, "DCNv2")
        self.dims = flat_dim(self.features)
        self.embedding = EmbeddingLayer(self.features)
        if use_low_rank_mixture:
            self.crossnet: nn.Module = CrossNetMix(self.dims, n_cross_layers, low_rank, num_experts)
        else:
            self.crossnet = CrossNetV2(self.dims, n_cross_layers)
        final_dim = self.dims
        self.mlp: MLP | None = None
        if model_structure != "crossnet_only":
            self.mlp = build_mlp("DCNv2", self.dims, mlp_params, output_layer=False)
            final_dim = self.mlp.output_dim + (self.dims if model_structure == "parallel" else 0)
        self.linear = nn.Linear(final_dim, 1)

    @classmethod
    def feature_args(cls, features: list[Feature]) -> dict[str, Sequence[Feature]]:
        """Use every feature."""
        return {"features": features}

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return the logits ``(B,)`` for the batch ``x``."""
        embed_x = self.embedding.flat(x, self.features)
        out = self.crossnet(embed_x)
        if self.mlp is not None:
            if self.model_structure == "stacked":
                out = self.mlp(out)
            else:
                out = torch.cat([out, self.mlp(embed_x)], dim=1)
        return self.linear(out).squeeze(1)
