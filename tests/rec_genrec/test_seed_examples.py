"""The genrec document's usage example and its two training scripts, with only ``genrec.`` -> ``rec_genrec.``.

The usage example runs verbatim on Amazon Beauty: it builds ``RqVae(input_dim=768)``, so
the items are embedded by a 768-d text encoder (``REC_GENREC_TEXT_ENCODER=hashing:768``;
with the default 384-d MiniLM the trainer refuses in one line, also tested). The scripts
run as console commands on a small configuration: the 93 titled movies of torch-rechub's
MovieLens-1M sample, one or two epochs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from rec_core.errors import DataError

# The genrec document's "basic training" example; only its imports differ.
USAGE_EXAMPLE = '''
from rec_genrec.trainers import RQVAETrainer, RQVAETrainingConfig
from rec_genrec.models.rqvae import RqVae
from rec_genrec.data.dataset_factory import DatasetFactory

# 创建配置
config = RQVAETrainingConfig(
    batch_size=64,
    max_epochs=100,
    learning_rate=1e-3
)

# 创建数据集
dataset = DatasetFactory.create_item_dataset(
    "p5_amazon",
    root="dataset/amazon",
    split="beauty"
)

# 创建模型
model = RqVae(
    input_dim=768,
    hidden_dim=512,
    num_embeddings=1024
)

# 创建训练器并训练
trainer = RQVAETrainer(model, config, dataset)
trained_model = trainer.train_model()
'''


def _needs(relative: str) -> None:
    path = Path(os.environ.get("REC_DATA_DIR", "-")) / relative
    if not path.exists():
        pytest.skip(f"needs the shared real data sets: set REC_DATA_DIR ({path} is missing)")


def test_the_usage_example_runs_with_only_its_imports_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _needs("amazon-beauty-5core/derived/beauty_items.csv")
    monkeypatch.chdir(tmp_path)  # the example writes checkpoints/ under the working directory
    monkeypatch.setenv("REC_GENREC_TEXT_ENCODER", "hashing:768")
    namespace: dict = {}
    exec(compile(USAGE_EXAMPLE, "genrec-usage-example", "exec"), namespace)
    trainer, model = namespace["trainer"], namespace["trained_model"]
    assert len(namespace["dataset"]) == 12101 and namespace["dataset"].input_dim == 768
    assert (tmp_path / "checkpoints" / "rqvae.ckpt").is_file()
    assert trainer.test_results["test/cosine_similarity"] > 0.5
    ids = trainer.generate_semantic_ids()
    assert ids.shape == (12101, 4) and len(torch.unique(ids, dim=0)) == 12101
    assert model.num_embeddings == 1024


def test_a_model_sized_for_another_encoder_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    _needs("amazon-beauty-5core/derived/beauty_items.csv")
    monkeypatch.setenv("REC_GENREC_TEXT_ENCODER", "hashing:384")
    from rec_genrec.data.dataset_factory import DatasetFactory
    from rec_genrec.models.rqvae import RqVae
    from rec_genrec.trainers import RQVAETrainer, RQVAETrainingConfig

    dataset = DatasetFactory.create_item_dataset("p5_amazon", split="beauty")
    trainer = RQVAETrainer(RqVae(input_dim=768, hidden_dim=64, num_embeddings=16), RQVAETrainingConfig(), dataset)
    with pytest.raises(DataError, match=r"768.*384|384.*768") as error:
        trainer.create_dataloaders()
    assert "\n" not in str(error.value)


def test_both_training_scripts_run_as_console_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    _needs("rechub-samples/ml-1m/ml-1m_sample.csv")
    from rec_core.plugins import make_plugin_manager
    from rec_genrec.scripts import train_rqvae, train_tiger

    if "ml-1m-sample" not in make_plugin_manager().registry("datasets"):
        pytest.skip("the ml-1m-sample data set comes with rec-trainers, which is not installed here")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REC_GENREC_TEXT_ENCODER", "hashing:384")  # RQVAETrainingConfig.input_dim
    data = ["--dataset", "ml-1m-sample", "--split", "default", "--root", str(tmp_path / "dataset")]
    train_rqvae([*data, "--max_epochs", "2", "--checkpoint_dir", "rq"])
    assert (tmp_path / "rq" / "rqvae.ckpt").is_file()
    train_tiger([*data, "--rqvae_path", "rq/rqvae.ckpt", "--max_epochs", "1", "--batch_size", "16",
                 "--checkpoint_dir", "tiger"])
    out = capsys.readouterr().out
    assert out.count("Training completed. Model saved to") == 2
    assert any((tmp_path / "tiger").rglob("*.ckpt"))


def test_a_script_mistake_is_one_line_and_exit_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rec_genrec.scripts import train_tiger

    with pytest.raises(SystemExit) as exit_info:
        train_tiger(["--rqvae_path", str(tmp_path / "missing.ckpt"), "--dataset", "p5_amazon", "--split", "sports"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "sports" in err and len(err.splitlines()) == 1
