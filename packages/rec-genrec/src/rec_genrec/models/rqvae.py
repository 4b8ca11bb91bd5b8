"""``RqVae``: a residual-quantised autoencoder that turns item embeddings into semantic IDs.

An MLP encoder maps an item's embedding to a latent vector; ``num_levels`` codebooks of
``num_embeddings`` codes quantise it residual by residual (level 0 quantises the latent,
level 1 what level 0 left over, ...); an MLP decoder reconstructs the embedding from the
sum of the chosen codes. The codes, one per level, are the item's semantic ID (TIGER,
Rajput et al. 2023). Gradients pass the quantiser by the straight-through estimator.

Training details that make the codebooks usable:

* k-means initialisation: the first forward pass in training mode fills each codebook with
  the k-means centroids of that level's residuals of the batch, level by level. A persistent
  buffer records that it happened, so a restored checkpoint is never re-initialised.
* dead-code reset: a code no row of the last ``dead_code_steps`` training batches chose is
  re-seeded with a random residual of the current batch at its level.

The module also holds the semantic-ID helpers: :func:`kmeans`,
:func:`append_collision_codes`, :func:`collision_rate` and :func:`codebook_perplexity`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rec_core.checkpoint import load_checkpoint, save_checkpoint, strip_module_prefix
from rec_core.errors import CheckpointError, ConfigError, DataError

__all__ = [
    "LOSS_PARTS",
    "RqVae",
    "RqVaeOutput",
    "append_collision_codes",
    "codebook_perplexity",
    "collision_rate",
    "kmeans",
]

LOSS_PARTS = ("reconstruction", "codebook", "commitment")
"""Names of the loss parts :class:`RqVae` returns, in order."""
_CHECKPOINT_KEY = "rqvae"


class RqVaeOutput(NamedTuple):
    """What :meth:`RqVae.forward` returns (unpacks as the genrec tuple of four).

    Attributes:
        reconstructed: ``(batch, input_dim)`` decoded embeddings.
        quantized: ``(batch, latent_dim)`` sum of the chosen codes (straight-through to the encoder).
        codes: ``(batch, num_levels)`` long tensor, the semantic IDs.
        losses: ``reconstruction`` (squared error summed over dimensions, mean over rows),
            ``codebook`` and ``commitment`` (the latter already times ``commitment_cost``),
            each a scalar; their sum is the training loss.
    """

    reconstructed: Tensor
    quantized: Tensor
    codes: Tensor
    losses: dict[str, Tensor]

    @property
    def loss(self) -> Tensor:
        """Return the training loss: the sum of the loss parts."""
        first, *rest = self.losses.values()
        return sum(rest, first)


class RqVae(nn.Module):
    """Residual-quantised VAE over item embeddings (the genrec ``RqVae``).

    The defaults are the TIGER paper's RQ-VAE (encoder 512-256-128 -> 32, 3 levels of 256
    codes) with a commitment weight of 1.0; on the 12,101 Amazon Beauty titles they give far
    fewer shared semantic IDs than the seed's single 512-wide layer and weight 0.25 (see
    :class:`~rec_genrec.trainers.rqvae.RQVAETrainingConfig` for the measurements).

    Args:
        input_dim: Size of the item embeddings (384 for all-MiniLM-L6-v2).
        hidden_dim: Width of the encoder's hidden layer, or a list of widths, outermost first
            (the decoder mirrors it). ``[]`` makes the encoder and decoder linear. Default
            ``(512, 256, 128)``, TIGER's encoder (the seed's was one 512-wide layer).
        latent_dim: Size of the latent vectors and of every code.
        num_embeddings: Codes per codebook.
        num_levels: Codebooks, i.e. the length of a semantic ID.
        commitment_cost: Weight of the commitment term (the encoder's pull towards its codes).
            Default 1.0 (the seed's was 0.25): it keeps the latents on their codes, so the
            codebook term stays small and fewer items end up sharing an ID.
        learning_rate: Stored only (genrec's scripts pass it); the trainer's config sets the
            optimiser's learning rate.
        kmeans_init: Fill the codebooks by k-means on the first training batch.
        kmeans_iters: Lloyd iterations of that k-means.
        dead_code_steps: Re-seed a code unused for this many training batches; ``None`` or
            0 never re-seeds.

    Raises:
        ConfigError: a size is not a positive integer, or ``commitment_cost`` is negative.

    Example:
        >>> model = RqVae(input_dim=384, hidden_dim=[256, 128], latent_dim=32)
        >>> reconstructed, quantized, codes, losses = model(torch.randn(1024, 384))
        >>> codes.shape
        torch.Size([1024, 3])
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int | Sequence[int] = (512, 256, 128),
        latent_dim: int = 32,
        num_embeddings: int = 256,
        num_levels: int = 3,
        commitment_cost: float = 1.0,
        learning_rate: float | None = None,
        kmeans_init: bool = True,
        kmeans_iters: int = 20,
        dead_code_steps: int | None = 20,
    ) -> None:
        super().__init__()
        hidden = [hidden_dim] if isinstance(hidden_dim, int) else list(hidden_dim)
        for name, value in (("input_dim", input_dim), ("latent_dim", latent_dim),
                            ("num_embeddings", num_embeddings), ("num_levels", num_levels),
                            ("kmeans_iters", kmeans_iters), *((f"hidden_dim[{i}]", h) for i, h in enumerate(hidden))):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"RqVae: {name} must be a positive integer (got {value!r})")
        if commitment_cost < 0:
            raise ConfigError(f"RqVae: commitment_cost must be >= 0 (got {commitment_cost})")
        if dead_code_steps is not None and dead_code_steps < 0:
            raise ConfigError(f"RqVae: dead_code_steps must be >= 0 or None (got {dead_code_steps})")
        self.input_dim = input_dim
        self.hidden_dims = hidden
        self.latent_dim = latent_dim
        self.num_embeddings = num_embeddings
        self.num_levels = num_levels
        self.commitment_cost = float(commitment_cost)
        self.learning_rate = None if learning_rate is None else float(learning_rate)
        self.kmeans_init = bool(kmeans_init)
        self.kmeans_iters = kmeans_iters
        self.dead_code_steps = dead_code_steps or None
        self.encoder = _mlp([input_dim, *hidden, latent_dim])
        self.decoder = _mlp([latent_dim, *reversed(hidden), input_dim])
        self.codebooks = nn.Parameter(torch.empty(num_levels, num_embeddings, latent_dim))
        nn.init.uniform_(self.codebooks, -1.0 / num_embeddings, 1.0 / num_embeddings)
        # Persistent, so a checkpoint restores "already initialised" with the codebooks.
        self.register_buffer("initialized", torch.tensor(not self.kmeans_init))
        self.register_buffer("code_age", torch.zeros(num_levels, num_embeddings, dtype=torch.long))

    # -- the three stages --------------------------------------------------------------------
    def encode(self, x: Tensor) -> Tensor:
        """Return the latent vectors ``(batch, latent_dim)`` of item embeddings ``x``."""
        return self.encoder(self._checked(x))

    def decode(self, quantized: Tensor) -> Tensor:
        """Return the reconstructed embeddings ``(batch, input_dim)`` of latent vectors."""
        return self.decoder(quantized)

    def quantize(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Quantise latents level by level, without touching the codebooks.

        Returns:
            ``(quantized, codes, codebook_loss, commitment_loss)``: the straight-through sum
            of the codes, the ``(batch, num_levels)`` codes and the two VQ terms (the
            commitment one unweighted).
        """
        return self._quantize(z, update=False)

    def forward(self, x: Tensor) -> RqVaeOutput:
        """Encode, quantise and decode ``x`` ``(batch, input_dim)``.

        In training mode the first call initialises the codebooks by k-means (when
        ``kmeans_init``) and every call re-seeds dead codes; in eval mode nothing changes.
        """
        x = self._checked(x)
        z = self.encoder(x)
        quantized, codes, codebook_loss, commitment_loss = self._quantize(z, update=self.training)
        reconstructed = self.decoder(quantized)
        reconstruction = (reconstructed.float() - x.float()).pow(2).sum(-1).mean()
        losses = {"reconstruction": reconstruction, "codebook": codebook_loss,
                  "commitment": self.commitment_cost * commitment_loss}
        return RqVaeOutput(reconstructed, quantized, codes, losses)

    @torch.no_grad()
    def generate_semantic_ids(self, x: Tensor) -> Tensor:
        """Return the semantic IDs ``(batch, num_levels)`` (long) of item embeddings ``x``.

        The model is left as it is (no k-means, no dead-code reset), in any mode.
        """
        return self._quantize(self.encode(x), update=False)[1]

    # -- persistence ------------------------------------------------------------------------------
    def hparams(self) -> dict[str, Any]:
        """Return the constructor arguments that rebuild this model (plain data)."""
        return {
            "input_dim": self.input_dim, "hidden_dim": list(self.hidden_dims), "latent_dim": self.latent_dim,
            "num_embeddings": self.num_embeddings, "num_levels": self.num_levels,
            "commitment_cost": self.commitment_cost, "learning_rate": self.learning_rate,
            "kmeans_init": self.kmeans_init, "kmeans_iters": self.kmeans_iters,
            "dead_code_steps": self.dead_code_steps,
        }

    def save_pretrained(self, path: str | Path) -> Path:
        """Write the hyperparameters and weights to one file (atomically) and return its path.

        The file loads with ``torch.load(path, weights_only=True)``; :meth:`from_pretrained`
        rebuilds the model from it.
        """
        state = {"model": {k: v.detach().cpu() for k, v in self.state_dict().items()},
                 _CHECKPOINT_KEY: self.hparams()}
        return save_checkpoint(state, path)

    @classmethod
    def from_pretrained(cls, path: str | Path, map_location: str | torch.device = "cpu") -> RqVae:
        """Rebuild a model from :meth:`save_pretrained`'s file or an ``RQVAETrainer`` checkpoint.

        Raises:
            CheckpointError: the file is missing or corrupt, holds no RQ-VAE, or its weights
                do not fit its hyperparameters.
        """
        state = load_checkpoint(path, map_location=map_location)
        hparams = state.get(_CHECKPOINT_KEY)
        if not isinstance(hparams, dict):
            raise CheckpointError(f"{path}: not an RQ-VAE checkpoint (no '{_CHECKPOINT_KEY}' hyperparameters); "
                                  "write one with RqVae.save_pretrained or RQVAETrainer")
        try:
            model = cls(**hparams)
            model.load_state_dict(strip_module_prefix(state["model"]))
        except (TypeError, ConfigError, RuntimeError) as exc:
            message = str(exc).splitlines()[0]
            raise CheckpointError(f"{path}: the RQ-VAE does not load: {message}") from None
        return model

    # -- internals --------------------------------------------------------------------------------
    def _checked(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.input_dim:
            size = x.shape[-1] if x.dim() else 0
            raise DataError(
                f"item vectors of shape {tuple(x.shape)} do not fit RqVae(input_dim={self.input_dim}): "
                f"they have {size} dims; build the model with input_dim={size}, "
                f"or embed the items with a text encoder of {self.input_dim} dims"
            )
        return x if x.dtype == self.codebooks.dtype else x.to(self.codebooks.dtype)

    def _quantize(self, z: Tensor, *, update: bool) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        if update and not bool(self.initialized):
            self._initialise_codebooks(z.detach())
        residual = z
        quantized = torch.zeros_like(z)
        codes = []
        codebook_loss = z.new_zeros((), dtype=torch.float32)
        commitment_loss = z.new_zeros((), dtype=torch.float32)
        for level in range(self.num_levels):
            if update and self.dead_code_steps:
                self._revive_dead_codes(level, residual.detach())
            codebook = self.codebooks[level]
            index = _nearest(residual.detach(), codebook.detach())
            chosen = F.embedding(index, codebook)
            codebook_loss = codebook_loss + (residual.detach().float() - chosen.float()).pow(2).sum(-1).mean()
            commitment_loss = commitment_loss + (residual.float() - chosen.detach().float()).pow(2).sum(-1).mean()
            if update:
                self._mark_used(level, index)
            quantized = quantized + chosen
            residual = residual - chosen.detach()
            codes.append(index)
        straight_through = z + (quantized - z).detach()
        return straight_through, torch.stack(codes, dim=1), codebook_loss, commitment_loss

    @torch.no_grad()
    def _initialise_codebooks(self, z: Tensor) -> None:
        residual = z.float()
        for level in range(self.num_levels):
            centroids = kmeans(residual, self.num_embeddings, iters=self.kmeans_iters)
            self.codebooks[level].copy_(centroids.to(self.codebooks.dtype))
            residual = residual - centroids[_nearest(residual, centroids)]
        _broadcast(self.codebooks.data)  # every rank starts from rank 0's codebooks
        self.code_age.zero_()
        self.initialized.fill_(True)

    @torch.no_grad()
    def _revive_dead_codes(self, level: int, residual: Tensor) -> None:
        # Sync-free: draw a candidate row for every code and keep it only where the code is dead.
        dead = self.code_age[level] >= self.dead_code_steps
        rows = torch.randint(0, residual.shape[0], (self.num_embeddings,), device=residual.device)
        candidates = residual[rows].to(self.codebooks.dtype)
        _broadcast(candidates)
        self.codebooks[level].copy_(torch.where(dead.unsqueeze(1), candidates, self.codebooks[level]))
        self.code_age[level].masked_fill_(dead, 0)

    @torch.no_grad()
    def _mark_used(self, level: int, index: Tensor) -> None:
        age = self.code_age[level]
        age.add_(1)
        age.index_fill_(0, index, 0)

    def extra_repr(self) -> str:
        return (f"levels={self.num_levels}, codes={self.num_embeddings}, latent_dim={self.latent_dim}, "
                f"commitment_cost={self.commitment_cost}")


# -- semantic-ID helpers ------------------------------------------------------------------------------
def kmeans(x: Tensor, k: int, iters: int = 20, generator: torch.Generator | None = None) -> Tensor:
    """Cluster the rows of ``x`` into ``k`` groups (k-means++ seeding, then Lloyd iterations).

    An empty cluster is re-seeded with the row farthest from its centroid. With no more
    rows than ``k`` every row becomes a centroid and the remaining ones repeat random rows.

    Args:
        x: ``(n, dim)`` float tensor.
        k: Number of centroids.
        iters: Maximum Lloyd iterations (stops early once the centroids no longer move).
        generator: Random source of the seeding (``None``: torch's global one).

    Returns:
        ``(k, dim)`` centroids, as float32 on ``x``'s device.
    """
    if x.dim() != 2 or x.shape[0] == 0:
        raise DataError(f"kmeans needs a non-empty (n, dim) tensor, got shape {tuple(x.shape)}")
    if k < 1:
        raise ConfigError(f"kmeans: k must be >= 1 (got {k})")
    x = x.float()
    n = x.shape[0]
    if n <= k:
        order = torch.randperm(n, generator=generator, device=_rng_device(generator, x))
        extra = torch.randint(0, n, (k - n,), generator=generator, device=_rng_device(generator, x))
        return torch.cat([x[order.to(x.device)], x[extra.to(x.device)]])
    centroids = _kmeans_plus_plus(x, k, generator)
    for _ in range(iters):
        distances = _squared_distances(x, centroids)
        nearest, labels = distances.min(dim=1)
        counts = torch.bincount(labels, minlength=k)
        sums = torch.zeros_like(centroids).index_add_(0, labels, x)
        updated = sums / counts.clamp(min=1).unsqueeze(1).to(x.dtype)
        empty = counts == 0
        n_empty = int(empty.sum())
        if n_empty:
            updated[empty] = x[nearest.topk(n_empty).indices]
        if torch.equal(updated, centroids):
            break
        centroids = updated
    return centroids


def append_collision_codes(codes: Tensor) -> Tensor:
    """Append the TIGER collision code, making every semantic ID unique.

    Items that share the same ``L`` codes are numbered ``0, 1, 2, ...`` in row order; an
    item whose ID is unique gets ``0``.

    Args:
        codes: ``(n, L)`` integer semantic IDs.

    Returns:
        ``(n, L + 1)`` long tensor whose rows are all distinct.

    Example:
        >>> append_collision_codes(torch.tensor([[1, 2], [0, 0], [1, 2]]))[:, -1]
        tensor([0, 0, 1])
    """
    codes = _checked_codes(codes)
    if codes.shape[0] == 0:
        return codes.new_zeros((0, codes.shape[1] + 1))
    _, group, counts = torch.unique(codes, dim=0, return_inverse=True, return_counts=True)
    order = torch.sort(group, stable=True).indices  # rows grouped, each group in row order
    first_of_group = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(group)
    rank[order] = torch.arange(codes.shape[0], device=codes.device) - first_of_group[group[order]]
    return torch.cat([codes, rank.unsqueeze(1)], dim=1)


def collision_rate(codes: Tensor) -> float:
    """Return the fraction of rows whose semantic ID another row shares (0 when all are unique).

    Example:
        >>> collision_rate(torch.tensor([[1, 2], [1, 2], [0, 3], [4, 4]]))
        0.5
    """
    codes = _checked_codes(codes)
    if codes.shape[0] == 0:
        return 0.0
    _, group, counts = torch.unique(codes, dim=0, return_inverse=True, return_counts=True)
    return float((counts[group] > 1).float().mean())


def codebook_perplexity(codes: Tensor, num_embeddings: int) -> Tensor:
    """Return the perplexity of the code distribution per level: ``exp(entropy)``.

    1 when a level always picks the same code, ``num_embeddings`` when it uses all codes
    equally often.

    Args:
        codes: ``(n, L)`` integer codes in ``[0, num_embeddings)``.
        num_embeddings: Codes per codebook.

    Returns:
        ``(L,)`` float tensor.
    """
    codes = _checked_codes(codes)
    if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= num_embeddings):
        raise DataError(f"codes must lie in [0, {num_embeddings}), got values from {int(codes.min())} "
                        f"to {int(codes.max())}")
    n, levels = codes.shape
    if n == 0:
        return torch.ones(levels)
    offsets = torch.arange(levels, device=codes.device) * num_embeddings
    counts = torch.bincount((codes + offsets).reshape(-1), minlength=levels * num_embeddings)
    p = counts.reshape(levels, num_embeddings).double() / n
    entropy = -(p * torch.log(p.clamp(min=1e-300))).sum(1)
    return torch.exp(entropy).float().cpu()


# -- private helpers ---------------------------------------------------------------------------------
def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _squared_distances(x: Tensor, centroids: Tensor) -> Tensor:
    """Return ``(n, k)`` squared Euclidean distances, in float32 whatever autocast says."""
    with torch.autocast(device_type=x.device.type, enabled=False):
        x, centroids = x.float(), centroids.float()
        cross = x @ centroids.T
        return (x.pow(2).sum(1, keepdim=True) - 2 * cross + centroids.pow(2).sum(1)).clamp_(min=0)


def _nearest(x: Tensor, centroids: Tensor) -> Tensor:
    return _squared_distances(x, centroids).argmin(dim=1)


def _kmeans_plus_plus(x: Tensor, k: int, generator: torch.Generator | None) -> Tensor:
    n = x.shape[0]
    device = _rng_device(generator, x)
    first = int(torch.randint(0, n, (1,), generator=generator, device=device))
    chosen = [first]
    closest = _squared_distances(x, x[first:first + 1]).squeeze(1)
    for _ in range(1, k):
        weights = closest if float(closest.sum()) > 0 else torch.ones_like(closest)
        pick = int(torch.multinomial(weights.to(device), 1, generator=generator))
        chosen.append(pick)
        closest = torch.minimum(closest, _squared_distances(x, x[pick:pick + 1]).squeeze(1))
    return x[torch.tensor(chosen, device=x.device)].clone()


def _rng_device(generator: torch.Generator | None, x: Tensor) -> torch.device:
    return generator.device if generator is not None else x.device


def _checked_codes(codes: Tensor) -> Tensor:
    if codes.dim() != 2 or codes.is_floating_point():
        raise DataError(f"semantic IDs must be an (items, levels) integer tensor, got {codes.dtype} "
                        f"of shape {tuple(codes.shape)}")
    return codes.long()


def _broadcast(tensor: Tensor) -> None:
    """Give every rank rank 0's ``tensor`` (in place); a no-op outside distributed training."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.broadcast(tensor, src=0)
