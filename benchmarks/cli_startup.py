"""Measure `rec --help` start-up time against a bare interpreter and `import torch`.

Run: `nox -s bench` or `python benchmarks/cli_startup.py [--repeat 10]` in an environment
where rec is installed. `rec --help` must not import torch; this shows what that saves.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def _median_seconds(command: list[str], repeat: int) -> float:
    subprocess.run(command, capture_output=True, check=True)  # warm the file cache
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    rec = shutil.which("rec")
    if rec is None:
        sys.exit("rec is not installed in this environment")
    rows = [
        ("python -c pass (floor)", [sys.executable, "-c", "pass"]),
        ("rec --help", [rec, "--help"]),
        ("rec plugins", [rec, "plugins"]),
        ("python -c 'import torch'", [sys.executable, "-c", "import torch"]),
    ]
    results = {label: _median_seconds(cmd, args.repeat) for label, cmd in rows}
    floor, help_time = results["python -c pass (floor)"], results["rec --help"]
    print(f"{'command':<28} {'median s':>9} {'x floor':>8}")
    for label, seconds in results.items():
        print(f"{label:<28} {seconds:9.3f} {seconds / floor:8.1f}")
    print(f"rec --help costs {help_time - floor:.3f} s over a bare interpreter; "
          f"importing torch alone costs {results[rows[3][0]] - floor:.3f} s")


if __name__ == "__main__":
    main()
