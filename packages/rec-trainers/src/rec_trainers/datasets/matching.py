"""torch-rechub's MovieLens-1M sample for two-tower retrieval (task ``match``): ``ml-1m-sample``.

Source: ``rechub-samples/ml-1m/ml-1m_sample.csv``, the 100-row file torch-rechub's DSSM and
YoutubeDNN examples read (``ratings.dat`` joined with ``movies.dat`` and ``users.dat``:
``user_id, movie_id, rating, timestamp, title, genres, gender, age, occupation, zip``).
Every rating is an interaction, ordered by time and split leave-one-out (users with fewer
than 3 ratings are dropped and counted). The user attributes are ``gender``, ``age``,
``occupation`` and ``zip``; the item attributes ``genres`` (``|``-separated in the file,
a list here) and the title as the item text. For smoke tests and the torch-rechub example
ports only. The file's SHA-256 is checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rec_trainers.datasets.sequential import InteractionDataset

if TYPE_CHECKING:
    from rec_core.datasets.spec import LoadContext
    from rec_core.datasets.task_data import TaskData

__all__ = ["ML_1M_SAMPLE", "Ml1mSampleDataset"]

ML_1M_SAMPLE_FILE = (
    "rechub-samples/ml-1m/ml-1m_sample.csv",
    "9322992b2dec24794a3ce8a28e8d871792195d2021f79cf361fd6d295b873b9a",
)
_USER_COLUMNS = ("gender", "age", "occupation", "zip")


class Ml1mSampleDataset(InteractionDataset):
    """torch-rechub's 100-rating MovieLens-1M sample with user and movie attributes (module docs)."""

    default_name: ClassVar[str] = "ml-1m-sample"

    def read(self, options: dict[str, Any], context: LoadContext) -> TaskData:
        """Read the joined file and split it into interactions, user attributes and movie attributes.

        Raises:
            DataError: If the file is missing, damaged or lacks a column.
        """
        from rec_core.datasets.encoding import check_columns
        from rec_core.datasets.interactions import attach_users, interactions_from_frame
        from rec_core.datasets.tables import read_table

        path = context.file(*ML_1M_SAMPLE_FILE)
        frame = read_table(path)
        check_columns(frame, ["user_id", "movie_id", "timestamp", "title", "genres", *_USER_COLUMNS], str(path))
        movies = frame.drop_duplicates("movie_id")[["movie_id", "title", "genres"]].copy()
        movies["genres"] = movies["genres"].str.replace("|", " ", regex=False)
        data = interactions_from_frame(
            frame, user="user_id", item="movie_id", timestamp="timestamp", source=path, items=movies,
            item_key="movie_id", item_text="title", seed=context.seed, embed_dim=context.embed_dim, **options,
        )  # fmt: skip
        users = frame.drop_duplicates("user_id")[["user_id", *_USER_COLUMNS]]
        return attach_users(data, users, key="user_id")


ML_1M_SAMPLE = Ml1mSampleDataset()
