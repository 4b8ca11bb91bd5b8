"""``census-income``: UCI Census-Income (KDD) with MMoE's two tasks, income and marital status.

Source: ``census-income-kdd/census-income.test.gz``, the UCI test file (99,762 rows; the
training file is not available here): comma-separated, no header, values after a space,
42 columns named as in its README (here in snake case, e.g. ``class_of_worker``).

Targets, as in the MMoE paper (Ma et al., KDD 2018), in this order:

* ``income``: 1 when the label column is ``50000+.`` (6,186 rows);
* ``marital``: 1 when the marital status is ``Never married`` (43,143 rows).

Inputs (as torch-rechub's census example, which also drops the two label columns and the
instance weight): 7 dense columns (age, wage per hour, capital gains and losses,
dividends, number of persons worked for the employer, weeks worked in the year) and the
other 32 columns as sparse ids. ``marital_status`` is task 2's label and never an input;
``instance_weight`` is a sampling weight, not an attribute (census-income.names says not
to use it as a feature). The rows are split 8:1:1 with the seed, and everything fitted is
fitted on the training rows only, so no statistic of a validation or test row reaches the
inputs:

* sparse columns are encoded by the id rule (the values seen in the training rows, in
  natural order, get ``1..n``; a value seen only in validation or test rows gets 0);
* the four money amounts (0 for most rows, up to 99,999) are ``log1p``-transformed, then
  all dense columns are standardised with the training rows' mean and standard deviation.

The file's SHA-256 is checked. The built arrays are cached
(``<cache>/census-income/census-income-v<version>-seed<seed>-<split>-<sha>.npz`` plus a
``.json``), so a later load with the same seed and split skips the build. Published MMoE
numbers come from the 199,523-row training file, so results here do not match them.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from rec_core.datasets.files import cache_root, read_cached_arrays, write_cached_arrays
from rec_core.datasets.spec import LoadContext, Table, TableDataset
from rec_core.datasets.splits import split_indices, split_sizes
from rec_core.errors import DataError
from rec_core.features import DenseFeature, SparseFeature

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CENSUS_INCOME",
    "CENSUS_INCOME_FILE",
    "COLUMNS",
    "DENSE",
    "SPARSE",
    "TARGETS",
    "CensusIncomeDataset",
    "build_census",
    "read_census",
]

CENSUS_INCOME_FILE = "census-income-kdd/census-income.test.gz"
CENSUS_INCOME_SHA256 = "5ac4cacd3ca9f1ecb10de1a0a41e4ac68fdc419e3fec190f5c0c6cc03b2ea659"
BUILD_VERSION = 1

COLUMNS = (
    "age", "class_of_worker", "detailed_industry_recode", "detailed_occupation_recode", "education",
    "wage_per_hour", "enroll_in_edu_inst_last_wk", "marital_status", "major_industry_code",
    "major_occupation_code", "race", "hispanic_origin", "sex", "member_of_a_labor_union", "reason_for_unemployment",
    "full_or_part_time_employment_stat", "capital_gains", "capital_losses", "dividends_from_stocks",
    "tax_filer_stat", "region_of_previous_residence", "state_of_previous_residence",
    "detailed_household_and_family_stat", "detailed_household_summary_in_household", "instance_weight",
    "migration_code_change_in_msa", "migration_code_change_in_reg", "migration_code_move_within_reg",
    "live_in_this_house_1_year_ago", "migration_prev_res_in_sunbelt", "num_persons_worked_for_employer",
    "family_members_under_18", "country_of_birth_father", "country_of_birth_mother", "country_of_birth_self",
    "citizenship", "own_business_or_self_employed", "fill_inc_questionnaire_for_veterans_admin",
    "veterans_benefits", "weeks_worked_in_year", "year", "label",
)  # fmt: skip
"""The file's 42 columns, in order (the names of the README, in snake case)."""
AMOUNTS = ("wage_per_hour", "capital_gains", "capital_losses", "dividends_from_stocks")
DENSE = ("age", *AMOUNTS, "num_persons_worked_for_employer", "weeks_worked_in_year")
NOT_INPUTS = ("marital_status", "instance_weight", "label")
SPARSE = tuple(name for name in COLUMNS if name not in DENSE and name not in NOT_INPUTS)
TARGETS = ("income", "marital")
INCOME_POSITIVE = "50000+."
LABELS = ("- 50000.", INCOME_POSITIVE)
MARITAL_POSITIVE = "Never married"


def read_census(path: Path) -> pd.DataFrame:
    """Read the file, values kept as written ("NA" and "?" are categories here, not missing values).

    Raises:
        DataError: If the file cannot be read as 42 comma-separated columns, or a row has no
            income label (``- 50000.`` or ``50000+.``) in the last one.
    """
    import pandas as pd

    dtypes = dict.fromkeys(DENSE, "float64")  # the others as pandas reads them: integer codes stay numbers
    try:
        rows = pd.read_csv(
            path, header=None, names=list(COLUMNS), dtype=dtypes, skipinitialspace=True,
            keep_default_na=False, na_values=[],
        )  # fmt: skip
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot read {path} as the census-income file: {str(exc).splitlines()[0]}") from None
    bad = ~rows["label"].isin(LABELS).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 1
        raise DataError(f"{path} is not the census-income file: row {row} has no income label in column 42")
    return rows


