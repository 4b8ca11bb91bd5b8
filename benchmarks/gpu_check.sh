#!/usr/bin/env bash
# The GPU checks of the CTR path in one device session (about 6 minutes on an H200, well inside
# one 10-minute command): the `-m gpu` tests of rec-core and rec-trainers, then the throughput
# table at batch 2048 (every CUDA variant, torch-rechub on fewer rows) and at batch 8192.
#
# Here:  nox -s gpu_bundle            (wheels the machine lacks and a copy of Frappe under .gpu/)
# There: bash benchmarks/gpu_check.sh (with .gpu carried); results go to $OUT (or ./gpu-out).
set -uo pipefail
out=${OUT:-gpu-out}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 OMP_WAIT_POLICY=PASSIVE REC_DATA_DIR="$PWD/.gpu/data"
python3 -m pip install -q --no-index --no-deps .gpu/wheels/*.whl
python3 -c "import torch, rec_core, rec_trainers; print('torch', torch.__version__, torch.cuda.get_device_name(0))" \
    | tee "$out/env.txt"
timeout 240 python3 -m pytest -q -p no:cacheprovider -m gpu tests/rec_core tests/rec_trainers 2>&1 \
    | tee "$out/gpu-tests.txt"
timeout 240 python3 benchmarks/ctr_throughput.py --device cuda --rows 2000000 --batch-size 2048 \
    --rechub-rows 300000 2>&1 | tee "$out/throughput-2048.txt"
timeout 120 python3 benchmarks/ctr_throughput.py --device cuda --rows 2000000 --batch-size 8192 \
    --variants plain,plain-fused,plain-graph,rec,rec-graph 2>&1 | tee "$out/throughput-8192.txt"
