"""Amazon Beauty 5-core (S3-Rec's sequences) with item titles: the files and their reader.

Shared by the plugins that train on it (next-item models in rec-trainers, semantic IDs and
TIGER in rec-genrec), so the files, checksums and id order are declared once.

* ``amazon-beauty-5core/s3rec/Beauty.txt``: one line per user, ``user item item ...`` in time
  order (no timestamps); 22,363 users, 12,101 items, 198,502 interactions (Zhou et al.,
  CIKM 2020; the set used by ICLRec, P5 and TIGER).
* ``amazon-beauty-5core/derived/beauty_items.csv``: ``item_id,asin,title`` for every item; the
  catalogue's text is the title (7 are empty) and ``asin`` an attribute.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rec_core.datasets.spec import DEFAULT_SEED, LoadContext

if TYPE_CHECKING:
    from rec_core.datasets.task_data import TaskData

__all__ = ["BEAUTY_FILE", "BEAUTY_ITEMS_FILE", "load_amazon_beauty"]

BEAUTY_FILE = (
    "amazon-beauty-5core/s3rec/Beauty.txt",
    "226cce9c3105299ca0db9615d7d3fb32b3175e90da43100ae352599f0f0107b8",
)
BEAUTY_ITEMS_FILE = (
    "amazon-beauty-5core/derived/beauty_items.csv",
    "62753879e0fc2f15d41e08522e5857f4c5fd91f5a8ab15a809565c2bea53057d",
)


def load_amazon_beauty(*, data_dir: Path | None = None, cache_dir: Path | None = None, seed: int = DEFAULT_SEED,
                       embed_dim: int | None = None, **options: Any) -> TaskData:
    """Read Beauty's sequences and titles (files found in ``data_dir``, ``$REC_DATA_DIR``, the cache).

    Args:
        data_dir: Folder to look in before ``$REC_DATA_DIR``.
        cache_dir: The rec cache folder.
        seed: Seed of a random split.
        embed_dim: Size of the ``user``/``item`` features (default 64).
        **options: :func:`~rec_core.datasets.load_interactions` options (``split``,
            ``ratios``, ``min_user_interactions``).

    Raises:
        DataError: A file is missing, damaged or malformed.
        ConfigError: A temporal split (the file has no times) or an unknown option.
    """
    from rec_core.datasets.interactions import DEFAULT_EMBED_DIM, load_interactions

    context = LoadContext(data_dir, cache_dir, seed, DEFAULT_EMBED_DIM if embed_dim is None else embed_dim)
    path, items = context.file(*BEAUTY_FILE), context.file(*BEAUTY_ITEMS_FILE)
    return load_interactions(
        path, items=items, item_key="item_id", item_text="title",
        seed=context.seed, embed_dim=context.embed_dim, **options,
    )  # fmt: skip
