#!/bin/bash
# The benchmarks' GPU rows on a machine with a CUDA GPU whose python3 has torch; the project's other
# pure-Python needs can come as wheels in .whl/ (installed into /tmp/site). Figures go to $OUT if
# set, else tools/results/. Each benchmark has its own time limit so one slow row cannot eat the rest.
#     bash tools/bench_gpu.sh
set -o pipefail
cd "$(dirname "$0")/.."
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONUNBUFFERED=1
out=${OUT:-tools/results}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
timeout 180 python3 tools/bench.py --device cuda --json 2>&1 | tee "$out/bench_rn101-random_cuda.txt"
# the same with the loss part stepped eagerly instead of replayed from CUDA graphs
CLIPASSO_CUDA_GRAPHS=0 timeout 180 python3 tools/bench.py --device cuda --json 2>&1 | tee "$out/bench_rn101-random_cuda_eager.txt"
# the step against the encoder's own forward + backward (graphs), folded weights against unfolded
timeout 240 python3 tools/bench_step.py --device cuda --json 2>&1 | tee "$out/bench_step_rn101-random_cuda.txt"
timeout 120 python3 tools/bench_levels.py --device cuda --json 2>&1 | tee "$out/bench_levels_rn101-random_cuda.txt"
timeout 120 python3 tools/bench_animate.py --device cuda --backbone rn101-random --json 2>&1 | tee "$out/bench_animate_rn101-random_cuda.txt"
# the levels wall-time ratio on a quiet CPU (this machine's cores; the 2-core laptop's is in the README)
timeout 150 python3 tools/bench_levels.py --device cpu --json 2>&1 | tee "$out/bench_levels_rn101-random_cpu16.txt"
# throughput: default preset, groups of 8, 16 and 32 images (images per hour, peak memory)
timeout 300 python3 tools/bench_batch.py --device cuda --preset default --images 32 --batches 8,16,32 --skip-single --json 2>&1 | tee "$out/bench_batch_rn101-random_cuda.txt"
