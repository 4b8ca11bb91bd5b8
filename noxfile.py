"""Developer chores: `nox -s tests|smoke|lint|bench|demo|providers|gpu_bundle`.

Every session installs the CPU build of torch first (`torch==2.13.0`); an unpinned torch
would pull a multi-GB CUDA build.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PACKAGES = [ROOT / "packages" / name for name in ("rec-core", "rec-trainers", "rec-tracking", "rec-genrec")]
TORCH = "torch==2.13.0"
nox.options.sessions = ["lint", "tests", "smoke"]
nox.options.default_venv_backend = "venv"


def _env() -> dict[str, str]:
    env = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    data = os.environ.get("REC_DATA_DIR") or str(ROOT.parent / "shared" / "data")
    if Path(data).is_dir():
        env["REC_DATA_DIR"] = data
    return env


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test matrix through tox (all packages, then rec-core alone)."""
    session.install("tox")
    session.run("tox", *session.posargs, env=_env())


@nox.session
def smoke(session: nox.Session) -> None:
    """Build wheels, install them with a real fixture plugin project, run the installed rec."""
    wheels = Path(session.create_tmp()) / "wheels"
    session.install("build", TORCH)
    fixtures = ROOT / "tests" / "fixtures"
    for package in [*PACKAGES, fixtures / "rec-hello-plugin", fixtures / "rec-toy-trainer"]:
        session.run("python", "-m", "build", "--wheel", "--outdir", str(wheels), str(package), silent=True)
    session.install(*sorted(str(w) for w in wheels.glob("*.whl")))
    out = session.run("rec", "plugins", silent=True, env=_env())
    for expected in ("core", "hello", "rec-hello-plugin", "jsonl", "print", "toy", "rec-toy-trainer", "rating"):
        if expected not in out:
            session.error(f"`rec plugins` does not show {expected!r}:\n{out}")
    help_text = session.run("rec", "--help", silent=True)
    if "hello" not in help_text or "Plugins" not in help_text:
        session.error(f"`rec --help` does not show the plugin's command:\n{help_text}")
    greeting = session.run("rec", "hello", "--name", "smoke", silent=True)
    if "hello, smoke, from rec-hello-plugin" not in greeting:
        session.error(f"the plugin's command did not run:\n{greeting}")
    run_dir = Path(session.create_tmp()) / "toy-run"
    session.run("rec", "train", "rating", "--epochs", "2", "--output", str(run_dir), env=_env())
    session.run("rec", "train", "rating", "--epochs", "3", "--resume", str(run_dir), env=_env())
    session.run("rec", "runs", "show", str(run_dir))
    session.run("rec", "--version")
    session.log("smoke: installed wheels, plugins discovered, a third-party trainer trained and resumed")


@nox.session
def providers(session: nox.Session) -> None:
    """Regenerate rec-core's providers.json (install hints) from what the rec packages register."""
    session.install(TORCH, *[str(p) for p in PACKAGES])
    target = PACKAGES[0] / "src" / "rec_core" / "providers.json"  # the source tree, not the installed copy
    session.run(
        "python", "-c",
        "from rec_core.plugins import make_plugin_manager; from rec_core.providers import write_providers_file; "
        f"print(write_providers_file(make_plugin_manager(), {str(target)!r}))",
    )


@nox.session
def lint(session: nox.Session) -> None:
    """Run ruff on the code base."""
    session.install("ruff")
    session.run("ruff", "check", "packages", "tests", "benchmarks", "noxfile.py")


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks under benchmarks/ and print their figures and ratios.

    ``nox -s bench`` runs them all; ``nox -s bench -- cli loader throughput quality retrieval mtl seq
    seqspeed match genrec`` a subset; ``-- throughput-cuda`` (never in the default set) runs the CTR
    throughput table on a GPU.
    """
    session.install(TORCH, *[str(p) for p in PACKAGES], f"{PACKAGES[-1]}[all]", "pandas", "rich", "scikit-learn",
                    "torch-rechub==0.9.0")
    env = _env()
    chosen = set(session.posargs) or {"cli", "loader", "throughput", "quality", "retrieval", "mtl", "seq",
                                    "seqspeed", "match", "genrec"}
    if "cli" in chosen:
        session.run("python", "benchmarks/cli_startup.py", env=env)
    if "loader" in chosen:
        session.run("python", "benchmarks/loader_throughput.py", "--rows", "500000", env=env)
    if "throughput" in chosen:
        session.run("python", "benchmarks/ctr_throughput.py", env=env)
    if "throughput-cuda" in chosen:
        session.run("python", "benchmarks/ctr_throughput.py", "--device", "cuda", "--rows", "2000000", env=env)
    if "quality" in chosen:
        session.run("python", "benchmarks/ctr_quality.py", env=env)
    if "retrieval" in chosen:
        session.run("python", "benchmarks/retrieval_eval.py", env=env)
    if "mtl" in chosen:
        session.run("python", "benchmarks/mtl_quality.py", env=env)
    if "seq" in chosen:
        session.run("python", "benchmarks/seq_quality.py", env=env)
    if "seqspeed" in chosen:
        session.run("python", "benchmarks/seq_throughput.py", env=env)
    if "match" in chosen:
        session.run("python", "benchmarks/match_quality.py", env=env)
    if "genrec" in chosen:
        session.run("python", "benchmarks/genrec_quality.py", env=env)


@nox.session
def demo(session: nox.Session) -> None:
    """Install everything and run the main job: rec train ctr --model deepfm on the bundled data."""
    session.install(TORCH, *[str(p) for p in PACKAGES])
    run_dir = Path(session.create_tmp()) / time.strftime("demo-%Y%m%d-%H%M%S")
    session.run("rec", "train", "ctr", "--model", "deepfm", "--output", str(run_dir), env=_env())
    session.run("rec", "runs", "show", str(run_dir))


@nox.session(name="gpu_bundle", venv_backend="none")
def gpu_bundle(session: nox.Session) -> None:
    """Prepare .gpu/ for a lent GPU machine: wheels it lacks and a copy of Frappe (never committed).

    Then, on that machine, with ``.gpu`` carried: ``bash benchmarks/gpu_check.sh``. Its image has
    torch, pytest, pandas, pluggy, typer and rich (Python 3.12) and reaches no package index.
    """
    bundle = ROOT / ".gpu"
    wheels = bundle / "wheels"
    if bundle.exists():
        import shutil

        shutil.rmtree(bundle)
    wheels.mkdir(parents=True)
    session.run("python", "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), *[str(p) for p in PACKAGES[:2]])
    session.run("python", "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
                "3.12", "-d", str(wheels), "tomli-w>=1.0", "torch-rechub==0.9.0")
    frappe = Path(_env().get("REC_DATA_DIR", "")) / "frappe"
    if frappe.is_dir():
        import shutil

        shutil.copytree(frappe, bundle / "data" / "frappe")
    else:
        session.warn("no Frappe copy (REC_DATA_DIR unset): the GPU test on Frappe will skip there")
