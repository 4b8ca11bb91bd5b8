"""RQ-VAE semantic IDs: the model, its helpers and ``RQVAETrainer`` on the rec engine."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

import rec_genrec.models.rqvae as rqvae_module
from rec_core.errors import CheckpointError, ConfigError, DataError
from rec_genrec import RqVae, RQVAETrainer, RQVAETrainingConfig
from rec_genrec.models.rqvae import append_collision_codes, codebook_perplexity, collision_rate, kmeans

BEAUTY = Path(os.environ.get("REC_DATA_DIR", "-")) / "amazon-beauty-5core"


def _blobs(n_blobs: int, per_blob: int, dim: int, *, scale: float = 10.0, noise: float = 0.05,
           seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(points, labels, centres)`` of well-separated Gaussian blobs."""
    generator = torch.Generator().manual_seed(seed)
    centres = scale * torch.randn(n_blobs, dim, generator=generator)
    labels = torch.arange(n_blobs).repeat_interleave(per_blob)
    points = centres[labels] + noise * torch.randn(len(labels), dim, generator=generator)
    return points, labels, centres


def _small_model(**kwargs: Any) -> RqVae:
    options = {"input_dim": 8, "hidden_dim": [16], "latent_dim": 4, "num_embeddings": 4, "num_levels": 2}
    return RqVae(**{**options, **kwargs})


