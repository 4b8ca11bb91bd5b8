"""rec-trainers' plugin: registrations only (lazy references keep ``rec --help`` light)."""

from __future__ import annotations

from rec_core.hookspecs import Register, hookimpl

_RANKING = {
    "lr": ("LR", "logistic regression on all features"),
    "fm": ("FM", "factorization machine (Rendle 2010)"),
    "widedeep": ("WideDeep", "Wide & Deep (Cheng et al. 2016)"),
    "deepfm": ("DeepFM", "FM + MLP sharing embeddings (Guo et al. 2017)"),
    "dcn": ("DCN", "deep & cross network (Wang et al. 2017)"),
    "dcnv2": ("DCNv2", "DCN-V2 with matrix cross layers (Wang et al. 2021)"),
    "xdeepfm": ("xDeepFM", "compressed interaction network + MLP (Lian et al. 2018)"),
    "autoint": ("AutoInt", "self-attentive feature interactions (Song et al. 2019)"),
    "fibinet": ("FiBiNet", "SENET + bilinear interactions (Huang et al. 2019)"),
    "din": ("DIN", "deep interest network over a behaviour sequence (Zhou et al. 2018)"),
}

_MULTI_TASK = {
    "sharedbottom": ("shared_bottom", "SharedBottom", "a shared MLP bottom and one tower per task (Caruana 1997)"),
    "esmm": ("esmm", "ESMM", "CTR x CVR over the entire space (Ma et al. 2018)"),
    "mmoe": ("mmoe", "MMOE", "multi-gate mixture of experts (Ma et al. 2018)"),
    "ple": ("ple", "PLE", "progressive layered extraction (Tang et al. 2020)"),
    "aitm": ("aitm", "AITM", "adaptive information transfer between sequential tasks (Xi et al. 2021)"),
}

_SEQUENTIAL = {
    "sasrec": ("sasrec", "SASRec", "causal self-attention over the history (Kang & McAuley 2018)"),
    "gru4rec": ("gru4rec", "GRU4Rec", "recurrent next-item model (Hidasi et al. 2016)"),
    "narm": ("narm", "NARM", "GRU with attention over the session (Li et al. 2017)"),
    "bert4rec": ("bert4rec", "BERT4Rec", "bidirectional transformer trained by cloze (Sun et al. 2019)"),
    "hstu": ("hstu", "HSTU", "hierarchical sequential transduction units (Zhai et al. 2024)"),
    "pop": ("popularity", "Popularity", "one learned logit per item, ignoring the history (baseline)"),
}

_MATCHING = {
    "dssm": ("dssm", "DSSM", "two towers of MLPs over user and item features (Huang et al. 2013)"),
    "youtubednn": ("youtube_dnn", "YoutubeDNN", "user tower over features and history, softmax over items "
                                                "(Covington et al. 2016)"),
    "mind": ("mind", "MIND", "multi-interest user tower by capsule routing (Li et al. 2019)"),
    "comirec-sa": ("comirec", "ComirecSA", "multi-interest user tower by self-attention (Cen et al. 2020)"),
    "comirec-dr": ("comirec", "ComirecDR", "multi-interest user tower by dynamic routing (Cen et al. 2020)"),
}

_WEIGHTERS = {
    "uwl": ("uwl:UWLWeighter", "uncertainty weighting with learned task variances (Kendall et al. 2018)"),
    "gradnorm": ("gradnorm:GradNormWeighter", "gradient normalisation on the last shared layer (Chen et al. 2018)"),
    "metabalance": ("metabalance:MetaBalanceWeighter",
                    "auxiliary gradients rescaled toward the main task's (He et al. 2022)"),
}

_COLUMNS = [
    {"flag": "--sparse", "target": "data.sparse", "list": True, "help": "Comma-separated categorical columns."},
    {"flag": "--dense", "target": "data.dense", "list": True, "help": "Comma-separated numeric columns."},
]
CTR_OPTIONS = [{"flag": "--label", "target": "data.label", "help": "Label column of a --data file (0/1)."}, *_COLUMNS]
MTL_OPTIONS = [
    {"flag": "--label", "target": "data.label", "multiple": True,
     "help": "A label column of a --data file, one per task (repeat: --label click --label buy)."},
    *_COLUMNS,
]

MATCH_OPTIONS = [
    {"flag": "--user-col", "target": "data.user", "help": "User column of a --data table (default user_id)."},
    {"flag": "--item-col", "target": "data.item", "help": "Item column of a --data table (default item_id)."},
    {"flag": "--time-col", "target": "data.timestamp",
     "help": "Time column of a --data table (default: 'timestamp' if present, else file order)."},
    {"flag": "--users", "target": "data.users",
     "help": "A table of user side features, keyed by its first column (or data.user_key)."},
    {"flag": "--items", "target": "data.items",
     "help": "A table of item side features, keyed by its first column (or data.item_key)."},
]

SEQ_OPTIONS = [
    {"flag": "--user-col", "target": "data.user", "help": "User column of a --data table (default user_id)."},
    {"flag": "--item-col", "target": "data.item", "help": "Item column of a --data table (default item_id)."},
    {"flag": "--time-col", "target": "data.timestamp",
     "help": "Time column of a --data table (default: 'timestamp' if present, else file order)."},
]


