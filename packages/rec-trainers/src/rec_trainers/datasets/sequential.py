"""Interaction data sets for next-item recommendation (task ``seq``): who interacted with what, in order.

Each loads into a :class:`~rec_core.datasets.TaskData` by
:func:`~rec_core.datasets.load_interactions` (or its in-memory twin
:func:`~rec_core.datasets.interactions_from_frame`): users and items get ids ``1..n`` in
the natural order of the original ids, interactions are ordered by user then time, and
the split is leave-one-out by default: each user's last item is the test target, the one
before it the validation target, the rest train (``split="temporal"`` or ``"random"``
with ``ratios`` instead). Users with fewer than ``min_user_interactions`` (default 3)
interactions are dropped first; ``info["dropped_users"]`` says how many.

* ``amazon-beauty``: Amazon reviews 2014, category Beauty, 5-core, as processed by S3-Rec
  (Zhou et al., CIKM 2020) and used by ICLRec, P5 and TIGER: ``amazon-beauty-5core/s3rec/Beauty.txt``
  (one line per user, ``user item item …`` in time order, no timestamps); 22,363 users,
  12,101 items, 198,502 interactions. The catalogue has each item's title (``ItemCatalogue.text``)
  and ASIN (attribute ``asin``) from ``derived/beauty_items.csv``.
* ``ml-100k``: MovieLens 100K (GroupLens) in RecBole's atomic format,
  ``movielens-100k-recbole/ml-100k.inter.gz``: every rating is an interaction (implicit
  feedback), ordered by timestamp (ties by file order); 943 users, 1,682 items, 100,000
  interactions. Titles (``movie_title``) and the attributes ``release_year`` and ``class``
  (genres) come from ``ml-100k.item``; the user attributes (``TaskData.users``) ``age``,
  ``gender``, ``occupation`` and ``zip_code`` from ``ml-100k.user`` (side features of the
  matching trainer).
* ``diginetica-sample``: torch-rechub's 500-view sample of the CIKM Cup 2016 DIGINETICA
  item views (``rechub-samples/diginetica/train-item-views-sample.csv``). Sessions are the
  users; views are ordered by ``eventdate`` then ``timeframe`` (milliseconds into the
  session), the time being the date plus that offset. For smoke tests only.
* ``yoochoose-sample``: torch-rechub's 500-click sample of the RecSys Challenge 2015
  YOOCHOOSE clicks (``rechub-samples/yoochoose/yoochoose-clicks-sample.dat``). Sessions
  are the users, ordered by the click timestamp (UTC). For smoke tests only.

Options (``load(**params)``): ``split`` (``"leave-one-out"``), ``ratios`` ((0.8, 0.1, 0.1),
for the temporal and random splits) and ``min_user_interactions`` (3). ``seed`` only
matters to the random split; ``embed_dim`` (default 64) sizes the ``user`` and ``item``
features. Every file's SHA-256 is checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rec_core.datasets.interactions import DEFAULT_EMBED_DIM, interactions_from_frame, load_interactions
from rec_core.datasets.spec import DEFAULT_SEED, LoadContext, check_params
from rec_core.datasets.splits import INTERACTION_SPLITS
from rec_core.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

    from rec_core.datasets.task_data import TaskData

__all__ = [
    "AMAZON_BEAUTY",
    "DIGINETICA_SAMPLE",
    "ML_100K",
    "YOOCHOOSE_SAMPLE",
    "AmazonBeautyDataset",
    "DigineticaSampleDataset",
    "InteractionDataset",
    "Ml100kDataset",
    "YoochooseSampleDataset",
    "read_diginetica",
    "read_yoochoose",
]

ML_100K_FILE = (
    "movielens-100k-recbole/ml-100k.inter.gz",
    "deb10cf94779ca27e39881eb0e0bd0474e6f72463b337cc0dc5ad7e0d7ca0dc4",
)
ML_100K_ITEMS_FILE = (
    "movielens-100k-recbole/ml-100k.item",
    "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
)
ML_100K_USERS_FILE = (
    "movielens-100k-recbole/ml-100k.user",
    "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
)
DIGINETICA_FILE = (
    "rechub-samples/diginetica/train-item-views-sample.csv",
    "a49405f79e0a27c27a7d8fcc6bbb97016b92097cdab2477ba83717379630e77e",
)
YOOCHOOSE_FILE = (
    "rechub-samples/yoochoose/yoochoose-clicks-sample.dat",
    "698e8d2ee91442be9294b50ac773693c38302e52f7f7aae947da93c46322c19f",
)
YOOCHOOSE_COLUMNS = ("session_id", "timestamp", "item_id", "category")
"""The columns of a YOOCHOOSE clicks file, which has no header."""


class InteractionDataset:
    """Base of the named interaction data sets: checks the options, then :meth:`read` loads the files.

    A subclass sets :attr:`default_name` (the name used when loaded directly; the pipeline
    replaces it with the registered one) and implements :meth:`read`.
    """

    default_name: ClassVar[str] = ""
    options: ClassVar[dict[str, Any]] = {
        "split": "leave-one-out",
        "ratios": (0.8, 0.1, 0.1),
        "min_user_interactions": 3,
    }

    def load(
        self,
        *,
        data_dir: Path | None = None,
        cache_dir: Path | None = None,
        seed: int = DEFAULT_SEED,
        embed_dim: int | None = None,
        **params: Any,
    ) -> TaskData:
        """Check the options, read, encode and split the interactions (see :class:`~rec_core.datasets.DatasetSpec`).

        Raises:
            ConfigError: On an unknown option, an unknown split or bad ratios, or a temporal
                split of a data set without times.
            DataError: If a file is missing, damaged or malformed.
        """
        options = check_params(self.default_name, params, self.options)
        if options["split"] not in INTERACTION_SPLITS:  # before looking for files
            raise ConfigError(
                f"data set {self.default_name!r}: unknown split {options['split']!r} "
                f"(splits: {', '.join(INTERACTION_SPLITS)})"
            )
        dim = DEFAULT_EMBED_DIM if embed_dim is None else embed_dim
        data = self.read(options, LoadContext(data_dir, cache_dir, seed, dim))
        data.name = self.default_name
        return data

    def read(self, options: dict[str, Any], context: LoadContext) -> TaskData:
        """Return the data set's interactions, loaded with ``options`` (:attr:`options` updated with the caller's)."""
        raise NotImplementedError


class AmazonBeautyDataset(InteractionDataset):
    """Amazon Beauty 5-core, S3-Rec's sequences, with item titles and ASINs (see the module docs)."""

    default_name: ClassVar[str] = "amazon-beauty"

    def read(self, options: dict[str, Any], context: LoadContext) -> TaskData:
        """Load ``Beauty.txt`` and the item titles.

        Raises:
            DataError: If a file is missing, damaged or malformed.
            ConfigError: On a temporal split (the file has no times).
        """
        from rec_core.datasets.amazon_beauty import load_amazon_beauty

        return load_amazon_beauty(data_dir=context.data_dir, cache_dir=context.cache_dir, seed=context.seed,
                                  embed_dim=context.embed_dim, **options)