def _count_kmeans(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = rqvae_module.kmeans

    def counted(*args: Any, **kwargs: Any) -> torch.Tensor:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(rqvae_module, "kmeans", counted)
    return calls


# -- the model -------------------------------------------------------------------------------------
def test_forward_unpacks_as_four_and_codes_are_long() -> None:
    torch.manual_seed(0)
    model = _small_model(num_levels=3).eval()
    x = torch.randn(5, 8)
    reconstructed, quantized, codes, losses = model(x)
    assert reconstructed.shape == (5, 8) and quantized.shape == (5, 4)
    assert codes.shape == (5, 3) and codes.dtype == torch.long
    assert set(losses) == {"reconstruction", "codebook", "commitment"}
    assert torch.equal(model.generate_semantic_ids(x), codes)


def test_straight_through_gradient_reaches_the_encoder() -> None:
    torch.manual_seed(0)
    model = _small_model().eval()
    x = torch.randn(32, 8)
    out = model(x)
    z = model.encode(x)
    assert not torch.allclose(out.quantized, z)  # the quantiser really changed the values
    out.losses["reconstruction"].backward()
    encoder_grads = [p.grad.clone() for p in model.encoder.parameters()]
    # Reference: the decoder's gradient at the quantised point, carried to the encoder as through the identity.
    leaf = out.quantized.detach().clone().requires_grad_(True)
    (grad_at_quantized,) = torch.autograd.grad((model.decode(leaf) - x).pow(2).sum(-1).mean(), leaf)
    expected = torch.autograd.grad(z, list(model.encoder.parameters()), grad_outputs=grad_at_quantized)
    assert all(g.abs().sum() > 0 for g in encoder_grads)
    for got, want in zip(encoder_grads, expected, strict=True):
        torch.testing.assert_close(got, want)
    # The reconstruction loss must not move the codebooks (only the codebook term does).
    assert model.codebooks.grad is None or not model.codebooks.grad.any()


def test_kmeans_recovers_well_separated_blobs() -> None:
    points, _, centres = _blobs(8, 40, 4)
    centroids = kmeans(points, 8, iters=20, generator=torch.Generator().manual_seed(1))
    distances = torch.cdist(centres, centroids)
    assert distances.min(dim=1).values.max() < 0.1  # every blob has a centroid on it
    assert len(set(distances.argmin(dim=1).tolist())) == 8  # ... and a different one


def test_kmeans_with_fewer_rows_than_codes_uses_every_row() -> None:
    points = torch.randn(3, 2)
    centroids = kmeans(points, 5, generator=torch.Generator().manual_seed(0))
    assert centroids.shape == (5, 2)
    assert torch.cdist(points, centroids).min(dim=1).values.max() == 0


def test_kmeans_init_puts_codes_on_latent_clusters_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_kmeans(monkeypatch)
    torch.manual_seed(0)
    model = _small_model(dead_code_steps=None)
    points, labels, _ = _blobs(4, 25, 8)
    model.train()
    out = model(points)
    assert bool(model.initialized) and len(calls) == 2  # one k-means per level, on the first batch
    z = model.encode(points).detach()
    level0 = model.codebooks[0].detach()
    for blob in range(4):
        mean = z[labels == blob].mean(0)
        assert torch.cdist(mean[None], level0).min() < 1e-3 * (1 + mean.norm())
        assert out.codes[labels == blob, 0].unique().numel() == 1  # a blob is one code
    assert out.codes[:, 0].unique().numel() == 4
    # Level 1 was fitted to what level 0 left (small residuals), and it shrinks them further.
    level1 = model.codebooks[1].detach()
    assert level1.norm(dim=1).max() < 0.1 * level0.norm(dim=1).min()
    after0 = z - level0[out.codes[:, 0]]
    after1 = after0 - level1[out.codes[:, 1]]
    assert after1.pow(2).sum() < 0.8 * after0.pow(2).sum()
    before = model.codebooks.detach().clone()
    model(points)
    assert len(calls) == 2 and torch.equal(model.codebooks.detach(), before)


def test_dead_code_reset_revives_an_unused_code() -> None:
    def run(dead_code_steps: int | None) -> tuple[RqVae, torch.Tensor, torch.Tensor]:
        torch.manual_seed(0)
        model = _small_model(num_embeddings=6, num_levels=1, kmeans_init=False, dead_code_steps=dead_code_steps)
        with torch.no_grad():
            model.codebooks[0, 5] = 1000.0  # nothing ever lands here by itself
        x = torch.randn(64, 8)
        model.train()
        for _ in range(3):
            assert not (model(x).codes == 5).any()
        return model, model(x).codes, model.encode(x).detach()

    model, codes, latents = run(dead_code_steps=3)
    revived = model.codebooks[0, 5].detach()
    assert torch.cdist(revived[None], latents).min() < 1e-6  # re-seeded from a residual of the batch
    assert (codes == 5).any() and model.code_age[0, 5] == 0
    still_dead, codes, _ = run(dead_code_steps=None)
    assert (still_dead.codebooks[0, 5] == 1000.0).all() and not (codes == 5).any()


def test_save_pretrained_round_trip_gives_identical_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    model = _small_model(hidden_dim=[16, 12], num_levels=3, learning_rate=0.01)
    x = torch.randn(40, 8)
    model.train()
    model(x)  # k-means initialisation, dead-code ages
    path = model.save_pretrained(tmp_path / "rqvae.ckpt")
    raw = torch.load(path, weights_only=True)
    assert raw["rqvae"]["hidden_dim"] == [16, 12] and raw["rqvae"]["learning_rate"] == 0.01
    loaded = RqVae.from_pretrained(path)
    assert torch.equal(loaded.generate_semantic_ids(x), model.generate_semantic_ids(x))
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    calls = _count_kmeans(monkeypatch)
    loaded.train()
    loaded(x)
    assert not calls  # a restored codebook is never re-initialised
    torch.save({"format_version": 1, "model": {}}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="not an RQ-VAE checkpoint"):
        RqVae.from_pretrained(tmp_path / "other.ckpt")


def test_wrong_input_size_is_a_one_line_error_with_the_fix() -> None:
    model = _small_model()
    with pytest.raises(DataError, match=r"10 dims; build the model with input_dim=10"):
        model(torch.randn(4, 10))
    trainer = RQVAETrainer(model, RQVAETrainingConfig(progress_bar=False), TensorDataset(torch.randn(20, 10)))
    with pytest.raises(DataError) as info:
        trainer.create_dataloaders()
    message = str(info.value)
    assert "\n" not in message and "have 10 dims" in message and "RqVae(input_dim=8)" in message
    assert "input_dim=10" in message and "text encoder" in message


# -- the semantic-ID helpers -------------------------------------------------------------------------------
def test_append_collision_codes_numbers_duplicates_in_row_order() -> None:
    codes = torch.tensor([[1, 2, 3], [1, 2, 3], [0, 0, 0], [1, 2, 3], [0, 0, 1]])
    extended = append_collision_codes(codes)
    assert torch.equal(extended[:, :3], codes)
    assert extended[:, 3].tolist() == [0, 1, 0, 2, 0]
    assert append_collision_codes(codes[:0]).shape == (0, 4)


def test_append_collision_codes_makes_many_duplicates_unique() -> None:
    generator = torch.Generator().manual_seed(0)
    codes = torch.randint(0, 4, (12_101, 3), generator=generator)  # 64 IDs for 12k items
    codes[:5000] = torch.tensor([7, 7, 7])
    extended = append_collision_codes(codes)
    assert torch.unique(extended, dim=0).shape[0] == 12_101
    assert extended[:5000, 3].tolist() == list(range(5000))
    assert collision_rate(extended) == 0.0


def test_collision_rate_hand_worked() -> None:
    a, b, c, d = [0, 1], [2, 3], [4, 5], [6, 7]
    assert collision_rate(torch.tensor([a, a, b, c, c, c, d])) == pytest.approx(5 / 7)
    assert collision_rate(torch.tensor([a, b, c, d])) == 0.0
    assert collision_rate(torch.tensor([a, a])) == 1.0


def test_codebook_perplexity_hand_worked() -> None:
    codes = torch.tensor([[0, 0, 0, 3], [0, 1, 0, 3], [0, 2, 1, 3], [0, 3, 0, 3]])  # a row per item
    perplexity = codebook_perplexity(codes, num_embeddings=4)
    skewed = math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    torch.testing.assert_close(perplexity, torch.tensor([1.0, 4.0, skewed, 1.0]))
    with pytest.raises(DataError, match=r"\[0, 4\)"):
        codebook_perplexity(torch.tensor([[4]]), num_embeddings=4)


# -- the trainer ---------------------------------------------------------------------------------------------
class _ItemDataset(Dataset):
    """Items as genrec's ItemDataset gives them: ``{"features": vector}``."""

    def __init__(self, features: torch.Tensor) -> None:
        self.features = features

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"features": self.features[index]}


