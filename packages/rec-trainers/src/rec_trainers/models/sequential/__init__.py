"""Next-item models for task ``seq`` (the contract: :class:`SequentialModel`)."""

from rec_trainers.models.sequential._base import SequentialModel
from rec_trainers.models.sequential.bert4rec import BERT4Rec
from rec_trainers.models.sequential.gru4rec import GRU4Rec
from rec_trainers.models.sequential.hstu import HSTU
from rec_trainers.models.sequential.narm import NARM
from rec_trainers.models.sequential.popularity import Popularity
from rec_trainers.models.sequential.sasrec import SASRec

__all__ = ["HSTU", "NARM", "BERT4Rec", "GRU4Rec", "Popularity", "SASRec", "SequentialModel"]
