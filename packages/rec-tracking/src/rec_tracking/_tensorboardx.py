"""``TensorBoardXLogger``: TensorBoard event files through tensorboardX (no TensorFlow)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rec_core.loggers import BaseLogger, flatten_params
from rec_tracking._common import build_from_run, check_status, import_sdk, to_number

if TYPE_CHECKING:
    from tensorboardX import SummaryWriter

__all__ = ["TensorBoardXLogger"]

#: Text tag holding the run's final status (``success``, ``failed`` or ``interrupted``).
STATUS_TAG = "rec/status"

_HPARAMS_PLUGIN = "hparams"
_SESSION_END_TAG = "_hparams_/session_end_info"
_END_STATUS = {"success": "STATUS_SUCCESS", "failed": "STATUS_FAILURE", "interrupted": "STATUS_FAILURE"}


class TensorBoardXLogger(BaseLogger):
    """Write TensorBoard event files to ``log_dir`` (torch-rechub's ``TensorBoardXLogger``).

    * Metrics become scalars tagged exactly with their names (``tensorboardX``'s own
      ``add_scalar`` would rewrite ``val/ndcg@10`` to ``val/ndcg_10``; TensorBoard shows
      any tag). A ``step`` of ``None`` counts on from the last step seen. Strings are
      written as text.
    * Hyperparameters go to TensorBoard's HParams tab, in the same run as the scalars
      (so every scalar is offered as an HParams metric). TensorBoard accepts only flat
      scalar values, so nested keys are joined with ``/`` and lists and ``None`` become
      strings (:func:`rec_core.loggers.flatten_params`).
    * :meth:`finish` records how the run ended: the HParams session status
      (``STATUS_SUCCESS``, or ``STATUS_FAILURE`` for ``failed`` and ``interrupted``) and
      the status word as text under the tag ``rec/status``, then closes the files.

    Event files are flushed every ``flush_secs`` (tensorboardX's default 120 s), every
    ``max_queue`` events, and on :meth:`finish`.

    Args:
        log_dir: The run's folder (created if missing).
        comment: Suffix of tensorboardX's generated folder name (unused with ``log_dir``).
        **kwargs: Anything else :class:`tensorboardX.SummaryWriter` takes
            (``flush_secs``, ``max_queue``, ``filename_suffix``, ...).

    Raises:
        ImportError: tensorboardX is not installed; the message says
            ``pip install "rec-tracking[tensorboardx]"``.
    """

    name: ClassVar[str] = "tensorboardx"

    def __init__(self, log_dir: str | os.PathLike[str], comment: str = "", **kwargs: Any) -> None:
        tensorboardx = import_sdk("tensorboardX", extra="tensorboardx", logger=type(self).__name__)
        self.log_dir = Path(log_dir)
        self._writer: SummaryWriter | None = tensorboardx.SummaryWriter(
            logdir=os.fspath(log_dir), comment=comment, **kwargs
        )
        self._final_writer = self._writer
        self._last_step = 0

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike[str], **options: Any) -> BaseLogger:
        """Create the logger for ``rec train --logger tensorboardx``: files in ``RUN/tensorboardx/``.

        ``--set logger.tensorboardx.KEY=VALUE`` options override ``log_dir`` or pass
        ``SummaryWriter`` arguments (e.g. ``flush_secs=10``).

        Raises:
            RecError: tensorboardX is missing.
        """
        return build_from_run(cls, "tensorboardx", {"log_dir": Path(run_dir) / "tensorboardx"}, options)

    @property
    def writer(self) -> SummaryWriter:
        """The underlying ``tensorboardX.SummaryWriter`` (closed after :meth:`finish`)."""
        return self._final_writer

    def log_hyperparams(self, params: dict[str, Any]) -> None:
        """Write ``params``, flattened, as the HParams session of this run."""
        from tensorboardX.summary import hparams

        _, session_start, _ = hparams(flatten_params(params), {})
        self._file_writer().add_summary(session_start, global_step=0)

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Write one scalar per numeric metric (text for strings) at ``step``."""
        from tensorboardX.proto.summary_pb2 import Summary

        writer = self._file_writer()
        step = self._last_step if step is None else int(step)
        self._last_step = max(self._last_step, step)
        values = []
        for key, value in metrics.items():
            number = to_number(value)
            if number is not None:
                values.append(Summary.Value(tag=str(key), simple_value=float(number)))
            elif isinstance(value, str):
                values.append(_text_value(str(key), value))
        if values:
            writer.add_summary(Summary(value=values), global_step=step)

    def finish(self, status: str = "success") -> None:
        """Record ``status`` (HParams session status and text ``rec/status``) and close the files.

        Later calls do nothing.

        Raises:
            ValueError: ``status`` is not ``success``, ``failed`` or ``interrupted``.
        """
        check_status(status)
        writer, self._writer = self._writer, None
        if writer is None:
            return
        try:
            file_writer = writer.file_writer
            if file_writer is not None:
                from tensorboardX.proto.summary_pb2 import Summary

                values = [_session_end_value(status), _text_value(STATUS_TAG, status)]
                file_writer.add_summary(Summary(value=values), global_step=self._last_step)
        finally:
            writer.close()

    def _file_writer(self) -> Any:
        file_writer = self._writer.file_writer if self._writer is not None else None
        if file_writer is None:
            raise RuntimeError(f"{type(self).__name__} for {self.log_dir} is closed; create a new logger to log again")
        return file_writer

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.log_dir)!r})"


def _text_value(tag: str, text: str) -> Any:
    """Return a text-plugin summary value tagged exactly ``tag`` (tensorboardX appends ``/text_summary``)."""
    from tensorboardX.proto.plugin_text_pb2 import TextPluginData
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboardX.proto.tensor_pb2 import TensorProto
    from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto

    content = TextPluginData(version=0).SerializeToString()
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="text", content=content))
    tensor = TensorProto(dtype="DT_STRING", string_val=[text.encode("utf-8")],
                         tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
    return Summary.Value(tag=tag, metadata=metadata, tensor=tensor)


def _session_end_value(status: str) -> Any:
    """Return the HParams ``session_end_info`` summary value for ``status``."""
    from tensorboardX.proto.api_pb2 import Status
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData, SessionEndInfo
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata

    end = SessionEndInfo(status=Status.Value(_END_STATUS[status]), end_time_secs=time.time())
    content = HParamsPluginData(session_end_info=end, version=0).SerializeToString()
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=_HPARAMS_PLUGIN, content=content))
    return Summary.Value(tag=_SESSION_END_TAG, metadata=metadata)
