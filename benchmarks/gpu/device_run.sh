#!/usr/bin/env bash
# Face G training on a lent GPU machine (JAX + Keras; no TensorFlow there). Run from the repository root there.
#   bash benchmarks/gpu/device_run.sh stage           copy the carried packs (.gpu/p*) into the machine's cache
#   bash benchmarks/gpu/device_run.sh smoke           stage, then 60 steps of both runs side by side (timing check)
#   bash benchmarks/gpu/device_run.sh train MINUTES   stage, then both runs for MINUTES each, into $OUT/a and $OUT/b
# Each call carries at most 64 MiB, working tree included (42 MiB in session 10), so the packs travel over several
# calls and stay in the machine's cache while it is warm (calls within 30 s of each other); .gpu/ is git-ignored:
#   .gpu/wheels   keras, namex, optree wheels for Python 3.12 (benchmarks/gpu/make_packs.sh downloads them, and
#                 makes session 18's packs p1 and p2; lighten_tree.sh makes room for them in a call)
#   .gpu/p1       train_0.npz + val.npz      call 1: carry [.gpu/wheels, .gpu/p1]            mode smoke
#   .gpu/p2       train_1.npz                call 2: carry [.gpu/p2]                         mode stage
#   .gpu/p3       train_2.npz                call 3: carry [.gpu/p3]                         mode train 8.5
# (the wheels are installed once, into /tmp/site, which stays while the machine is warm)
# What comes back per call is at most 8 files (16 MiB each, 64 MiB in all): each run leaves 4 (raw and averaged
# weights, its log, one sheet), so keep to two runs per call.
# PAIR picks the two runs (side by side on one GPU, the same packed data):
#   PAIR=session4 (default): a = the shipped Face G (exported/face_g.onnx travels with the repository) fine-tuned,
#     lr 1e-4 falling to 0 over the last 60%, 300 critic-only steps first — the run in the shipped Face G's average;
#     b = a wider Face G (width 48) from scratch.
#   PAIR=session5: both as a, plus a running weight average (ema/) and another face's hole for half the faces; a
#     also sharpens or softens half the faces, b does not (an ablation of --sharpness).
#   PAIR=session10: the CPU fine-tunes' recipe at batch 16 on packs with two holes per face, a 4,000 and b 12,000
#     steps (how many passes before UTKFace's look takes over).
#   PAIR=session18: packs made with --align-jitter 0.5; a = a width-48 Face G from scratch for MINUTES (capacity);
#     b = the shipped Face G fine-tuned 3,000 steps with the CPU fine-tunes' recipe. Both keep only their weight
#     average (--save ema): a width-48 run's raw and averaged weights alone are 6 of the 8 files a call returns.
# benchmarks/results/gpu_face_runs.json has what each pair gave.
set -uo pipefail
cd "$(dirname "$0")/../.."
mode="${1:-smoke}"
minutes="${2:-5}"
cache=/tmp/unmask-gpu
py="${PYTHON:-python3}"
mkdir -p "$cache"
for d in .gpu/p*; do [ -d "$d" ] && cp -r "$d" "$cache/"; done
if [ ! -d /tmp/site/keras ]; then
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/wheels/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false XLA_PYTHON_CLIENT_MEM_FRACTION=0.45
export PYTHONUNBUFFERED=1
ls -la "$cache" "$cache"/p* | head -20
[ "$mode" = stage ] && exit 0
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv
init=(--init exported/face_g.onnx)
out="${OUT:-/tmp/out}"
common=(--data "$cache"/p* --batch 16 --ssim-weight 5 --adv-weight 0.5)
if [ "$mode" = smoke ]; then
  extra=(--max-steps 60)
  a_out=/tmp/smoke_a; b_out=/tmp/smoke_b
else
  extra=(--minutes "$minutes" --save-every 60 --val-every 4000)
  a_out="$out/a"; b_out="$out/b"
fi
tune=(--width 32 "${init[@]}" --lr 1e-4 --decay 0.6 --d-warmup 300)
if [ "${PAIR:-session4}" = session5 ]; then
  a_cfg=("${tune[@]}" --ema 0.999 --hole-swap 0.5 --sharpness 0.5)
  b_cfg=("${tune[@]}" --ema 0.999 --hole-swap 0.5 --sharpness 0)
elif [ "${PAIR}" = session10 ]; then
  # the CPU fine-tunes' recipe (lr 5e-5 falling to 0 over the whole run, feature matching x20) with the GPU's batch:
  # a for 4,000 steps (64k samples, ~4 passes), b for 12,000 (~12 passes), two holes per face (two draws)
  slow=(--width 32 "${init[@]}" --lr 5e-5 --decay 1.0 --d-warmup 300 --fm-weight 20 --val-every 2000)
  a_cfg=("${slow[@]}" --max-steps 4000)
  b_cfg=("${slow[@]}" --max-steps 12000)
elif [ "${PAIR}" = session18 ]; then
  a_cfg=(--width 48 --lr 2e-4 --decay 0.5 --save ema --val-every 5000)
  b_cfg=(--width 32 "${init[@]}" --lr 5e-5 --decay 1.0 --d-warmup 300 --fm-weight 20 --max-steps 3000 --save ema
    --val-every 1000)
else
  a_cfg=("${tune[@]}")
  b_cfg=(--width 48 --lr 2e-4 --decay 0.5)
fi
"$py" benchmarks/gpu/train_face_jax.py "${common[@]}" "${extra[@]}" --out "$a_out" "${a_cfg[@]}" \
  2>&1 | sed -u 's/^/[a] /' | grep --line-buffered -v -i "warning\|^\[a\] $" &
"$py" benchmarks/gpu/train_face_jax.py "${common[@]}" "${extra[@]}" --out "$b_out" "${b_cfg[@]}" \
  2>&1 | sed -u 's/^/[b] /' | grep --line-buffered -v -i "warning\|^\[b\] $" &
wait
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv
