"""torch-rechub 0.9's RQ-VAE and TIGER on rec's items and leave-one-out split, for ``genrec_quality.py``.

Both runners use torch-rechub's own components, with the settings of its examples
(``examples/generative/run_rqvae_amazon_books.py``, ``run_tiger_movielens.py``), bounded
by a wall-clock budget instead of a number of epochs:

* :func:`run_rechub_rqvae`: ``RQVAEModel`` (3 levels x 256 codes, ``e_dim`` 32, encoder
  ``[2048, 1024, 512, 256, 128, 64]``, k-means initialised codebooks, no Sinkhorn while
  training) trained epoch by epoch by ``rqvae_trainer.Trainer.train_one_epoch`` (Adam,
  lr 1e-3, batch 512) for at most the example's 50 epochs; then ``get_indices`` gives the
  codes in item order and ``generate_semantic_ids`` its Sinkhorn-based de-duplication.
* :func:`run_rechub_tiger`: ``TIGERModel`` (their ``T5ForConditionalGeneration``) with
  the example's token layout (one token per level and code, ``</s>`` after the history and
  after the target, decoding starts from the pad token), trained by a plain loop with the
  example's ``transformers.Trainer`` settings (AdamW lr 5e-4, weight decay 0.01, batch
  256 x 2 accumulation, 1% warm-up then cosine, gradient clip 1.0, best validation loss
  kept); tested by beam search constrained with torch-rechub's ``Trie`` through
  ``prefix_allowed_tokens_fn``.

What breaks in torch-rechub is caught and returned as ``{"error": "<stage>: <one line>"}``;
bad inputs raise ``ValueError``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["run_rechub_rqvae", "run_rechub_tiger"]

RQVAE_SETTINGS: dict[str, Any] = {
    "num_emb_list": [256, 256, 256], "e_dim": 32, "layers": [2048, 1024, 512, 256, 128, 64], "dropout_prob": 0.0,
    "bn": False, "loss_type": "mse", "quant_loss_weight": 1.0, "beta": 0.25, "kmeans_init": True,
    "kmeans_iters": 100, "sk_epsilons": [0.0, 0.0, 0.0], "sk_iters": 50,
}
"""``RQVAEModel`` keyword arguments: the defaults of torch-rechub's ``run_rqvae_amazon_books.py``."""

SID_PREFIX = ["<a_{}>", "<b_{}>", "<c_{}>", "<d_{}>", "<e_{}>"]

T5_SIZES: dict[str, dict[str, Any]] = {
    # The TIGER paper's model (Rajput et al. 2023), the size rec's Tiger uses.
    "paper": {"d_model": 128, "d_kv": 64, "d_ff": 1024, "num_layers": 4, "num_decoder_layers": 4, "num_heads": 6},
    # t5-small's architecture, which torch-rechub's examples train from scratch (T5Config.from_pretrained).
    "t5-small": {"d_model": 512, "d_kv": 64, "d_ff": 2048, "num_layers": 6, "num_decoder_layers": 6, "num_heads": 8},
}
PAD, EOS, RESERVED = 0, 1, 3  # T5's pad, </s> and unk; the semantic-ID tokens follow, as added tokens do


class _StageError(Exception):
    """A torch-rechub or transformers call failed; the message is the report's one line."""


