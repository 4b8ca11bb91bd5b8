"""``TrainingConfig.compile_model``: run the training network through ``torch.compile``.

On CUDA the mode is ``"reduce-overhead"``, which replays the compiled forward and backward as
CUDA graphs (the launch-bound small-op steps of recommenders are where that pays); elsewhere
the default mode. Off by default: on the project's 2-core CPUs it gained nothing after ~20 s of
compiling (DSSM 5.33 vs 5.70 ms a step, DeepFM 60.5 vs 57.7 ms); on a GPU it is unmeasured.
The model's own parameters are trained either way, so checkpoints are unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["compile_network"]


def compile_network(network: nn.Module, enabled: bool, device: torch.device) -> nn.Module:
    """Return ``torch.compile(network)`` (mode chosen for ``device``) when ``enabled``, else ``network``."""
    if not enabled:
        return network
    return torch.compile(network, mode="reduce-overhead" if device.type == "cuda" else None)  # type: ignore[return-value]
