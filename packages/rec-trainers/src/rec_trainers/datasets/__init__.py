"""The data sets of rec-trainers: named recipes on rec-core's data layer, and the click generator.

The data sets are registered by :mod:`rec_trainers.plugin` (its ``_DATASETS`` table holds
each name and description, the only place they are written). Loading a CTR data set
returns a :class:`rec_core.datasets.TaskData` with one binary target, ``label``:

* :data:`SYNTHETIC_CTR`: generated Criteo-like clicks with a known Bayes AUC;
* :data:`FRAPPE`: Frappe app usage, 2 sampled negatives per log, 7:2:1 split;
* :data:`CRITEO_SAMPLE`: torch-rechub's 115-row Criteo sample;
* :data:`AVAZU_SAMPLE`: torch-rechub's Avazu sample with its train/valid/test files.

The multi-task (``mtl``) data sets have two binary targets each, in model output order:

* :data:`CENSUS_INCOME`: UCI Census-Income (KDD) test file, ``income`` and ``marital`` (MMoE), 8:1:1 split;
* :data:`CENSUS_INCOME_SAMPLE`, :data:`ALI_CCP_SAMPLE` (``click``, ``purchase``),
  :data:`ALIEXPRESS_SAMPLE` (``click``, ``conversion``): torch-rechub's samples with their given splits.

The next-item (``seq``) data sets are user-item interactions, split leave-one-out by default
(:mod:`~rec_trainers.datasets.sequential`):

* :data:`AMAZON_BEAUTY`: Amazon Beauty 5-core (S3-Rec's sequences) with item titles;
* :data:`ML_100K`: MovieLens 100K (RecBole's files), every rating an interaction, in time order;
* :data:`DIGINETICA_SAMPLE`, :data:`YOOCHOOSE_SAMPLE`: torch-rechub's session samples, sessions as users.

File lookup, checksums, the cache, tables, encoders and splits live in
:mod:`rec_core.datasets`. Importing this package stays light: pandas is imported when a
file is read.
"""

from __future__ import annotations

from rec_trainers.datasets.avazu import AVAZU_SAMPLE, AvazuSampleDataset
from rec_trainers.datasets.census import CENSUS_INCOME, CensusIncomeDataset
from rec_trainers.datasets.criteo import CRITEO_SAMPLE, CriteoSampleDataset
from rec_trainers.datasets.frappe import FRAPPE, FrappeDataset
from rec_trainers.datasets.generator import SyntheticCTR, generate_ctr, make_criteo_like
from rec_trainers.datasets.matching import ML_1M_SAMPLE, Ml1mSampleDataset
from rec_trainers.datasets.rechub_mtl import (
    ALI_CCP_SAMPLE,
    ALIEXPRESS_SAMPLE,
    CENSUS_INCOME_SAMPLE,
    AliCcpSampleDataset,
    AliexpressSampleDataset,
    CensusIncomeSampleDataset,
)
from rec_trainers.datasets.sequential import (
    AMAZON_BEAUTY,
    DIGINETICA_SAMPLE,
    ML_100K,
    YOOCHOOSE_SAMPLE,
    AmazonBeautyDataset,
    DigineticaSampleDataset,
    Ml100kDataset,
    YoochooseSampleDataset,
)
from rec_trainers.datasets.synthetic import SYNTHETIC_CTR, SyntheticCTRDataset

__all__ = [
    "ALIEXPRESS_SAMPLE",
    "ALI_CCP_SAMPLE",
    "AMAZON_BEAUTY",
    "AVAZU_SAMPLE",
    "CENSUS_INCOME",
    "CENSUS_INCOME_SAMPLE",
    "CRITEO_SAMPLE",
    "DIGINETICA_SAMPLE",
    "FRAPPE",
    "ML_1M_SAMPLE",
    "ML_100K",
    "SYNTHETIC_CTR",
    "YOOCHOOSE_SAMPLE",
    "AliCcpSampleDataset",
    "AliexpressSampleDataset",
    "AmazonBeautyDataset",
    "AvazuSampleDataset",
    "CensusIncomeDataset",
    "CensusIncomeSampleDataset",
    "CriteoSampleDataset",
    "DigineticaSampleDataset",
    "FrappeDataset",
    "Ml1mSampleDataset",
    "Ml100kDataset",
    "SyntheticCTR",
    "SyntheticCTRDataset",
    "YoochooseSampleDataset",
    "generate_ctr",
    "make_criteo_like",
]