@contextlib.contextmanager
def _stage(name: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:  # torch-rechub / transformers breakage, reported rather than raised
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise _StageError(f"{name}: {type(exc).__name__}: {first}") from exc


@contextlib.contextmanager
def _quiet(enabled: bool) -> Iterator[None]:
    """Silence torch-rechub's tqdm bars and prints and transformers' deprecation warnings and log lines."""
    if not enabled:
        yield
        return
    hf_logging = sys.modules.get("transformers.utils.logging")
    verbosity = hf_logging.get_verbosity() if hf_logging is not None else None
    try:
        if hf_logging is not None:
            hf_logging.set_verbosity_error()
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        if hf_logging is not None and verbosity is not None:
            hf_logging.set_verbosity(verbosity)


def _shared_share(codes: np.ndarray) -> float:
    """Return the share of rows whose ID another row shares (rec's ``collision_rate``)."""
    if len(codes) == 0:
        return 0.0
    _, inverse, counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    return float((counts[inverse.reshape(-1)] > 1).mean())


# -- RQ-VAE ------------------------------------------------------------------------------------------------------


def run_rechub_rqvae(embeddings: np.ndarray, *, seconds: float, seed: int, max_epochs: int = 50,
                     batch_size: int = 512, learning_rate: float = 1e-3, dedup: bool = True,
                     quiet: bool = True) -> dict[str, Any]:
    """Train torch-rechub's RQ-VAE on item embeddings within a budget; return its semantic IDs and figures.

    Epochs run while the next one is expected to end inside ``seconds`` (at least one), up
    to ``max_epochs`` (the example's 50); the last weights are used (the example evaluates
    and checkpoints only every 50 epochs, so it too uses the 50th epoch's weights).

    Args:
        embeddings: ``(n_items, d)`` float item vectors, row ``i`` = item id ``i + 1``.
        seconds: Training budget (wall clock).
        seed: Seeds torch (initialisation, shuffling) and numpy (their k-means initialisation).
        max_epochs: Epoch cap.
        batch_size: Rows per step (the example's 512).
        learning_rate: Adam's learning rate (the example's 1e-3; weight decay 1e-5).
        dedup: Also run ``generate_semantic_ids`` (their collision de-duplication).
        quiet: Hide torch-rechub's progress bars and the collision groups it prints.

    Returns:
        ``codes`` ``(n_items, 3)`` int64 (``get_indices``, before de-duplication, item
        order); ``collision_rate`` (share of items whose ID another item shares);
        ``collision_rate_rechub`` (their measure, ``(n - distinct) / n``);
        ``cosine_similarity`` (mean reconstruction cosine over all items, eval mode);
        ``seconds`` (training), ``epochs``, ``s_per_epoch``; with ``dedup``:
        ``codes_dedup``, ``collision_rate_dedup`` and ``dedup_seconds``. Or ``{"error": ...}``.

    Raises:
        ValueError: ``embeddings`` is not a non-empty finite 2-D array.
    """
    x = np.ascontiguousarray(embeddings, dtype=np.float32)
    if x.ndim != 2 or len(x) == 0 or not np.isfinite(x).all():
        raise ValueError(f"embeddings must be a non-empty finite (n_items, d) array, got shape {x.shape}")
    try:
        return _rqvae(x, seconds=seconds, seed=seed, max_epochs=max_epochs, batch_size=batch_size,
                      learning_rate=learning_rate, dedup=dedup, quiet=quiet)
    except _StageError as exc:
        return {"error": str(exc)}


def _rqvae(x: np.ndarray, *, seconds: float, seed: int, max_epochs: int, batch_size: int, learning_rate: float,
           dedup: bool, quiet: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader

    with _stage("import"):
        from torch_rechub.models.generative.rqvae import RQVAEModel
        from torch_rechub.trainers.rqvae_trainer import Trainer
        from torch_rechub.utils.data import EmbDataset

    torch.manual_seed(seed)
    np.random.seed(seed)  # sklearn's KMeans (their codebook initialisation) draws from numpy's global state
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "embeddings.npy")
        np.save(path, x)
        with _stage("RQVAEModel"), _quiet(quiet):
            data = EmbDataset(path)
            model = RQVAEModel(in_dim=data.dim, **copy.deepcopy(RQVAE_SETTINGS))
            trainer = Trainer(model, optimizer_fn=torch.optim.Adam,
                              optimizer_params={"lr": learning_rate, "weight_decay": 1e-5}, n_epoch=max_epochs,
                              device="cpu", model_path=folder)
        # num_workers=0: a loader process competes with the two compute threads (shared/notes/cpu-threads.md)
        loader = DataLoader(data, batch_size=batch_size, shuffle=True,
                            generator=torch.Generator().manual_seed(seed))
        started, epochs, last = time.perf_counter(), 0, 0.0
        with _stage("Trainer.train_one_epoch"), _quiet(quiet):
            while epochs < max_epochs:
                epoch_started = time.perf_counter()
                trainer.train_one_epoch(loader)
                epochs += 1
                last = time.perf_counter() - epoch_started
                if time.perf_counter() - started + last > seconds:
                    break
        train_seconds = time.perf_counter() - started

    all_x = torch.from_numpy(x)
    model.eval()
    with _stage("RQVAEModel.get_indices"), torch.no_grad():
        codes, cosines = [], []
        for rows in all_x.split(4096):
            codes.append(model.get_indices(rows, use_sk=False))
            out, _, _ = model(rows, use_sk=False)
            cosines.append(F.cosine_similarity(out, rows, dim=1))
        codes_np = torch.cat(codes).long().numpy()
    distinct = len(np.unique(codes_np, axis=0))
    result: dict[str, Any] = {
        "codes": codes_np, "collision_rate": _shared_share(codes_np),
        "collision_rate_rechub": (len(codes_np) - distinct) / len(codes_np),
        "cosine_similarity": float(torch.cat(cosines).mean()), "seconds": train_seconds, "epochs": epochs,
        "s_per_epoch": train_seconds / max(epochs, 1), "last_epoch_s": last,
    }
    if dedup:
        started = time.perf_counter()
        with _stage("RQVAEModel.generate_semantic_ids"), _quiet(quiet):
            ordered = DataLoader(all_x, batch_size=batch_size, shuffle=False)  # their example shuffles: ids lose order
            named = model.generate_semantic_ids(all_x, ordered, prefix=SID_PREFIX, use_sk=True, device="cpu")
        pattern = re.compile(r"<[a-e]_(\d+)>")
        deduped = np.array([[int(pattern.fullmatch(t).group(1)) for t in named[i]] for i in range(len(x))],
                           dtype=np.int64)
        result.update(codes_dedup=deduped, collision_rate_dedup=_shared_share(deduped),
                      dedup_seconds=time.perf_counter() - started)
    return result


# -- TIGER -------------------------------------------------------------------------------------------------------


class _Tokens:
    """The example's layout: one token per (level, code) after T5's pad, ``</s>`` and unk."""

    def __init__(self, semantic_ids: np.ndarray) -> None:
        sizes = semantic_ids[1:].max(axis=0) + 1
        self.offsets = RESERVED + np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.vocab_size = int(RESERVED + sizes.sum())
        self.table = semantic_ids + self.offsets  # (n_items + 1, L) token ids; row 0 unused
        self.item_of = {tuple(row): item for item, row in enumerate(self.table.tolist()) if item > 0}

    def history(self, items: Sequence[int], max_history: int) -> np.ndarray:
        """Return the history's tokens (the last ``max_history`` items) then ``</s>``."""
        tail = np.asarray(items[-max_history:] if max_history > 0 else items, dtype=np.int64)
        return np.concatenate([self.table[tail].reshape(-1), [EOS]])

    def target(self, item: int) -> np.ndarray:
        """Return the target's tokens then ``</s>`` (the labels)."""
        return np.concatenate([self.table[item], [EOS]])


def _pad(rows: Sequence[np.ndarray]) -> tuple[Any, Any]:
    """Right-pad token rows with the pad token (as the example's tokenizer does); return ids and mask."""
    import torch

    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), PAD, dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
    ids_t = torch.from_numpy(ids)
    return ids_t, (ids_t != PAD).long()


