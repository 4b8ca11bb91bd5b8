"""Mixed precision: the autocast context and the gradient scaler for a precision setting."""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from rec_core.errors import ConfigError

__all__ = ["Precision"]

_DTYPES = {"32": None, "16": torch.float16, "16-mixed": torch.float16, "bf16": torch.bfloat16,
           "bf16-mixed": torch.bfloat16}


class Precision:
    """Autocast and gradient scaling for ``precision`` (32, 16/"16-mixed", "bf16").

    fp16 on CUDA uses a ``GradScaler`` (gradients are unscaled before clipping); bf16 needs
    none. On CPU, fp16 autocast runs without a scaler.
    """

    def __init__(self, precision: int | str, device: torch.device) -> None:
        key = str(precision)
        if key not in _DTYPES:
            raise ConfigError(f"unsupported precision {precision!r} (use 32, 16 or 'bf16')")
        self.dtype = _DTYPES[key]
        self.device_type = device.type
        use_scaler = self.dtype is torch.float16 and device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None
        self.cache_casts = True
        """Let autocast keep the low-precision copies of the weights within a forward pass; a
        captured step turns it off (PyTorch's CUDA-graph rule for autocast)."""

    def autocast(self) -> Any:
        """Return the context manager to run forward passes in."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype, cache_enabled=self.cache_casts)

    def backward(self, loss: torch.Tensor, *, retain_graph: bool = False) -> None:
        """Back-propagate ``loss`` (scaled when a scaler is active)."""
        (self.scaler.scale(loss) if self.scaler else loss).backward(retain_graph=retain_graph)

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        """Unscale the gradients of ``optimizer`` in place (before clipping)."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """Step ``optimizer`` (skipped by the scaler on inf/NaN gradients)."""
        if self.scaler is not None:
            self.scaler.step(optimizer)
        else:
            optimizer.step()

    def update(self) -> None:
        """Update the scale factor after all optimizers stepped."""
        if self.scaler is not None:
            self.scaler.update()
