"""Without its SDK a logger says which extra to install, and nothing else breaks.

Where the SDK is not installed (tox env ``tracking-noextras``) the check runs in this
process. Where it is installed, the absence is simulated in a subprocess by putting
``None`` in ``sys.modules`` for the SDK before the logger is created: Python then raises
``ModuleNotFoundError`` on ``import wandb``, exactly as for a missing package. That is an
import failure, not a stand-in for the SDK.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .sdk_absent import check_missing
from .support import has_sdk

ROOT = Path(__file__).resolve().parents[2]

CASES = [
    ("wandb", "WandbLogger", "wandb", {"project": "p"}),
    ("swanlab", "SwanLabLogger", "swanlab", {"project": "p"}),
    ("tensorboardX", "TensorBoardXLogger", "tensorboardx", {"log_dir": "LOGDIR"}),
]


@pytest.mark.parametrize(("module", "class_name", "extra", "kwargs"), CASES, ids=[c[0] for c in CASES])
def test_missing_sdk_names_the_extra(tmp_path, module, class_name, extra, kwargs):
    if not has_sdk(module):
        check_missing(module, class_name, extra, kwargs, str(tmp_path))
        return
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "from tests.rec_tracking.sdk_absent import check_missing\n"
        f"check_missing({module!r}, {class_name!r}, {extra!r}, {kwargs!r}, {str(tmp_path)!r})\n"
        f"assert {module!r} not in [m.split('.')[0] for m in sys.modules if sys.modules[m] is not None]\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_other_loggers_still_work_when_one_sdk_is_missing(tmp_path):
    """With wandb unimportable, the tensorboardX logger runs a whole (tiny) session."""
    if not has_sdk("tensorboardX"):
        pytest.skip("tensorboardX is not installed")
    code = f"""
import sys; sys.modules["wandb"] = None
from rec_tracking import TensorBoardXLogger, WandbLogger
try:
    WandbLogger(project="p")
except ImportError:
    pass
logger = TensorBoardXLogger({str(tmp_path / "tb")!r})
logger.log_hyperparams({{"lr": 0.1}})
logger.log_metrics({{"train/loss": 0.5}}, step=1)
logger.finish()
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    from .readers import read_tensorboardx

    assert read_tensorboardx(tmp_path / "tb").scalars == {"train/loss": {1: 0.5}}


def test_a_broken_sdk_is_reported_with_its_own_error(tmp_path, monkeypatch):
    """An SDK that is installed but fails to import: the hint plus the underlying error."""
    from rec_tracking._common import import_sdk

    (tmp_path / "rec_broken_sdk").mkdir()
    (tmp_path / "rec_broken_sdk" / "__init__.py").write_text("import rec_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError, match=r"could not be imported \(ModuleNotFoundError: .*rec_missing_dependency"
                       r".*pip install \"rec-tracking\[broken\]\"") as info:
        import_sdk("rec_broken_sdk", extra="broken", logger="BrokenLogger")
    assert str(info.value).startswith("BrokenLogger needs the rec_broken_sdk package")
    monkeypatch.delitem(sys.modules, "rec_broken_sdk", raising=False)
