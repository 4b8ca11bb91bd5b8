"""Find a trained RQ-VAE (an ``rqvae.ckpt`` file or a ``rec train rqvae`` run folder) and its items' semantic IDs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from rec_core.errors import RecError

if TYPE_CHECKING:
    from rec_core.datasets import TaskData
    from rec_genrec.models.rqvae import RqVae

__all__ = ["TrainedRqVae", "load_rqvae", "semantic_id_table", "semantic_ids_of"]


@dataclass
class TrainedRqVae:
    """A trained RQ-VAE and what it was trained on.

    Attributes:
        model: The model, in eval mode, on the CPU.
        source: The file the weights came from.
        data: The registered data set of its run (``None`` for a bare ``rqvae.ckpt``).
        text_encoder: The text encoder of its run (``None`` when unknown).
        collision_token: Whether its semantic IDs carry the collision code.
    """

    model: RqVae
    source: Path
    data: str | None = None
    text_encoder: str | None = None
    collision_token: bool = True


def load_rqvae(source: str | Path, checkpoint: str = "best") -> TrainedRqVae:
    """Load an RQ-VAE from an ``rqvae.ckpt`` file or from a ``rec train rqvae`` run folder.

    Raises:
        RecError: The path does not exist, or the run folder is not an RQ-VAE run.
        CheckpointError: The file is damaged or not an RQ-VAE.
    """
    from rec_core.runfolder import RunFolder
    from rec_genrec.models.rqvae import RqVae

    path = Path(source)
    if path.is_file():
        return TrainedRqVae(RqVae.from_pretrained(path).eval(), path)
    if not path.is_dir():
        raise RecError(f"no RQ-VAE at {path}: give an rqvae.ckpt file or a `rec train rqvae` run folder")
    folder = RunFolder(path)
    run = folder.read_run()
    if run.get("task") != "rqvae":
        raise RecError(f"{path} is a {run.get('task')} run, not an rqvae run")
    weights = folder.checkpoint(checkpoint)
    model = RqVae.from_pretrained(weights)
    description = folder.read_description()
    params = description.get("data_params", {})
    return TrainedRqVae(model.eval(), weights, data=description.get("data"),
                        text_encoder=params.get("text_encoder") or description.get("text_encoder"),
                        collision_token=bool(description.get("collision_token", True)))


def semantic_ids_of(trained: TrainedRqVae, data: TaskData, *, encoder: Any = None,
                    cache_dir: str | Path | None = None) -> torch.Tensor:
    """Return the ``(n_items + 1, levels)`` semantic-ID table of ``data``'s catalogue (row 0 padding).

    The items' text is encoded with ``encoder``, else the run's text encoder, else the default.
    """
    from rec_genrec.data.items import ItemDataset

    items = ItemDataset.from_task_data(data, encoder or trained.text_encoder, cache_dir=cache_dir)
    return semantic_id_table(trained.model, items.embeddings, collision_token=trained.collision_token)


def semantic_id_table(model: Any, embeddings: torch.Tensor, *, collision_token: bool = True,
                      batch_size: int = 4096) -> torch.Tensor:
    """Return ``model``'s semantic IDs of ``embeddings`` (item ids ``1..n`` in row order) with a padding row 0.

    Raises:
        DataError: The embeddings do not have ``model.input_dim`` dims.
    """
    from rec_core.errors import DataError
    from rec_genrec.models.rqvae import append_collision_codes

    if embeddings.shape[1] != model.input_dim:
        raise DataError(f"the RQ-VAE takes {model.input_dim}-d inputs but the item text embeddings have "
                        f"{embeddings.shape[1]} dims: use the text encoder it was trained with")
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        codes = torch.cat([model.generate_semantic_ids(chunk.to(device)).cpu()
                           for chunk in embeddings.split(batch_size)])
    if collision_token:
        codes = append_collision_codes(codes)
    return torch.cat([torch.zeros(1, codes.shape[1], dtype=torch.long), codes.long()])