def build_census(path: Path, *, seed: int, split: tuple[float, ...]) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Return the encoded columns and targets of the census file at ``path`` (in file order), and the vocabulary sizes.

    The vocabularies and the dense statistics are fitted on the training rows of
    :func:`~rec_core.datasets.splits.split_indices` ``(rows, split, seed)``.

    Raises:
        DataError: If the file cannot be read.
        ConfigError: On bad ``split`` fractions.
    """
    from rec_core.datasets.ids import encode_ids

    rows = read_census(path)
    train = split_indices(len(rows), split, seed)[0]
    out: dict[str, np.ndarray] = {}
    sizes: dict[str, int] = {}
    for name in SPARSE:
        values = rows[name].to_numpy()
        _, encoder = encode_ids(values[train])
        out[name], sizes[name] = encoder.encode(values), encoder.vocab_size
    for name in DENSE:
        values = rows[name].to_numpy(dtype=np.float64)
        if name in AMOUNTS:
            values = np.log1p(values)
        mean, std = values[train].mean(), values[train].std()
        out[name] = ((values - mean) / (std if std > 0 else 1.0)).astype(np.float32)
    out["income"] = (rows["label"] == INCOME_POSITIVE).to_numpy(dtype=np.float32)
    out["marital"] = (rows["marital_status"] == MARITAL_POSITIVE).to_numpy(dtype=np.float32)
    return out, sizes


def _cache_stem(cache_dir: Path | None, seed: int, split: tuple[float, ...]) -> Path:
    ratios = "-".join(f"{r:g}".replace(".", "p") for r in split)
    name = f"census-income-v{BUILD_VERSION}-seed{seed}-{ratios}-{CENSUS_INCOME_SHA256[:16]}"
    return cache_root(cache_dir) / "census-income" / name


def _cached_build(
    path: Path, stem: Path, *, seed: int, split: tuple[float, ...]
) -> tuple[dict[str, np.ndarray], dict[str, int], str]:
    """Return the arrays and vocabulary sizes from the cache (``"hit"``), or build and cache them.

    The last item says what happened: ``"hit"``, ``"written"``, or ``"off"`` (the cache folder is read-only).
    """
    expected = {"build_version": BUILD_VERSION, "seed": seed, "split": list(split),
                "source_sha256": CENSUS_INCOME_SHA256}  # fmt: skip
    cached = read_cached_arrays(stem, expected)
    if cached is not None:
        arrays, meta = cached
        try:
            sizes = {name: int(meta["vocab_sizes"][name]) for name in SPARSE}
            columns = {name: arrays[name].astype(np.int64) for name in SPARSE}
            columns.update({name: arrays[name] for name in (*DENSE, *TARGETS)})
        except (KeyError, TypeError, ValueError):
            pass  # an entry of another layout: rebuild
        else:
            return columns, sizes, "hit"
    columns, sizes = build_census(path, seed=seed, split=split)
    stored = {name: values.astype(np.int32) if name in SPARSE else values for name, values in columns.items()}
    meta = {**expected, "source": CENSUS_INCOME_FILE, "rows": len(columns["income"]), "vocab_sizes": sizes}
    return columns, sizes, "written" if write_cached_arrays(stem, stored, meta) else "off"


class CensusIncomeDataset(TableDataset):
    """Census-Income (KDD), UCI test file, with MMoE's tasks ``income`` and ``marital`` (see the module docs).

    Options (``load(**params)``): ``split`` ((0.8, 0.1, 0.1)). ``embed_dim`` defaults to 4,
    the size torch-rechub's MMoE, PLE and shared-bottom examples give census features.
    Rows come in random (seeded) order within each split.
    """

    options: ClassVar[dict[str, Any]] = {"split": (0.8, 0.1, 0.1)}
    default_embed_dim: ClassVar[int] = 4

    def build(self, options: dict[str, Any], context: LoadContext) -> Table:
        """Build (or read from the cache) the census table.

        Raises:
            DataError: If ``census-income-kdd/census-income.test.gz`` is missing, damaged or
                not the expected file.
            ConfigError: On bad ``split`` fractions.
        """
        split_sizes(0, options["split"])  # ConfigError on bad fractions, before the file is read
        split = tuple(float(r) for r in options["split"])
        path = context.file(CENSUS_INCOME_FILE, CENSUS_INCOME_SHA256)
        stem = _cache_stem(context.cache_dir, context.seed, split)
        arrays, sizes, cache = _cached_build(path, stem, seed=context.seed, split=split)
        features: list[Any] = [SparseFeature(name, sizes[name], context.embed_dim) for name in SPARSE]
        features += [DenseFeature(name) for name in DENSE]
        return Table(
            {name: arrays[name] for name in (*SPARSE, *DENSE)},
            {target: arrays[target] for target in TARGETS},
            features,
            source=str(path),
            split=split,
            info={f"positives_{target}": int(arrays[target].sum()) for target in TARGETS} | {"cache": cache},
        )


CENSUS_INCOME = CensusIncomeDataset()