def run_rechub_tiger(
    train_histories: Sequence[tuple[int, Sequence[int]]],
    val_cases: Sequence[tuple[int, Sequence[int], int]],
    test_cases: Sequence[tuple[int, Sequence[int], int]],
    semantic_ids: np.ndarray,
    *,
    minutes: float,
    seed: int,
    k_values: Sequence[int] = (5, 10),
    max_eval_cases: int | None = None,
    max_val_cases: int | None = 2000,
    num_beams: int = 20,
    architecture: str = "paper",
    max_history: int = 20,
    batch_size: int = 256,
    gradient_accumulation_steps: int = 2,
    learning_rate: float = 5e-4,
    weight_decay: float = 0.01,
    warmup_ratio: float = 0.01,
    eval_batch_size: int = 32,
    quiet: bool = True,
) -> dict[str, Any]:
    """Train torch-rechub's TIGERModel within a budget; test it by constrained beam search.

    Training rows: every prefix of each user's train items predicts the next item (the
    last ``max_history`` items of the prefix), as torch-rechub's ``TigerSeqDataset`` cuts
    them. Optimiser steps run while the next one is expected to end inside the budget (at
    least one); the learning rate warms up over the first ``warmup_ratio`` of the budget and
    follows a cosine to 0 at its end (the example's schedule, over time instead of over 200
    epochs). At each epoch's end, and at the budget's end when an epoch ended before, the
    teacher-forced loss on ``val_cases`` is measured and the best weights are kept (the
    example's ``load_best_model_at_end`` on ``eval_loss``); validation counts in the budget.

    Args:
        train_histories: ``(user_id, train items in time order)`` per user.
        val_cases: ``(user_id, history, target)``: the validation loss's cases.
        test_cases: ``(user_id, history, target)``: the ranked cases.
        semantic_ids: ``(n_items + 1, L)`` int64 table, row = item id, row 0 padding; rows
            1.. must be distinct.
        minutes: Training budget (wall clock, validation included).
        seed: Seeds the initialisation, the shuffling and the test subsample.
        k_values: Cut-offs of ``recall@k`` (= hit@k, one target) and ``ndcg@k``.
        max_eval_cases: Rank a seeded random subset of this many test cases (``None``: all).
        max_val_cases: Measure the validation loss on a seeded random subset of this many
            validation cases (``None``: all; a pass over 2,000 takes ~25 s on 2 shared cores).
        num_beams: Beam width (the example's 20; at least ``max(k_values)``).
        architecture: ``"paper"`` (TIGER's 128-wide, 4 + 4 layers, 6 heads, d_ff 1024) or
            ``"t5-small"`` (the example's ``T5Config.from_pretrained("t5-small")`` sizes).
        max_history: Items of history kept (the example's 20).
        batch_size: Rows per forward pass (the example's 256).
        gradient_accumulation_steps: Forward passes per optimiser step (the example's 2).
        learning_rate: AdamW's peak learning rate (the example's 5e-4).
        weight_decay: AdamW's weight decay (the example's 0.01; not on layer norms).
        warmup_ratio: Share of the budget spent warming up (the example's 0.01).
        eval_batch_size: Test cases per ``generate`` call.
        quiet: Hide transformers' deprecation warnings.

    Returns:
        ``recall@k`` and ``ndcg@k`` per ``k``; ``seconds`` (training + validation), ``steps``
        (optimiser steps), ``epochs`` (fractional), ``s_per_epoch``, ``s_per_step``,
        ``eval_seconds``, ``eval_cases``, ``invalid`` (generated sequences that are no item),
        ``best_val_loss`` (``inf`` when not measured), ``val_curve``, ``train_rows``, ``params``, ``architecture``,
        ``vocab_size``. Or ``{"error": ...}``.

    Raises:
        ValueError: Malformed ``semantic_ids``, no training row or no test case, bad ``k_values``.
    """
    table = np.asarray(semantic_ids, dtype=np.int64)
    if table.ndim != 2 or len(table) < 2 or (table[1:] < 0).any():
        raise ValueError(f"semantic_ids must be an (n_items + 1, L) table of codes >= 0, got shape {table.shape}")
    if len(np.unique(table[1:], axis=0)) != len(table) - 1:
        raise ValueError("semantic_ids rows 1.. must be distinct (add a collision level first)")
    if architecture not in T5_SIZES:
        raise ValueError(f"architecture must be one of {', '.join(T5_SIZES)} (got {architecture!r})")
    ks = sorted(set(int(k) for k in k_values))
    if not ks or ks[0] < 1 or num_beams < ks[-1]:
        raise ValueError(f"k_values must be positive and at most num_beams={num_beams} (got {list(k_values)})")
    if not test_cases:
        raise ValueError("no test case")
    try:
        return _tiger(train_histories, val_cases, test_cases, table, minutes=minutes, seed=seed, ks=ks,
                      max_eval_cases=max_eval_cases, max_val_cases=max_val_cases, num_beams=num_beams,
                      architecture=architecture, max_history=max_history, batch_size=batch_size,
                      accumulation=gradient_accumulation_steps, learning_rate=learning_rate,
                      weight_decay=weight_decay, warmup_ratio=warmup_ratio, eval_batch_size=eval_batch_size,
                      quiet=quiet)
    except _StageError as exc:
        return {"error": str(exc)}