class Ml100kDataset(InteractionDataset):
    """MovieLens 100K, every rating an interaction, in time order, with titles (see the module docs)."""

    default_name: ClassVar[str] = "ml-100k"

    def read(self, options: dict[str, Any], context: LoadContext) -> TaskData:
        """Load RecBole's ``ml-100k.inter.gz``, ``ml-100k.item`` and ``ml-100k.user``.

        Raises:
            DataError: If a file is missing, damaged or malformed.
        """
        from rec_core.datasets.interactions import attach_users

        path, items = context.file(*ML_100K_FILE), context.file(*ML_100K_ITEMS_FILE)
        data = load_interactions(
            path, user="user_id", item="item_id", timestamp="timestamp",
            items=items, item_key="item_id", item_text="movie_title",
            seed=context.seed, embed_dim=context.embed_dim, **options,
        )  # fmt: skip
        return attach_users(data, context.file(*ML_100K_USERS_FILE), key="user_id")


def read_diginetica(path: Path) -> pd.DataFrame:
    """Read DIGINETICA item views (``sessionId;userId;itemId;timeframe;eventdate``) with a ``time`` column.

    ``time`` is ``eventdate`` plus ``timeframe`` milliseconds, so ordering by it orders by
    date, then by the offset within the session (offsets stay under a day).

    Raises:
        DataError: If the file cannot be read, lacks a column, or has a bad date or offset.
    """
    import pandas as pd

    from rec_core.datasets.encoding import check_columns
    from rec_core.datasets.tables import read_table

    frame = read_table(path, sep=";")
    check_columns(frame, ["sessionId", "itemId", "timeframe", "eventdate"], str(path))
    day = pd.to_datetime(frame["eventdate"], format="%Y-%m-%d", errors="coerce")
    offset = pd.to_numeric(frame["timeframe"], errors="coerce")
    bad = (day.isna() | offset.isna()).to_numpy()
    if bad.any():
        row = int(bad.argmax())
        raise DataError(
            f"{path} row {row + 1}: eventdate {frame['eventdate'].iloc[row]!r} / timeframe "
            f"{frame['timeframe'].iloc[row]!r} is not a YYYY-MM-DD date and a number of milliseconds"
        )
    frame["time"] = day + pd.to_timedelta(offset, unit="ms")
    return frame


