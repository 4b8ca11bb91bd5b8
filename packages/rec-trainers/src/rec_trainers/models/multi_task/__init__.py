"""Multi-task models, with torch-rechub's class names and constructor arguments.

``from torch_rechub.models.multi_task import MMOE`` becomes
``from rec_trainers.models.multi_task import MMOE``; the constructors take the same
arguments (``tower_params_list`` may also be one dict used for every task). Differences
from torch-rechub:

* ``forward(x_dict)`` returns ``(B, n_task)`` **logits** for classification tasks (no
  sigmoid; the MTL trainer uses ``BCEWithLogitsLoss``, which stays stable under bf16/fp16
  autocast) and raw values for regression tasks.
* :class:`ESMM` returns two columns, **[CTR logit, CTCVR logit]** — the two tasks the
  paper trains on over the entire space — instead of ``[pCVR, pCTR, pCTCVR]``;
  ``ESMM.tower_logits`` gives the CTR and CVR logits.
* Every model declares the parameters its tasks share: ``shared_parameters()`` (the
  embeddings plus the shared bottom / experts) and ``last_shared_parameters()`` (the last
  shared layer, GradNorm's ``W``), and exposes ``task_types`` and ``n_task``.
* The MLPs have no batch norm unless ``{"batch_norm": True}`` is asked for (torch-rechub
  always added one), and the gates are a plain ``Linear`` + softmax.

Each model also has ``Model.from_features(features, task_types, **params)``, which builds
it from one flat feature list with sensible defaults (``Model.default_params``)::

    model = MMOE.from_features(features, ["classification", "regression"], n_expert=8)

Batch conventions (``{name: tensor}``; sequences padded with id 0) are described in
:mod:`rec_trainers.layers.embedding`.
"""

from __future__ import annotations

from rec_trainers.models.multi_task._base import MultiTaskModel
from rec_trainers.models.multi_task.aitm import AITM
from rec_trainers.models.multi_task.esmm import ESMM
from rec_trainers.models.multi_task.mmoe import MMOE
from rec_trainers.models.multi_task.ple import PLE
from rec_trainers.models.multi_task.shared_bottom import SharedBottom

__all__ = ["AITM", "ESMM", "MMOE", "PLE", "MultiTaskModel", "SharedBottom"]
