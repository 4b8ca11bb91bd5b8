"""The whole chain learns on real data: item titles -> RQ-VAE semantic IDs -> TIGER, on a slice of Amazon Beauty."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from rec_core.metrics import ranked_list_metrics
from rec_genrec.data.items import ItemDataset
from rec_genrec.data.sequences import SequenceDataset
from rec_genrec.data.text import HashingTextEncoder
from rec_genrec.models.rqvae import RqVae
from rec_genrec.models.tiger import Tiger
from rec_genrec.runs import semantic_id_table
from rec_genrec.trainers import RQVAETrainer, RQVAETrainingConfig, TIGERTrainer, TIGERTrainingConfig

from .test_tiger import _beauty_slice


@pytest.mark.skipif(not os.environ.get("REC_DATA_DIR"), reason="REC_DATA_DIR is not set: the learning test reads "
                                                                 "Amazon Beauty (amazon-beauty-5core) from it")
def test_tiger_on_rqvae_ids_of_the_titles_beats_popularity(tmp_path: Path) -> None:
    """TIGER on semantic IDs an RQ-VAE learnt from the items' titles clears both popularity lists.

    The slice and the bar are those of the random-ID learning test in ``test_tiger.py``
    (the last epoch is tested; +0.08 recall@10 over the better popularity list, which a
    model blind to its input cannot reach there). Here the IDs come from the product of
    the RQ-VAE trainer, so a broken quantiser, collision code or table order breaks it.
    """
    from rec_core.datasets import find_data_file, load_interactions

    data = _beauty_slice()
    full = load_interactions(find_data_file("amazon-beauty-5core/s3rec/Beauty.txt"),
                             items=find_data_file("amazon-beauty-5core/derived/beauty_items.csv"),
                             item_key="item_id", item_text="title", min_user_interactions=3)
    titles = [full.items.text[int(original)] for original in data.items.ids[1:]]  # the slice's ids are full ids
    items = ItemDataset(HashingTextEncoder(dim=64).encode(titles), titles=titles)

    torch.manual_seed(0)
    rqvae = RqVae(input_dim=64, hidden_dim=[64, 32], latent_dim=8, num_embeddings=8, num_levels=3)
    config = RQVAETrainingConfig(max_epochs=30, batch_size=64, learning_rate=3e-3, random_seed=0,
                                 progress_bar=False, checkpoint_dir=str(tmp_path / "rq"), run_test=False)
    RQVAETrainer(rqvae, config, items).train_model()
    table = semantic_id_table(rqvae, items.embeddings)
    assert len(torch.unique(table[1:], dim=0)) == len(titles)
    codebook = max(16, int(table.max()) + 1)

    train = SequenceDataset.from_interactions(data, table, max_history=5, codebook_size=codebook,
                                              num_user_buckets=100)
    vocab_size = train.vocabulary.vocab_size
    torch.manual_seed(0)
    model = Tiger(vocab_size, 64, 2, 2, attn_dim=128, dropout=0.0, max_seq_length=5, num_levels=4,
                  codebook_size=codebook, head_dim=32)
    tiger_config = TIGERTrainingConfig(
        vocab_size=vocab_size, num_code_levels=4, codebook_size=codebook, num_user_buckets=100, max_seq_length=5,
        max_epochs=5, batch_size=64, learning_rate=2e-3, random_seed=0, progress_bar=False,
        checkpoint_dir=str(tmp_path / "tiger"), save_top_k=0, save_last=False, eval_k_values=[10], num_beams=10,
    )  # fmt: skip
    trainer = TIGERTrainer(model, tiger_config, train)
    train_loader, _, test_loader = trainer.create_dataloaders()
    trainer.train(train_loader)
    tiger = trainer.evaluate_generation(test_loader, k_values=[10])

    targets = train.test_dataset.targets
    baselines = []
    for counts in (np.bincount(data.interactions.items[data.interactions.part == 0]), np.bincount(train.targets)):
        counts[0] = -1
        popular = torch.from_numpy(np.argsort(-counts, kind="stable")[:10])
        baselines.append(ranked_list_metrics(popular.expand(len(targets), 10), targets, ks=(10,))["recall@10"])
    assert tiger["recall@10"] > max(baselines) + 0.08, (tiger, baselines)
