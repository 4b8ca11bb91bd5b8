"""genrec's two training scripts as console commands: ``rec-genrec-train-rqvae`` and ``rec-genrec-train-tiger``.

Same arguments and steps as the scripts in the genrec document (config, ``DatasetFactory``,
model, trainer, ``train_model``). ``--root`` is where to look for the data first; rec then
looks in ``$REC_DATA_DIR`` and its cache. A mistake (a missing file, a bad option) prints
one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from rec_core.errors import RecError

__all__ = ["train_rqvae", "train_tiger"]


def _dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="p5_amazon", help="Dataset name")
    parser.add_argument("--split", default="beauty", help="Dataset split")
    parser.add_argument("--root", default="dataset", help="Dataset root directory (then $REC_DATA_DIR)")


def _run(main: Callable[[], None]) -> None:
    try:
        main()
    except RecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def train_rqvae(argv: Sequence[str] | None = None) -> None:
    """Train an RQ-VAE on the items' title embeddings; the model is saved to ``CHECKPOINT_DIR/rqvae.ckpt``."""
    from rec_genrec.data.dataset_factory import DatasetFactory
    from rec_genrec.models.rqvae import RqVae
    from rec_genrec.trainers import RQVAETrainer, RQVAETrainingConfig

    parser = argparse.ArgumentParser(prog="rec-genrec-train-rqvae", description="Train RQVAE model")
    _dataset_arguments(parser)
    parser.add_argument("--batch_size", type=int, default=RQVAETrainingConfig.batch_size, help="Batch size")
    parser.add_argument("--max_epochs", type=int, default=RQVAETrainingConfig.max_epochs, help="Max epochs")
    parser.add_argument("--learning_rate", type=float, default=RQVAETrainingConfig.learning_rate, help="Learning rate")
    parser.add_argument("--checkpoint_dir", default="checkpoints", help="Checkpoint directory")
    args = parser.parse_args(argv)

    def main() -> None:
        config = RQVAETrainingConfig(
            batch_size=args.batch_size, max_epochs=args.max_epochs, learning_rate=args.learning_rate,
            checkpoint_dir=args.checkpoint_dir, dataset_name=args.dataset, dataset_split=args.split,
        )  # fmt: skip
        dataset = DatasetFactory.create_item_dataset(args.dataset, root=args.root, split=args.split,
                                                     train_test_split="all")
        model = RqVae(
            input_dim=config.input_dim, hidden_dim=config.hidden_dim, latent_dim=config.latent_dim,
            num_embeddings=config.num_embeddings, commitment_cost=config.commitment_cost,
            learning_rate=config.learning_rate,
        )  # fmt: skip
        RQVAETrainer(model, config, dataset).train_model()
        print(f"Training completed. Model saved to {config.checkpoint_dir}")

    _run(main)


def train_tiger(argv: Sequence[str] | None = None) -> None:
    """Train TIGER on the users' histories as semantic IDs from a trained RQ-VAE (``--rqvae_path``)."""
    from rec_genrec.data.dataset_factory import DatasetFactory
    from rec_genrec.models.tiger import Tiger
    from rec_genrec.trainers import TIGERTrainer, TIGERTrainingConfig

    parser = argparse.ArgumentParser(prog="rec-genrec-train-tiger", description="Train TIGER model")
    _dataset_arguments(parser)
    parser.add_argument("--rqvae_path", required=True, help="Pretrained RQVAE checkpoint path")
    parser.add_argument("--batch_size", type=int, default=TIGERTrainingConfig.batch_size, help="Batch size")
    parser.add_argument("--max_epochs", type=int, default=TIGERTrainingConfig.max_epochs, help="Max epochs")
    parser.add_argument("--learning_rate", type=float, default=TIGERTrainingConfig.learning_rate, help="Learning rate")
    parser.add_argument("--checkpoint_dir", default="checkpoints", help="Checkpoint directory")
    args = parser.parse_args(argv)

    def main() -> None:
        config = TIGERTrainingConfig(
            batch_size=args.batch_size, max_epochs=args.max_epochs, learning_rate=args.learning_rate,
            checkpoint_dir=args.checkpoint_dir, dataset_name=args.dataset, dataset_split=args.split,
            pretrained_rqvae_path=args.rqvae_path,
        )  # fmt: skip
        dataset = DatasetFactory.create_sequence_dataset(
            args.dataset, root=args.root, split=args.split, train_test_split="train",
            pretrained_rqvae_path=args.rqvae_path,
        )  # fmt: skip
        model = Tiger(
            vocab_size=config.vocab_size, embedding_dim=config.embedding_dim, num_heads=config.num_heads,
            num_layers=config.num_layers, learning_rate=config.learning_rate,
        )  # fmt: skip
        TIGERTrainer(model, config, dataset).train_model()
        print(f"Training completed. Model saved to {config.checkpoint_dir}")

    _run(main)
