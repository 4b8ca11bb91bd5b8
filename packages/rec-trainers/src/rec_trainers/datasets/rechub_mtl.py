"""torch-rechub's multi-task samples: ``census-income-sample``, ``ali-ccp-sample``, ``aliexpress-sample``.

Source: ``rechub-samples/<name>/``, the tiny preprocessed files shipped with
torch-rechub's multi-task examples, with their own splits (rows in file order). Every
categorical column is encoded over the given files together (sorted values -> ``1..n``,
id 0 reserved), as torch-rechub's examples do (and as ``avazu-sample``), so every id of
the validation and test files is known. Numeric columns are used as given (float32):
upstream already scaled them to ``[0, 1]``. For smoke tests only.

* ``census-income-sample`` (80/20/20 rows): targets ``income`` and ``marital`` (the
  files' ``income`` and ``marital status`` columns, 0/1), as ``census-income``; the 7
  continuous columns dense, the other 32 sparse. Upstream dropped the instance weight.
* ``ali-ccp-sample`` (100/50/50 rows): targets ``click`` then ``purchase`` (ESMM's CTR and
  CTCVR labels: a purchase is always a click); the 8 ``D*`` columns dense, the other 23
  field ids sparse.
* ``aliexpress-sample`` (100 train / 20 test rows, no validation file): targets
  ``click`` then ``conversion``; ``categorical_1..16`` sparse, ``numerical_1..63`` dense.
  ``search_id`` is not an input (no search of the test file occurs in train; torch-rechub
  leaves it out too). By default there is no validation split: with two conversions
  among the 100 training rows, a carved-off share would mostly hold none, so its
  conversion AUC would be undefined. Option ``val`` carves that share of the training
  file off as validation (seeded) when a run needs one; validating on the test file, as
  torch-rechub's example does, is not offered.

Every file's SHA-256 is checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from rec_core.datasets.spec import LoadContext, Table, TableDataset
from rec_core.datasets.splits import split_indices, split_sizes
from rec_core.errors import ConfigError
from rec_core.features import DenseFeature, SparseFeature

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ALIEXPRESS_SAMPLE",
    "ALI_CCP_SAMPLE",
    "CENSUS_INCOME_SAMPLE",
    "AliCcpSampleDataset",
    "AliexpressSampleDataset",
    "CensusIncomeSampleDataset",
    "RechubMTLSampleDataset",
]

_ROOT = "rechub-samples"


class RechubMTLSampleDataset(TableDataset):
    """Base of torch-rechub's multi-task samples: given files, their targets, dense and sparse columns.

    A subclass sets :attr:`files` (split -> (file, SHA-256); a split without a file is
    absent), :attr:`targets` (target name -> the file's column, in model output order),
    :attr:`dense` and :attr:`ignored` columns; every other column is sparse. Features come
    sparse first, then dense, each in file order.
    """

    files: ClassVar[dict[str, tuple[str, str]]] = {}
    targets: ClassVar[dict[str, str]] = {}
    dense: ClassVar[tuple[str, ...]] = ()
    ignored: ClassVar[tuple[str, ...]] = ()

    def build(self, options: dict[str, Any], context: LoadContext) -> Table:
        """Read and encode the given files.

        Raises:
            DataError: If a file is missing, damaged or malformed.
        """
        from rec_core.datasets.encoding import check_columns, encode_labels  # pandas: only when loading
        from rec_core.datasets.ids import encode_ids
        from rec_core.datasets.tables import read_table

        paths = {split: context.file(relative, sha256) for split, (relative, sha256) in self.files.items()}
        frames = {split: read_table(path) for split, path in paths.items()}
        first = next(iter(frames.values()))
        not_sparse = {*self.targets.values(), *self.dense, *self.ignored}
        sparse = [name for name in first.columns if name not in not_sparse]
        dense = [name for name in first.columns if name in self.dense]
        for split, df in frames.items():
            check_columns(df, [*self.targets.values(), *self.dense, *sparse], str(paths[split]))
        targets = {
            target: np.concatenate([encode_labels(df, column, str(paths[split])) for split, df in frames.items()])
            for target, column in self.targets.items()
        }
        columns: dict[str, np.ndarray] = {}
        sizes: dict[str, int] = {}
        for name in sparse:
            parts, encoder = encode_ids(*(df[name] for df in frames.values()))
            columns[name], sizes[name] = np.concatenate(parts), encoder.vocab_size
        for name in dense:
            columns[name] = np.concatenate([df[name].to_numpy(dtype=np.float32) for df in frames.values()])
        features: list[Any] = [SparseFeature(name, sizes[name], context.embed_dim) for name in sparse]
        features += [DenseFeature(name) for name in dense]
        return Table(
            columns,
            targets,
            features,
            source=str(next(iter(paths.values())).parent),
            part=self._parts(frames, options, context.seed),
            shuffle=False,
        )

    def _parts(self, frames: dict[str, pd.DataFrame], options: dict[str, Any], seed: int) -> np.ndarray:
        """Return the split of each row (0 train, 1 validation, 2 test): the file each row comes from."""
        codes = {"train": 0, "val": 1, "test": 2}
        return np.concatenate([np.full(len(df), codes[split], dtype=np.int8) for split, df in frames.items()])


def _files(folder: str, **names: tuple[str, str]) -> dict[str, tuple[str, str]]:
    return {split: (f"{_ROOT}/{folder}/{file}", sha256) for split, (file, sha256) in names.items()}


class CensusIncomeSampleDataset(RechubMTLSampleDataset):
    """torch-rechub's census-income sample (80/20/20 rows), targets ``income`` and ``marital``.

    No options (``seed`` is unused: the splits are given). ``embed_dim`` defaults to 4, as
    in torch-rechub's census example.
    """

    default_embed_dim: ClassVar[int] = 4
    files: ClassVar[dict[str, tuple[str, str]]] = _files(
        "census-income",
        train=("census_income_train_sample.csv", "8fcee065beae2453c365fabb647d5e66d8ed4ab0a53f51741c6937e598b7a338"),
        val=("census_income_val_sample.csv", "79357ec0a300de05cb94116c61c1beb0e1e18fa10f5d981b10567dc691b3175c"),
        test=("census_income_test_sample.csv", "ea9f29504ba9e6f6cf57b9db5e18556e305a3cde1bb02cbb2e7bab5f80f0a702"),
    )
    targets: ClassVar[dict[str, str]] = {"income": "income", "marital": "marital status"}
    dense: ClassVar[tuple[str, ...]] = (
        "age", "wage per hour", "capital gains", "capital losses", "divdends from stocks",
        "num persons worked for employer", "weeks worked in year",
    )  # fmt: skip  # the files' spelling


class AliCcpSampleDataset(RechubMTLSampleDataset):
    """torch-rechub's Ali-CCP sample (100/50/50 rows), targets ``click`` then ``purchase``.

    No options (``seed`` is unused: the splits are given). ``embed_dim`` defaults to 4, as
    in torch-rechub's multi-task Ali-CCP example.
    """

    default_embed_dim: ClassVar[int] = 4
    files: ClassVar[dict[str, tuple[str, str]]] = _files(
        "ali-ccp",
        train=("ali_ccp_train_sample.csv", "1c1d125bcdfca70c8f5ed24f6221acadab3e19b70e0b06b3eb3adb2af7a0f9b5"),
        val=("ali_ccp_val_sample.csv", "1236e1504b76bf7ceb48dbe3d999ae8b49f61fcda2d684578320fd9fc7821104"),
        test=("ali_ccp_test_sample.csv", "9764a9b8e53b25f85c00e08a89f65ecfadab100cb0834161bd7ef671b7702a09"),
    )
    targets: ClassVar[dict[str, str]] = {"click": "click", "purchase": "purchase"}
    dense: ClassVar[tuple[str, ...]] = ("D109_14", "D110_14", "D127_14", "D150_14", "D508", "D509", "D702", "D853")


class AliexpressSampleDataset(RechubMTLSampleDataset):
    """torch-rechub's AliExpress sample (100 train / 20 test rows), targets ``click`` then ``conversion``.

    Options (``load(**params)``): ``val`` (0.0), the share of the training file held out
    as validation, chosen with the seed; 0 gives no validation split. ``embed_dim``
    defaults to 5, as in torch-rechub's AliExpress example.
    """

    options: ClassVar[dict[str, Any]] = {"val": 0.0}
    default_embed_dim: ClassVar[int] = 5
    files: ClassVar[dict[str, tuple[str, str]]] = _files(
        "aliexpress",
        train=("aliexpress_train_sample.csv", "9a602d2bd6012b23898437f60977135b65e75c3414bf19cac0d70408b12035ef"),
        test=("aliexpress_test_sample.csv", "c264673dc08e68d1c6153b48c9039a3ea4d3ff3106b071550db34e311e25d529"),
    )
    targets: ClassVar[dict[str, str]] = {"click": "click", "conversion": "conversion"}
    dense: ClassVar[tuple[str, ...]] = tuple(f"numerical_{i}" for i in range(1, 64))
    ignored: ClassVar[tuple[str, ...]] = ("search_id",)

    def build(self, options: dict[str, Any], context: LoadContext) -> Table:
        """Check ``val``, then read and encode the two files.

        Raises:
            ConfigError: If ``val`` is not a number in ``[0, 1)``, or holds no training row (or all).
            DataError: If a file is missing, damaged or malformed.
        """
        val = options["val"]
        if isinstance(val, bool) or not isinstance(val, (int, float)) or not 0 <= val < 1:
            raise ConfigError(f"data set {self.default_name!r}: val must be a fraction in [0, 1), got {val!r}")
        return super().build(options, context)

    def _parts(self, frames: dict[str, pd.DataFrame], options: dict[str, Any], seed: int) -> np.ndarray:
        part = super()._parts(frames, options, seed)
        val = float(options["val"])
        if val:
            n_train = len(frames["train"])
            ratios = (1.0 - val, val, 0.0)
            kept, held_out, _ = split_sizes(n_train, ratios)
            if not held_out or not kept:
                raise ConfigError(
                    f"data set {self.default_name!r}: val={val:g} holds {held_out} of the {n_train} training rows; "
                    f"choose a share that leaves rows on both sides, or 0 for no validation split"
                )
            part[split_indices(n_train, ratios, seed)[1]] = 1
        return part


CENSUS_INCOME_SAMPLE = CensusIncomeSampleDataset()
ALI_CCP_SAMPLE = AliCcpSampleDataset()
ALIEXPRESS_SAMPLE = AliexpressSampleDataset()