def read_yoochoose(path: Path) -> pd.DataFrame:
    """Read YOOCHOOSE clicks (no header: session id, ISO-8601 UTC time, item id, category), times as UTC.

    Raises:
        DataError: If the file cannot be read, has another number of columns, or a bad time.
    """
    import pandas as pd

    try:
        frame = pd.read_csv(path, header=None, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read {path} as YOOCHOOSE clicks: {' '.join(str(exc).split())}") from None
    if frame.shape[1] != len(YOOCHOOSE_COLUMNS):
        raise DataError(
            f"{path} has {frame.shape[1]} columns; YOOCHOOSE clicks have {len(YOOCHOOSE_COLUMNS)} "
            f"({', '.join(YOOCHOOSE_COLUMNS)})"
        )
    frame.columns = list(YOOCHOOSE_COLUMNS)
    time = pd.to_datetime(frame["timestamp"], format="ISO8601", utc=True, errors="coerce")
    if time.isna().any():
        row = int(time.isna().to_numpy().argmax())
        raise DataError(f"{path} row {row + 1}: {frame['timestamp'].iloc[row]!r} is not an ISO-8601 time")
    frame["timestamp"] = time.dt.tz_convert(None)
    return frame


class DigineticaSampleDataset(InteractionDataset):
    """torch-rechub's DIGINETICA item-view sample, sessions as users (see the module docs)."""

    default_name: ClassVar[str] = "diginetica-sample"

    def read(self, options: dict[str, Any], context: LoadContext) -> TaskData:
        """Load the views, ordered by date then offset.

        Raises:
            DataError: If the file is missing, damaged or malformed.
        """
        path = context.file(*DIGINETICA_FILE)
        return interactions_from_frame(
            read_diginetica(path), user="sessionId", item="itemId", timestamp="time", source=path,
            seed=context.seed, embed_dim=context.embed_dim, **options,
        )  # fmt: skip


class YoochooseSampleDataset(InteractionDataset):
    """torch-rechub's YOOCHOOSE click sample, sessions as users (see the module docs)."""

    default_name: ClassVar[str] = "yoochoose-sample"

    def read(self, options: dict[str, Any], context: LoadContext) -> TaskData:
        """Load the clicks, ordered by time.

        Raises:
            DataError: If the file is missing, damaged or malformed.
        """
        path = context.file(*YOOCHOOSE_FILE)
        return interactions_from_frame(
            read_yoochoose(path), user="session_id", item="item_id", timestamp="timestamp", source=path,
            seed=context.seed, embed_dim=context.embed_dim, **options,
        )  # fmt: skip


AMAZON_BEAUTY = AmazonBeautyDataset()
ML_100K = Ml100kDataset()
DIGINETICA_SAMPLE = DigineticaSampleDataset()
YOOCHOOSE_SAMPLE = YoochooseSampleDataset()
