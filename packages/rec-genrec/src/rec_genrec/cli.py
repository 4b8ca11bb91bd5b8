"""``rec genrec ...``: export the semantic IDs a trained RQ-VAE gives a data set's items."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["genrec_app", "write_semantic_ids"]


def genrec_app() -> typer.Typer:
    """Return the ``rec genrec`` command group."""
    app = typer.Typer(no_args_is_help=True, help="Generative retrieval: semantic IDs.")

    @app.command("semantic-ids")
    def semantic_ids(
        source: Path = typer.Argument(..., help="A `rec train rqvae` run folder or an rqvae.ckpt file.",
                                      show_default=False),
        output: Path = typer.Option(..., "--output", "-o", help="Where to write: .csv (item_id, item, code_0...) "
                                    "or .npy (the table, row = item id).", show_default=False),
        data: str | None = typer.Option(None, "--data", "-d",
                                        help="The registered data set whose items to encode (default: the run's)."),
        text_encoder: str | None = typer.Option(None, "--text-encoder",
                                                help="The text encoder (default: the run's, else minilm)."),
        checkpoint: str = typer.Option("best", "--checkpoint", help="best, last, or a checkpoint path (run folders)."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Write every item's semantic ID (RQ-VAE codes, then the collision code) for `rec train tiger`."""
        from rec_core.cli._console import out_console, print_json

        result = write_semantic_ids(source, output, data=data, text_encoder=text_encoder, checkpoint=checkpoint)
        if json:
            print_json(result)
        else:
            out_console.print(f"wrote the semantic IDs of {result['items']} items ({result['levels']} codes each, "
                              f"{result['collision_rate']:.2%} shared before the collision code) to {result['output']}")

    return app


def write_semantic_ids(source: Path, output: Path, *, data: str | None = None, text_encoder: str | None = None,
                       checkpoint: str = "best") -> dict[str, object]:
    """Compute and write the semantic-ID table of a data set's catalogue; return what was written.

    Raises:
        RecError: ``output`` exists (nothing is overwritten), the source is not an RQ-VAE, the
            data set is unknown or has no item text.
    """
    import numpy as np
    import pandas as pd
    import torch

    from rec_core.errors import RecError
    from rec_core.files import atomic_write
    from rec_core.plugins import make_plugin_manager
    from rec_core.runfolder import os_errors_named
    from rec_genrec.models.rqvae import collision_rate
    from rec_genrec.runs import load_rqvae, semantic_ids_of

    if output.exists():
        raise RecError(f"output {output} already exists; choose another --output (nothing was overwritten)")
    if output.suffix not in (".csv", ".npy"):
        raise RecError(f"--output must end in .csv or .npy (got {output.name})")
    trained = load_rqvae(source, checkpoint)
    name = data or trained.data
    if name is None:
        raise RecError(f"{source} is a bare RQ-VAE file: say which items to encode with --data NAME")
    pm = make_plugin_manager()
    entry = pm.registry("datasets").get(name)
    task_data = entry.load().load()
    task_data.name = entry.name
    table = semantic_ids_of(trained, task_data, encoder=text_encoder).numpy()
    levels = table.shape[1] - (1 if trained.collision_token else 0)
    shared = collision_rate(torch.as_tensor(table[1:, :levels]))

    def write(tmp: Path) -> None:
        if output.suffix == ".npy":
            with open(tmp, "wb") as handle:
                np.save(handle, table)
        else:
            frame = pd.DataFrame(table[1:], columns=[f"code_{i}" for i in range(table.shape[1])])
            frame.insert(0, "item", task_data.items.ids[1:] if task_data.items else "")
            frame.insert(0, "item_id", np.arange(1, len(table)))
            frame.to_csv(tmp, index=False)

    with os_errors_named(output):
        atomic_write(output, write)
    return {"output": str(output), "items": int(len(table) - 1), "levels": int(table.shape[1]),
            "collision_rate": float(shared), "source": str(trained.source), "data": entry.name}