@hookimpl
def rec_register_trainers(register: Register) -> None:
    """Register the CTR, multi-task, sequential and matching trainers."""
    register(
        "ctr",
        "rec_trainers.trainers.ctr:CTRTrainer",
        description="Click-through-rate prediction (AUC, log loss).",
        options=CTR_OPTIONS,
    )
    register(
        "mtl",
        "rec_trainers.trainers.mtl:MTLTrainer",
        description="Multi-task learning: one loss per task, combined by a loss weighter (AUC, log loss, MSE).",
        options=MTL_OPTIONS,
    )
    register(
        "match",
        "rec_trainers.trainers.match:MatchTrainer",
        description="Two-tower retrieval (point/pair/list-wise, in-batch negatives), full-ranking recall/NDCG.",
        options=MATCH_OPTIONS,
    )
    register(
        "seq",
        "rec_trainers.trainers.seq:SeqTrainer",
        description="Next-item prediction over user histories, full-ranking recall/NDCG/hit/MRR.",
        options=SEQ_OPTIONS,
    )


@hookimpl
def rec_register_models(register: Register) -> None:
    """Register the ranking (task ctr), multi-task (mtl), next-item (seq) and two-tower (match) models."""
    for name, (cls, description) in _RANKING.items():
        register(name, f"rec_trainers.models.ranking.{name}:{cls}", task="ctr", description=description)
    for name, (module, cls, description) in _MULTI_TASK.items():
        register(name, f"rec_trainers.models.multi_task.{module}:{cls}", task="mtl", description=description)
    for name, (module, cls, description) in _SEQUENTIAL.items():
        register(name, f"rec_trainers.models.sequential.{module}:{cls}", task="seq", description=description)
    for name, (module, cls, description) in _MATCHING.items():
        register(name, f"rec_trainers.models.matching.{module}:{cls}", task="match", description=description)


@hookimpl
def rec_register_loss_weighters(register: Register) -> None:
    """Register the adaptive loss weighters of multi-task training."""
    for name, (reference, description) in _WEIGHTERS.items():
        register(name, f"rec_trainers.weighting.{reference}", description=description)


# name -> ("module:ATTRIBUTE" of the DatasetSpec, task, description); listed here, not
# imported from rec_trainers.datasets, so that loading the plugin imports nothing heavy.
_DATASETS = {
    "synthetic-ctr": ("rec_trainers.datasets.synthetic:SYNTHETIC_CTR", "ctr",
                      "Generated Criteo-like clicks with a user history; Bayes-optimal AUC known (default)"),
    "frappe": ("rec_trainers.datasets.frappe:FRAPPE", "ctr",
               "Frappe app usage in context, 2 sampled negatives per log, 7:2:1 split (NFM)"),
    "criteo-sample": ("rec_trainers.datasets.criteo:CRITEO_SAMPLE", "ctr",
                      "Criteo display ads, torch-rechub's 115-row sample (smoke tests)"),
    "avazu-sample": ("rec_trainers.datasets.avazu:AVAZU_SAMPLE", "ctr",
                     "Avazu mobile ads, torch-rechub's 70/10/20-row sample (smoke tests)"),
    "census-income": ("rec_trainers.datasets.census:CENSUS_INCOME", "mtl",
                      "UCI Census-Income (KDD) test file, MMoE's tasks income and never-married, 8:1:1 split"),
    "census-income-sample": ("rec_trainers.datasets.rechub_mtl:CENSUS_INCOME_SAMPLE", "mtl",
                             "torch-rechub's census-income sample (80/20/20 rows), income and marital"),
    "ali-ccp-sample": ("rec_trainers.datasets.rechub_mtl:ALI_CCP_SAMPLE", "mtl",
                       "torch-rechub's Ali-CCP sample (100/50/50 rows), click and purchase"),
    "aliexpress-sample": ("rec_trainers.datasets.rechub_mtl:ALIEXPRESS_SAMPLE", "mtl",
                          "torch-rechub's AliExpress sample (100/20 rows), click and conversion"),
    "amazon-beauty": ("rec_trainers.datasets.sequential:AMAZON_BEAUTY", "seq",
                      "Amazon Beauty 5-core (S3-Rec's sequences) with item titles, 22,363 users, leave-one-out"),
    "ml-100k": ("rec_trainers.datasets.sequential:ML_100K", ("seq", "match"),
                "MovieLens 100K (RecBole's files) with user and item attributes, time-ordered, leave-one-out"),
    "diginetica-sample": ("rec_trainers.datasets.sequential:DIGINETICA_SAMPLE", "seq",
                          "torch-rechub's 500-view DIGINETICA sample, sessions as users (smoke tests)"),
    "ml-1m-sample": ("rec_trainers.datasets.matching:ML_1M_SAMPLE", ("match", "seq"),
                     "torch-rechub's 100-rating MovieLens-1M sample with user and movie attributes (smoke tests)"),
    "yoochoose-sample": ("rec_trainers.datasets.sequential:YOOCHOOSE_SAMPLE", "seq",
                         "torch-rechub's 500-click YOOCHOOSE sample, sessions as users (smoke tests)"),
}


# name -> the tuned default run `rec train TASK --data NAME` uses (rec_trainers/recipes/NAME.toml)
_RECIPES = {name: f"rec_trainers:recipes/{name}.toml" for name in ("amazon-beauty", "census-income", "frappe",
                                                                   "ml-100k")}


@hookimpl
def rec_register_datasets(register: Register) -> None:
    """Register the built-in CTR, multi-task and sequential data sets."""
    for name, (reference, task, description) in _DATASETS.items():
        recipe = {"recipe": _RECIPES[name]} if name in _RECIPES else {}
        register(name, reference, task=task, description=description, **recipe)