def _training_rows(tokens: _Tokens, histories: Sequence[tuple[int, Sequence[int]]],
                   max_history: int) -> tuple[list[np.ndarray], np.ndarray]:
    inputs, targets = [], []
    for _, items in histories:
        for i in range(1, len(items)):
            inputs.append(tokens.history(items[:i], max_history))
            targets.append(tokens.target(items[i]))
    return inputs, np.stack(targets) if targets else np.zeros((0, tokens.table.shape[1] + 1), dtype=np.int64)


def _case_rows(tokens: _Tokens, cases: Sequence[tuple[int, Sequence[int], int]],
               max_history: int) -> tuple[list[np.ndarray], np.ndarray]:
    kept = [c for c in cases if len(c[1])]  # a case without history has nothing to encode
    inputs = [tokens.history(list(h), max_history) for _, h, _ in kept]
    return inputs, np.array([t for _, _, t in kept], dtype=np.int64)


def _subsample(cases: Sequence[Any], limit: int | None, seed: int) -> list[Any]:
    """Return ``limit`` cases drawn without replacement (seeded, original order kept), or all of them."""
    if limit is None or limit >= len(cases):
        return list(cases)
    picked = np.sort(np.random.default_rng(seed).choice(len(cases), limit, replace=False))
    return [cases[i] for i in picked]


