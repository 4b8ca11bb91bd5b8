"""Multi-task models, with torch-rechub's class names and constructor arguments.

``from torch_rechub.models.multi_task import MMOE`` becomes
``from rec_trainers.models.multi_task import MMOE``; the constructors take the same
arguments (``tower_params_list`` may also be one dict used for every task). Differences
from torch-rechub:

* ``forward(x_dict)`` returns ``(B, n_task)`` **logits** for classification tasks (no
  sigmoid; the MTL trainer uses ``BCEWithLogitsLoss``, which stays stable under bf16/fp16
  autocast) and raw values for regression tasks.
* :class:`ESMM` returns logits ``[CVR, CTR, CTCVR]`` (torch-rechub's order) but, as in the
  paper, only the CTR and CTCVR outputs are trained over the entire space
  (``ESMM.trained_tasks``); torch-rechub also trained the CVR output on every impression.
  ``outputs=("ctr", "ctcvr")`` (what ``from_features`` picks for two targets: click, then
  clicked-and-converted) drops the CVR column. ``ESMM.tower_logits`` gives the CTR and CVR
  logits. Its features are concatenated like every other model's, so dense and sequence
  features and mixed ``embed_dim`` work.
* :class:`AITM` also offers the paper's calibration term, ``AITM.calibration_loss``
  (torch-rechub has none; add it to the task losses yourself).
* :class:`PLE` needs at least one shared expert per level.
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
