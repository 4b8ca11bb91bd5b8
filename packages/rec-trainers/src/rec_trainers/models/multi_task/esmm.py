"""ESMM: CTR and CVR towers over shared embeddings, trained on CTR and CTCVR over the entire space."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from rec_core.errors import ConfigError
from rec_trainers.layers._features import Feature, flat_dim
from rec_trainers.layers.embedding import EmbeddingLayer
from rec_trainers.models.multi_task._base import MultiTaskModel, check_task_types, input_features, trainable_parameters
from rec_trainers.models.ranking._base import build_mlp

__all__ = ["ESMM", "ESMM_OUTPUTS", "ctcvr_logit"]

ESMM_OUTPUTS = ("cvr", "ctr", "ctcvr")
"""The columns ESMM can return: torch-rechub's order, which is the default."""


def ctcvr_logit(ctr_logit: torch.Tensor, cvr_logit: torch.Tensor) -> torch.Tensor:
    """Return ``logit(sigmoid(ctr_logit) * sigmoid(cvr_logit))``, stable for any finite inputs.

    With ``p = σ(a)σ(b)``: ``(1 - p) / p = e^-a + e^-b + e^-(a+b)``, so
    ``logit(p) = -logsumexp(-a, -b, -a-b)`` — the same value as
    ``log p - log(1 - p)`` with ``log p = logσ(a) + logσ(b)``, but without the
    cancellation in ``1 - p`` when both probabilities are near 1. Computed in float32
    (or float64 for float64 inputs), also under autocast.
    """
    dtype = torch.promote_types(torch.promote_types(ctr_logit.dtype, cvr_logit.dtype), torch.float32)
    a, b = ctr_logit.to(dtype), cvr_logit.to(dtype)
    return -torch.logsumexp(torch.stack([-a, -b, -(a + b)]), dim=0)


class ESMM(MultiTaskModel):
    """Model post-click conversion over the entire impression space (Ma et al., SIGIR 2018).

    A CTR tower and a CVR tower read the same embeddings; ``pCTCVR = pCTR × pCVR``.
    As in the paper, the losses are taken on impressions for the click (label: clicked)
    and the click-and-convert (label: clicked and converted) only, so the CVR tower
    learns through the product: :attr:`trained_tasks` names those two outputs, and the
    MTL trainer computes no loss on a CVR output (it still reports its metrics).

    ``forward(x)`` returns ``(B, len(outputs))`` **logits** (the CTCVR one from
    :func:`ctcvr_logit`), by default ``[CVR, CTR, CTCVR]`` in torch-rechub's order, so a
    torch-rechub script with its three labels ports unchanged (torch-rechub returned
    probabilities and also trained the CVR output over all impressions).

    Args:
        user_features: Features of the user side.
        item_features: Features of the item side (either side may be empty, not both).
        cvr_params: The CVR tower MLP, e.g. ``{"dims": [128, 64]}`` (ends in one unit).
        ctr_params: The CTR tower MLP.
        outputs: Which of ``"cvr"``, ``"ctr"``, ``"ctcvr"`` to return, in order; it must
            hold ``"ctr"`` and ``"ctcvr"``.

    Shared parameters: the embeddings (the only layer both towers use); they are also
    the last shared layer. ``from_features`` takes ``task_types`` of two classification
    tasks (click, then click-and-purchase: outputs ``("ctr", "ctcvr")``) or three (CVR,
    click, click-and-purchase: torch-rechub's layout), an optional ``user_features``
    (names of the user-side features; default: all features); defaults
    ``cvr_params = ctr_params = {"dims": [128, 64], "dropout": 0.2}``.
    """

    default_params: ClassVar[Mapping[str, Any]] = {
        "user_features": None,
        "cvr_params": {"dims": [128, 64], "dropout": 0.2},
        "ctr_params": {"dims": [128, 64], "dropout": 0.2},
    }

    def __init__(
        self,
        user_features: Iterable[Feature],
        item_features: Iterable[Feature],
        cvr_params: Mapping[str, Any],
        ctr_params: Mapping[str, Any],
        outputs: Sequence[str] = ESMM_OUTPUTS,
    ) -> None:
        super().__init__()
        self.outputs = list(outputs)
        if not {"ctr", "ctcvr"} <= set(self.outputs) or not set(self.outputs) <= set(ESMM_OUTPUTS) or len(
                set(self.outputs)) != len(self.outputs):
            raise ConfigError(f"ESMM outputs must name 'ctr' and 'ctcvr' (and optionally 'cvr') once each, "
                              f"got {self.outputs}")
        self.trained_tasks = (self.outputs.index("ctr"), self.outputs.index("ctcvr"))
        self.user_features = list(user_features)
        self.item_features = list(item_features)
        self.features = input_features("ESMM", self.user_features + self.item_features)
        self.task_types = ["classification"] * len(self.outputs)
        self.n_task = len(self.outputs)
        self.embedding = EmbeddingLayer(self.features)
        input_dim = flat_dim(self.features)
        self.tower_cvr = build_mlp("ESMM cvr_params", input_dim, cvr_params, output_layer=True)
        self.tower_ctr = build_mlp("ESMM ctr_params", input_dim, ctr_params, output_layer=True)

    @classmethod
    def constructor_args(cls, features: list[Feature], task_types: list[str], params: dict[str, Any]) -> dict[str, Any]:
        """Split ``features`` into user and item sides by ``user_features`` (names)."""
        types = check_task_types("ESMM", task_types, only="classification")
        if len(types) not in (2, 3):
            raise ConfigError(f"ESMM needs two classification tasks (click, then click-and-purchase) or three "
                              f"(cvr, click, click-and-purchase), got {types}")
        params["outputs"] = ESMM_OUTPUTS[-len(types):]
        names = params.pop("user_features")
        if names is None:
            user, item = features, []
        else:
            if isinstance(names, str) or not isinstance(names, Sequence):
                raise ConfigError(f"ESMM: user_features must be a list of feature names, got {names!r}")
            available = [fea.name for fea in features]
            missing = [name for name in names if name not in available]
            if missing:
                raise ConfigError(f"ESMM: user feature {missing[0]!r} is not among the features "
                                  f"({', '.join(available)})")
            user = [fea for fea in features if fea.name in names]
            item = [fea for fea in features if fea.name not in names]
        return {"user_features": user, "item_features": item, **params}

    def tower_logits(self, x: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the CTR and CVR towers' logits, each ``(B,)``."""
        hidden = self.embedding.flat(x, self.features)
        return self.tower_ctr(hidden).squeeze(1), self.tower_cvr(hidden).squeeze(1)

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Return ``(B, len(outputs))`` logits, by default CVR, CTR and CTCVR."""
        ctr, cvr = self.tower_logits(x)
        ctcvr = ctcvr_logit(ctr, cvr)
        columns = {"cvr": cvr.to(ctcvr.dtype), "ctr": ctr.to(ctcvr.dtype), "ctcvr": ctcvr}
        return torch.stack([columns[name] for name in self.outputs], dim=1)

    def shared_parameters(self) -> list[nn.Parameter]:
        """Return the embeddings' parameters."""
        return trainable_parameters(self.embedding)

    def last_shared_parameters(self) -> list[nn.Parameter]:
        """Return the embeddings' parameters (ESMM shares no other layer)."""
        return trainable_parameters(self.embedding)