def _lr_factor(fraction: float, warmup: float) -> float:
    """Return the learning-rate multiplier at ``fraction`` of the budget: linear warm-up, then cosine to 0."""
    if fraction < warmup:
        return max(fraction / warmup, 1e-3)
    progress = min((fraction - warmup) / max(1.0 - warmup, 1e-9), 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _tiger(histories, val_cases, test_cases, table: np.ndarray, *, minutes: float, seed: int, ks: list[int],
           max_eval_cases: int | None, max_val_cases: int | None, num_beams: int, architecture: str,
           max_history: int, batch_size: int, accumulation: int, learning_rate: float, weight_decay: float,
           warmup_ratio: float, eval_batch_size: int, quiet: bool) -> dict[str, Any]:
    import torch

    with _stage("import"):
        from torch_rechub.models.generative.tiger import TIGERModel
        from torch_rechub.utils.data import Trie
        from transformers import T5Config

    tokens = _Tokens(table)
    train_inputs, train_targets = _training_rows(tokens, histories, max_history)
    if not train_inputs:
        raise ValueError("no training row (every user needs at least two train items)")
    val_inputs, val_items = _case_rows(tokens, _subsample(val_cases, max_val_cases, seed + 1), max_history)
    val_targets = np.stack([tokens.target(t) for t in val_items]) if len(val_items) else None

    torch.manual_seed(seed)
    with _stage("TIGERModel"), _quiet(quiet):
        config = T5Config(vocab_size=tokens.vocab_size, dropout_rate=0.1, feed_forward_proj="relu",
                          relative_attention_num_buckets=32, pad_token_id=PAD, eos_token_id=EOS,
                          decoder_start_token_id=PAD, **T5_SIZES[architecture])
        model = TIGERModel(config)
        model.set_hyper(1.0)  # the example's temperature
    decay = [p for n, p in model.named_parameters() if "layer_norm" not in n and not n.endswith("bias")]
    no_decay = [p for n, p in model.named_parameters() if "layer_norm" in n or n.endswith("bias")]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=learning_rate)
    rng = np.random.default_rng(seed)
    budget = minutes * 60.0

    def loss_on(inputs: list[np.ndarray], targets: np.ndarray) -> Any:
        ids, mask = _pad(inputs)
        return model(input_ids=ids, attention_mask=mask, labels=torch.from_numpy(targets), use_cache=False).loss

    def validate() -> float:
        model.eval()
        total = 0.0
        with torch.no_grad():
            for start in range(0, len(val_inputs), 512):
                chunk = val_inputs[start:start + 512]
                total += float(loss_on(chunk, val_targets[start:start + 512])) * len(chunk)
        model.train()
        return total / len(val_inputs)

    best_state, best_val, curve = None, math.inf, []
    steps = rows_seen = 0
    validated_at = -1  # the step count of the last validation
    step_seconds: list[float] = []
    started = time.perf_counter()
    model.config.use_cache = False
    model.train()
    with _stage("TIGERModel.forward/backward"), _quiet(quiet):
        stop = False
        while not stop:
            order = rng.permutation(len(train_inputs))
            chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
            for first in range(0, len(chunks), accumulation):
                elapsed = time.perf_counter() - started
                mean_step = float(np.mean(step_seconds[-20:])) if step_seconds else 0.0
                if steps and elapsed + mean_step > budget:
                    stop = True
                    break
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate * _lr_factor(elapsed / budget if budget > 0 else 1.0, warmup_ratio)
                step_started = time.perf_counter()
                group_chunks = chunks[first:first + accumulation]
                n_rows = sum(len(c) for c in group_chunks)
                for chunk in group_chunks:
                    loss = loss_on([train_inputs[i] for i in chunk], train_targets[chunk])
                    (loss * len(chunk) / n_rows).backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                steps += 1
                rows_seen += n_rows
                step_seconds.append(time.perf_counter() - step_started)
            # each epoch's end; the budget's end only when there is an earlier epoch to compare with
            if val_targets is not None and (not stop or curve) and steps != validated_at:
                val, validated_at = validate(), steps
                curve.append({"epoch": rows_seen / len(train_inputs), "seconds": time.perf_counter() - started,
                              "val_loss": val})
                if val < best_val:
                    best_val, best_state = val, copy.deepcopy(model.state_dict())
    train_seconds = time.perf_counter() - started
    if best_state is not None:
        model.load_state_dict(best_state)
    epochs = rows_seen / len(train_inputs)

    # -- test: beam search constrained to the catalogue by torch-rechub's Trie ------------------------------------
    cases = _subsample(test_cases, max_eval_cases, seed)
    test_inputs, test_items = _case_rows(tokens, cases, max_history)
    trie = Trie([[PAD, *row, EOS] for row in tokens.table[1:].tolist()])
    allowed: Callable[[int, Any], list[int]] = trie.def_prefix_allowed_tokens_fn(trie)
    levels = table.shape[1]
    hits = {k: 0.0 for k in ks}
    gains = {k: 0.0 for k in ks}
    invalid = 0
    model.eval()
    model.config.use_cache = True
    eval_started = time.perf_counter()
    with _stage("TIGERModel.generate"), _quiet(quiet), torch.no_grad():
        for start in range(0, len(test_inputs), eval_batch_size):
            ids, mask = _pad(test_inputs[start:start + eval_batch_size])
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=levels + 1,
                                 prefix_allowed_tokens_fn=allowed, num_beams=num_beams,
                                 num_return_sequences=ks[-1], early_stopping=True)
            sequences = out.reshape(len(ids), ks[-1], -1)[:, :, 1:levels + 1].tolist()
            for row, target in zip(sequences, test_items[start:start + eval_batch_size].tolist(), strict=True):
                ranked = [tokens.item_of.get(tuple(seq)) for seq in row]
                invalid += sum(item is None for item in ranked)
                if target in ranked:
                    rank = ranked.index(target) + 1
                    for k in ks:
                        if rank <= k:
                            hits[k] += 1.0
                            gains[k] += 1.0 / math.log2(rank + 1)
    eval_seconds = time.perf_counter() - eval_started
    n_cases = len(cases)  # cases without history count as misses
    result: dict[str, Any] = {}
    for k in ks:
        result[f"recall@{k}"] = hits[k] / n_cases
        result[f"ndcg@{k}"] = gains[k] / n_cases
    result.update(
        seconds=train_seconds, steps=steps, epochs=epochs, s_per_epoch=train_seconds / epochs if epochs else math.nan,
        s_per_step=float(np.mean(step_seconds)), eval_seconds=eval_seconds, eval_cases=n_cases,
        eval_s_per_case=eval_seconds / max(n_cases, 1), invalid=invalid, best_val_loss=best_val, val_curve=curve,
        train_rows=len(train_inputs), params=sum(p.numel() for p in model.parameters()), architecture=architecture,
        vocab_size=tokens.vocab_size,
    )
    return result
