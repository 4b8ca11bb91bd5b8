"""Data helpers of torch-rechub's ``torch_rechub.utils`` that training scripts import.

``from rec_trainers.utils.match import generate_seq_feature_match`` mirrors
``from torch_rechub.utils.match import generate_seq_feature_match``.
"""

from __future__ import annotations

from rec_trainers.utils.match import gen_model_input, generate_seq_feature_match, negative_sample

__all__ = ["gen_model_input", "generate_seq_feature_match", "negative_sample"]