class _Recorder:
    def __init__(self) -> None:
        self.metrics: list[dict[str, float]] = []
        self.status: str | None = None

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.metrics.append(dict(metrics))

    def finish(self, status: str = "success") -> None:
        self.status = status


def _structured_items(n: int = 300, dim: int = 24, seed: int = 0) -> torch.Tensor:
    points, _, _ = _blobs(6, n // 6, dim, scale=1.0, noise=0.2, seed=seed)
    return F.normalize(points, dim=1)


def test_seed_usage_train_model_evaluate_and_semantic_ids(tmp_path: Path) -> None:
    features = _structured_items()
    config = RQVAETrainingConfig(input_dim=24, hidden_dim=32, latent_dim=8, num_embeddings=16, num_levels=3,
                                 batch_size=64, max_epochs=3, learning_rate=1e-2, checkpoint_dir=str(tmp_path),
                                 progress_bar=False)
    model = RqVae(input_dim=config.input_dim, hidden_dim=config.hidden_dim, latent_dim=config.latent_dim,
                  num_embeddings=config.num_embeddings, num_levels=config.num_levels,
                  commitment_cost=config.commitment_cost, learning_rate=config.learning_rate)
    recorder = _Recorder()
    trainer = RQVAETrainer(model, config, _ItemDataset(features), logger=recorder)
    trained = trainer.train_model()
    assert trained is model and recorder.status == "success"
    logged = {key for metrics in recorder.metrics for key in metrics}
    assert {"train/reconstruction_loss", "train/codebook_loss", "train/commitment_loss", "val/loss",
            "val/cosine_similarity", "val/perplexity_l0", "val/perplexity_l2", "val/collision_rate"} <= logged
    assert "val/catalogue_collision_rate" not in logged  # opt-in: it costs an encoder pass over every item
    assert trainer.test_results is not None and "test/collision_rate" in trainer.test_results
    catalogue = collision_rate(model.generate_semantic_ids(features))  # the test results have it all the same
    assert trainer.test_results["test/catalogue_collision_rate"] == catalogue == trainer.catalogue_collision_rate()

    _, _, test_loader = trainer.create_dataloaders()
    result = trainer.evaluate_reconstruction(test_loader)
    assert set(result) == {"mse", "rmse", "cosine_similarity"}
    assert result["rmse"] == pytest.approx(math.sqrt(result["mse"]))
    assert len(test_loader.dataset) == 30  # 300 items split 240/30/30
    assert trainer.generate_semantic_ids(test_loader).shape == (30, 4)

    table = trainer.generate_semantic_ids()  # every item, in catalogue order, with the collision code
    assert table.shape == (300, 4) and torch.unique(table, dim=0).shape[0] == 300
    assert torch.equal(table[:, :3], model.generate_semantic_ids(features))
    saved = RqVae.from_pretrained(tmp_path / "rqvae.ckpt")
    assert torch.equal(saved.generate_semantic_ids(features), table[:, :3])
    engine_checkpoint = RqVae.from_pretrained(tmp_path / "last.ckpt")  # the engine's checkpoints load too
    assert engine_checkpoint.generate_semantic_ids(features).shape == (300, 3)


def test_identical_embeddings_get_distinct_collision_codes() -> None:
    torch.manual_seed(0)
    x = torch.randn(40, 8)
    x[5:15] = x[5]  # ten copies of one item
    trainer = RQVAETrainer(_small_model(num_levels=3), RQVAETrainingConfig(collision_token=True, progress_bar=False))
    ids = trainer.generate_semantic_ids(DataLoader(TensorDataset(x), batch_size=16))
    assert ids.shape == (40, 4) and torch.unique(ids, dim=0).shape[0] == 40
    assert (ids[5:15, :3] == ids[5, :3]).all() and ids[5:15, 3].tolist() == list(range(10))
    plain = RQVAETrainer(_small_model(num_levels=3), RQVAETrainingConfig(collision_token=False, progress_bar=False))
    assert plain.generate_semantic_ids(DataLoader(TensorDataset(x), batch_size=16)).shape == (40, 3)


def _resumable_run(directory: Path, epochs: int, features: torch.Tensor, *, model_seed: int = 0,
                   resume: Path | None = None) -> RQVAETrainer:
    torch.manual_seed(model_seed)
    model = RqVae(input_dim=24, hidden_dim=32, latent_dim=8, num_embeddings=16, num_levels=3)
    # One cosine schedule for every run (by default it spans max_epochs), so that one epoch + one resumed is two.
    config = RQVAETrainingConfig(input_dim=24, batch_size=32, max_epochs=epochs, checkpoint_dir=str(directory),
                                 progress_bar=False, learning_rate=1e-2, scheduler_params={"T_max": 2})
    trainer = RQVAETrainer(model, config, TensorDataset(features))
    train_loader, _, _ = trainer.create_dataloaders()
    if resume is not None:
        trainer.resume_checkpoint(resume)
    trainer.fit(train_loader, verbose=False)
    return trainer


def test_engine_checkpoint_resumes_bit_identically_without_new_kmeans(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    features = _structured_items(n=120, seed=1)
    calls = _count_kmeans(monkeypatch)
    straight = _resumable_run(tmp_path / "a", 2, features)
    assert len(calls) == 3  # k-means ran once per level, in the first epoch only
    _resumable_run(tmp_path / "b", 1, features)
    calls.clear()
    resumed = _resumable_run(tmp_path / "b", 2, features, model_seed=123, resume=tmp_path / "b" / "last.ckpt")
    assert not calls  # the restored codebooks were kept
    for key, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
    assert torch.equal(resumed.model.generate_semantic_ids(features), straight.model.generate_semantic_ids(features))


def _beauty_attribute_vectors(n_items: int) -> torch.Tensor:
    """Return L2-normalised multi-hot vectors of the first items' S3-Rec attributes (category, brand)."""
    attributes = json.loads((BEAUTY / "s3rec" / "Beauty_item2attributes.json").read_text())
    lists = [attributes[str(item)] for item in range(1, n_items + 1)]
    column = {a: j for j, a in enumerate(sorted({a for items in lists for a in items}))}
    rows = torch.tensor([i for i, items in enumerate(lists) for _ in items])
    cols = torch.tensor([column[a] for items in lists for a in items])
    vectors = torch.zeros(n_items, len(column))
    vectors[rows, cols] = 1.0
    return F.normalize(vectors, dim=1)


def test_learns_to_reconstruct_real_beauty_items(tmp_path: Path) -> None:
    if not BEAUTY.is_dir():
        pytest.skip("needs amazon-beauty-5core from the shared data: set REC_DATA_DIR")
    features = _beauty_attribute_vectors(2000)
    torch.manual_seed(0)
    config = RQVAETrainingConfig(input_dim=features.shape[1], hidden_dim=128, latent_dim=16, num_embeddings=32,
                                 batch_size=256, max_epochs=30, learning_rate=3e-3, checkpoint_dir=str(tmp_path),
                                 progress_bar=False, early_stopping_patience=0)
    model = RqVae(input_dim=config.input_dim, hidden_dim=config.hidden_dim, latent_dim=config.latent_dim,
                  num_embeddings=config.num_embeddings, num_levels=config.num_levels)
    trainer = RQVAETrainer(model, config, TensorDataset(features))
    train_loader, val_loader, test_loader = trainer.create_dataloaders()
    untrained = trainer.evaluate_reconstruction(test_loader)
    trainer.fit(train_loader, val_loader, verbose=False, saved=False)
    trained = trainer.evaluate_reconstruction(test_loader)
    # Predicting the mean item for everyone: what a decoder that ignores the codes can reach.
    mean_item = train_loader.dataset.rows.mean(0, keepdim=True)
    baseline = float(F.cosine_similarity(mean_item, test_loader.dataset.rows).mean())
    assert untrained["cosine_similarity"] < 0.2 and baseline < 0.4
    assert trained["cosine_similarity"] > max(0.7, baseline + 0.3)
    assert trained["mse"] < 0.5 * untrained["mse"]
    assert trainer.best_result is not None and trainer.best_result["val/perplexity_l0"] > 8  # codes in use


# -- the defaults (see RQVAETrainingConfig's docstring for the measurements behind them) ------------------------
def test_defaults_are_tiger_encoder_with_commitment_one_and_agree_between_config_and_model() -> None:
    config = RQVAETrainingConfig()
    assert config.hidden_dim == [512, 256, 128] and config.commitment_cost == 1.0
    assert config.monitor == RQVAETrainer.default_config().monitor == "val/reconstruction_loss"
    model = RqVae(input_dim=config.input_dim)  # the model's own defaults are the config's
    assert model.hparams()["hidden_dim"] == config.hidden_dim and model.commitment_cost == config.commitment_cost
    widths = [(layer.in_features, layer.out_features) for layer in model.encoder if isinstance(layer, torch.nn.Linear)]
    assert widths == [(384, 512), (512, 256), (256, 128), (128, 32)]
    assert RQVAETrainingConfig.from_dict({"hidden_dim": 64}).hidden_dim == 64  # the seed's int still works
    assert config.replace(hidden_dim=[64, 32]).hidden_dim == [64, 32]
    for bad in (0, [64, 0]):
        with pytest.raises(ConfigError, match="hidden_dim"):
            RQVAETrainingConfig(hidden_dim=bad)


def test_cosine_schedule_spans_max_epochs_unless_told_otherwise() -> None:
    def scheduler(**settings: Any) -> Any:
        return RQVAETrainer(_small_model(), RQVAETrainingConfig(progress_bar=False).replace(**settings)).scheduler

    assert isinstance(scheduler(max_epochs=7), torch.optim.lr_scheduler.CosineAnnealingLR)
    assert scheduler(max_epochs=7).T_max == 7 and scheduler(max_epochs=9).T_max == 9
    assert scheduler(max_epochs=7, scheduler_params={"T_max": 3, "eta_min": 1e-5}).T_max == 3
    assert scheduler(scheduler=None) is None
    step = RQVAETrainer(_small_model(), RQVAETrainingConfig(progress_bar=False),  # another schedule gets no T_max
                        scheduler_fn=torch.optim.lr_scheduler.StepLR, scheduler_params={"step_size": 2})
    assert isinstance(step.scheduler, torch.optim.lr_scheduler.StepLR)
    cosine = RQVAETrainer(_small_model(), RQVAETrainingConfig(max_epochs=5, progress_bar=False),
                          scheduler_fn=torch.optim.lr_scheduler.CosineAnnealingLR)  # torch-rechub's way
    assert cosine.scheduler.T_max == 5
    # One whole cycle: the rate falls to zero by the last epoch.
    features = _structured_items(n=60)
    trainer = RQVAETrainer(_small_model(input_dim=24), RQVAETrainingConfig(input_dim=24, max_epochs=3, batch_size=32,
                                                                           progress_bar=False), TensorDataset(features))
    train_loader, val_loader, _ = trainer.create_dataloaders()
    assert trainer.learning_rate == pytest.approx(1e-3)
    trainer.fit(train_loader, val_loader, verbose=False, saved=False)
    assert trainer.learning_rate == pytest.approx(0.0, abs=1e-12)


def test_reconstruction_and_quantization_metrics_are_reported_as_configured() -> None:
    features = _structured_items(n=120)
    for reconstruction, quantization in ((True, False), (False, True), (False, False)):
        torch.manual_seed(0)
        recorder = _Recorder()
        config = RQVAETrainingConfig(input_dim=24, max_epochs=1, batch_size=32, progress_bar=False,
                                     eval_reconstruction=reconstruction, eval_quantization=quantization)
        trainer = RQVAETrainer(_small_model(input_dim=24), config, TensorDataset(features), logger=recorder)
        train_loader, val_loader, _ = trainer.create_dataloaders()
        trainer.fit(train_loader, val_loader, verbose=False, saved=False)
        logged = {key for metrics in recorder.metrics for key in metrics if key.startswith("val/")}
        assert {"val/loss", "val/reconstruction_loss"} <= logged  # the monitored loss is always there
        assert ("val/cosine_similarity" in logged) is reconstruction and ("val/mse" in logged) is reconstruction
        assert ("val/perplexity_l0" in logged) is quantization and ("val/collision_rate" in logged) is quantization
        assert ("cosine_similarity" in trainer.metric_names()) is reconstruction


def test_catalogue_collision_rate_covers_every_item_not_just_the_validation_split() -> None:
    torch.manual_seed(0)
    features = _structured_items(n=120)
    features[20:50] = features[20]  # 30 copies: in the catalogue they must collide, whatever the model
    recorder = _Recorder()
    config = RQVAETrainingConfig(input_dim=24, max_epochs=1, batch_size=32, progress_bar=False, eval_catalogue=True)
    trainer = RQVAETrainer(_small_model(input_dim=24), config, TensorDataset(features), logger=recorder)
    assert "catalogue_collision_rate" in trainer.metric_names()
    train_loader, val_loader, _ = trainer.create_dataloaders()
    trainer.fit(train_loader, val_loader, verbose=False, saved=False)
    logged = next(m["val/catalogue_collision_rate"] for m in recorder.metrics if "val/catalogue_collision_rate" in m)
    assert logged == collision_rate(trainer.model.generate_semantic_ids(features)) >= 30 / 120
    watching = config.replace(monitor="val/catalogue_collision_rate", mode="min")
    RQVAETrainer(_small_model(input_dim=24), watching, TensorDataset(features)).check_monitor()
    # Without the catalogue (loaders of one's own) or without asking, it is not promised, so it cannot be monitored.
    bare = RQVAETrainer(_small_model(input_dim=24), watching)
    unasked = RQVAETrainer(_small_model(input_dim=24), watching.replace(eval_catalogue=False), TensorDataset(features))
    for other in (bare, unasked):
        assert "catalogue_collision_rate" not in other.metric_names()
        with pytest.raises(ConfigError, match="'val/catalogue_collision_rate' is not computed"):
            other.check_monitor()
    with pytest.raises(ConfigError, match="RQVAETrainer was built without a dataset"):
        bare.catalogue_collision_rate()
