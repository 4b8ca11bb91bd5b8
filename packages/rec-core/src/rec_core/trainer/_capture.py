"""``TrainingConfig.capture_step``: the whole training step replayed as one CUDA graph.

A recommender's step on a GPU is launch-bound: dozens of small kernels whose launch costs
more than their work. Capturing forward, backward, gradient clipping and the optimizer update
once, and replaying that graph for every full batch, removes the launches (the issue measured
the captured plain loop at 3.2M samples/s against 0.73M eager on an H200, batch 2048).

How a fit runs with it:

1. the first :data:`WARMUP_STEPS` batches train eagerly on a side stream (the optimizer builds
   its state, cuBLAS its workspaces), as PyTorch's whole-network capture recipe asks;
2. the next batch is copied into static tensors and the step is captured, then replayed;
3. every later batch of the same shapes is copied into those tensors and the graph replayed;
   a batch of other shapes (the last, partial one) trains eagerly, so no row is dropped.

The optimizers run graph-safe for the fit (``capturable=True``, the learning rate a device
tensor that schedulers update in place) and are given back as they were built; checkpoints
hold the plain settings, so a captured run's checkpoint resumes eagerly and the other way round.

What cannot be captured is refused before training (:func:`capture_blocker`: a CPU device,
DDP, gradient accumulation, fp16's host-side scaler checks, an optimizer without a
``capturable`` mode, ``compile_model``). What only shows while training (a multi-part loss, a
host tensor in the batch, an op that waits on the host inside the step) makes the run continue
eagerly with one warning that says why. Off by default: unlike the eager GPU path, this one
has not yet been measured on a GPU by the project (``benchmarks/ctr_throughput.py --device
cuda`` prints the captured ceiling next to ``rec``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils._pytree import tree_flatten, tree_unflatten

__all__ = ["WARMUP_STEPS", "CaptureStats", "CapturedStep", "CudaGraph", "GraphSafeOptimizers", "capture_blocker",
           "side_stream"]

WARMUP_STEPS = 3
"""Eager steps on a side stream before the capture (PyTorch's recipe uses three)."""


def capture_blocker(trainer: Any) -> str | None:
    """Return why ``trainer``'s training step cannot be captured, or ``None`` when it can.

    Reads ``device``, ``config``, ``precision.scaler``, ``dist.is_distributed`` and
    ``optimizers``: everything known before the first batch.
    """
    config = trainer.config
    if trainer.device.type != "cuda":
        return f"needs a CUDA device (this run trains on {trainer.device.type})"
    if config.compile_model:
        return "compile_model already replays the step as CUDA graphs through torch.compile; set one of the two"
    if config.accumulate_grad_batches != 1:
        return "accumulate_grad_batches must be 1 (a captured step always ends with the optimizer update)"
    if trainer.precision.scaler is not None:
        return "fp16's gradient scaler checks the gradients on the host every step; use precision 'bf16' or 32"
    if trainer.dist.is_distributed:
        return "DDP runs are not captured (their gradient all-reduce is outside the step)"
    for optimizer in trainer.optimizers:
        if "capturable" not in optimizer.defaults:
            return f"optimizer {type(optimizer).__name__} has no capturable mode (Adam, AdamW and RMSprop have one)"
    return None


class CudaGraph:
    """``fn``'s CUDA work captured once (not run); ``replay()`` runs it, ``output`` is what it returned."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self._graph):
            self.output = fn()

    def replay(self) -> None:
        """Run the captured work again, on whatever the static tensors now hold."""
        self._graph.replay()


@contextlib.contextmanager
def side_stream(device: torch.device) -> Iterator[None]:
    """Run the block on a fresh side stream of ``device``, ordered after and before the current one."""
    side = torch.cuda.Stream(device)
    current = torch.cuda.current_stream(device)
    side.wait_stream(current)
    with torch.cuda.stream(side):
        yield
    current.wait_stream(side)


@dataclasses.dataclass(frozen=True)
class CaptureStats:
    """How the steps of a ``capture_step`` fit ran (``BaseTrainer.capture_stats`` after ``fit``)."""

    replays: int
    """Steps run by replaying the captured graph."""
    eager_steps: int
    """Steps run eagerly: the warm-up, batches of other shapes, all of them after a fallback."""
    fallback: str | None
    """Why the run went on eagerly, or ``None`` when the graph served every full batch."""


class GraphSafeOptimizers:
    """Put optimizers in their graph-safe mode for a fit and give them back as they were built.

    Graph-safe means ``capturable=True`` (step counters on the device, no host reads) and the
    learning rate a 0-d device tensor: a captured graph reads the tensor on every replay, so
    a scheduler's in-place update reaches the captured step (a float would be baked in).
    """

    def __init__(self, optimizers: list[torch.optim.Optimizer], device: torch.device) -> None:
        self.optimizers = optimizers
        self._original: list[list[tuple[bool, bool]]] = []  # per group: (lr was a float, capturable)
        for optimizer in optimizers:
            groups = []
            for group in optimizer.param_groups:
                was_float = not isinstance(group["lr"], torch.Tensor)
                groups.append((was_float, bool(group.get("capturable", False))))
                group["capturable"] = True
                if was_float:
                    group["lr"] = torch.tensor(float(group["lr"]), dtype=torch.float32, device=device)
            for state in optimizer.state.values():  # a resumed optimizer keeps its counters on the host
                step = state.get("step")
                if isinstance(step, torch.Tensor) and step.device != device:
                    state["step"] = step.to(device)
            optimizer._warned_capturable_if_run_uncaptured = True  # type: ignore[attr-defined]  # warm-up is eager
            self._original.append(groups)

    def plain_state(self, index: int) -> dict[str, Any]:
        """Return ``optimizers[index].state_dict()`` with the settings it was built with."""
        state = self.optimizers[index].state_dict()
        for saved, (was_float, capturable) in zip(state["param_groups"], self._original[index], strict=True):
            saved["capturable"] = capturable
            if was_float:
                saved["lr"] = float(saved["lr"])
        return state

    def restore(self) -> None:
        """Give every group back its float learning rate (where the schedulers left it) and flag."""
        for optimizer, groups in zip(self.optimizers, self._original, strict=True):
            for group, (was_float, capturable) in zip(optimizer.param_groups, groups, strict=True):
                group["capturable"] = capturable
                if was_float:
                    group["lr"] = float(group["lr"])


class CapturedStep:
    """Run a trainer's training steps through one captured CUDA graph (see the module docstring).

    The trainer supplies ``_eager_step(batch)`` (forward, backward, update, zeroed gradients),
    ``_forward_backward``, ``_update_parameters`` and ``_finish_optimizer_step`` (counters and
    per-step schedulers), ``optimizers``, ``model`` and ``loss_weighter``.
    """

    def __init__(self, trainer: Any) -> None:
        self.trainer = trainer
        self.device: torch.device = trainer.device
        self.optimizers = GraphSafeOptimizers(trainer.optimizers, self.device)
        trainer.precision.cache_casts = False  # autocast's weight-cast cache must be off around a graph
        self.replays = 0
        self.eager_steps = 0
        self.gave_up: str | None = None
        self._warmed = 0
        self._signature: Any = None
        self._graph: Any = None
        self._static: list[torch.Tensor] = []
        self._static_grads: list[torch.Tensor | None] = []  # the graph's gradient buffers, kept alive

    def run(self, batch: Any) -> torch.Tensor:
        """Train on ``batch`` (already on the device) and return its detached loss."""
        leaves, spec = tree_flatten(batch)
        signature = _signature(leaves, spec)
        if self._signature is None:
            self._signature = signature  # the first batch's: a full one, what the graph is captured for
        if self._graph is not None and signature == self._signature:
            for static, value in zip(self._static, leaves, strict=True):
                static.copy_(value, non_blocking=True)
            return self._replay()
        if self._graph is not None or self.gave_up is not None:
            return self._eager(batch)  # another shape (the last partial batch) or no graph
        if self._warmed < WARMUP_STEPS or signature != self._signature:  # capture a full batch, not a last one
            self._warmed += 1
            return self._on_side_stream(batch)
        return self._capture(batch, leaves, spec)

    def release(self) -> CaptureStats:
        """Drop the graph, give the optimizers back their settings and report (end of fit)."""
        self._graph, self._static, self._static_grads = None, [], []
        self.optimizers.restore()
        self.trainer.precision.cache_casts = True
        return CaptureStats(replays=self.replays, eager_steps=self.eager_steps, fallback=self.gave_up)

    # -- the three kinds of step ------------------------------------------------------
    def _replay(self) -> torch.Tensor:
        assert self._graph is not None
        self._graph.replay()
        self._drop_grads()  # as after an eager step: no .grad between steps
        self.trainer._finish_optimizer_step()
        self.replays += 1
        return self._graph.output.clone()  # the next replay overwrites the static loss

    def _eager(self, batch: Any) -> torch.Tensor:
        self.eager_steps += 1
        return self.trainer._eager_step(batch)

    def _on_side_stream(self, batch: Any) -> torch.Tensor:
        with side_stream(self.device):
            return self._eager(batch)

    def _capture(self, batch: Any, leaves: list[Any], spec: Any) -> torch.Tensor:
        reason = self._runtime_blocker(leaves)
        if reason is not None:
            return self._give_up(reason, batch)
        trainer = self.trainer
        self._static = [leaf.clone() for leaf in leaves]
        static_batch = tree_unflatten(self._static, spec)
        for optimizer in trainer.optimizers:
            optimizer.zero_grad(set_to_none=True)

        def step() -> torch.Tensor:
            loss = trainer._forward_backward(static_batch, sync=True, scale=1.0)
            trainer._update_parameters()
            return loss

        try:
            self._graph = CudaGraph(step)
        except RuntimeError as exc:  # an op that reads a value on the host, a host tensor, ...
            for optimizer in trainer.optimizers:
                optimizer.zero_grad(set_to_none=True)
            self._static = []
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return self._give_up(f"the capture failed ({message})", batch)
        self._static_grads = [p.grad for p in trainer.model.parameters()]
        return self._replay()  # the capture recorded the step; the replay runs it

    def _runtime_blocker(self, leaves: list[Any]) -> str | None:
        if self.trainer.loss_weighter is not None:
            return "a multi-part loss goes through a loss weighter, which is not captured"
        for leaf in leaves:
            if not isinstance(leaf, torch.Tensor):
                return f"the batch holds a {type(leaf).__name__}, not only tensors"
            if leaf.device.type != self.device.type:
                where = leaf.device.type
                return f"the batch holds {where} tensors (transfer_batch must move every tensor to the device)"
        return None

    def _give_up(self, reason: str, batch: Any) -> torch.Tensor:
        self.gave_up = reason
        warnings.warn(f"capture_step: this run trains eagerly: {reason}", RuntimeWarning, stacklevel=4)
        return self._eager(batch)

    def _drop_grads(self) -> None:
        for parameter in self.trainer.model.parameters():
            parameter.grad = None


def _signature(leaves: list[Any], spec: Any) -> tuple[Any, ...]:
    """Return the batch's structure and its tensors' shapes, dtypes and devices (what a graph is fixed to)."""
    return (spec, *((leaf.shape, leaf.dtype, leaf.device) if isinstance(leaf, torch.Tensor) else None
                    for leaf in leaves))
