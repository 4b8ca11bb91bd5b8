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

CTR_OPTIONS = [
    {"flag": "--label", "target": "data.label", "help": "Label column of a --data file (0/1)."},
    {"flag": "--sparse", "target": "data.sparse", "list": True, "help": "Comma-separated categorical columns."},
    {"flag": "--dense", "target": "data.dense", "list": True, "help": "Comma-separated numeric columns."},
]


@hookimpl
def rec_register_trainers(register: Register) -> None:
    """Register the CTR trainer."""
    register(
        "ctr",
        "rec_trainers.trainers.ctr:CTRTrainer",
        description="Click-through-rate prediction (AUC, log loss).",
        options=CTR_OPTIONS,
    )


@hookimpl
def rec_register_models(register: Register) -> None:
    """Register the ranking models for task ctr."""
    for name, (cls, description) in _RANKING.items():
        register(name, f"rec_trainers.models.ranking.{name}:{cls}", task="ctr", description=description)


# name -> ("module:ATTRIBUTE" of the DatasetSpec, description); listed here, not imported
# from rec_trainers.datasets, so that loading the plugin imports nothing heavy.
_DATASETS = {
    "synthetic-ctr": ("rec_trainers.datasets.synthetic:SYNTHETIC_CTR",
                      "Generated Criteo-like clicks with a user history; Bayes-optimal AUC known (default)"),
    "frappe": ("rec_trainers.datasets.frappe:FRAPPE",
               "Frappe app usage in context, 2 sampled negatives per log, 7:2:1 split (NFM)"),
    "criteo-sample": ("rec_trainers.datasets.criteo:CRITEO_SAMPLE",
                      "Criteo display ads, torch-rechub's 115-row sample (smoke tests)"),
    "avazu-sample": ("rec_trainers.datasets.avazu:AVAZU_SAMPLE",
                     "Avazu mobile ads, torch-rechub's 70/10/20-row sample (smoke tests)"),
}


@hookimpl
def rec_register_datasets(register: Register) -> None:
    """Register the built-in CTR data sets."""
    for name, (reference, description) in _DATASETS.items():
        register(name, reference, task="ctr", description=description)
