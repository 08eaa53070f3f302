#!/usr/bin/env bash
# Face G training on a lent GPU machine (JAX + Keras; no TensorFlow there). Run from the repository root there.
#   bash benchmarks/gpu/device_run.sh stage           copy the carried packs (.gpu/p*) into the machine's cache
#   bash benchmarks/gpu/device_run.sh smoke           stage, then 60 steps of both runs side by side (timing check)
#   bash benchmarks/gpu/device_run.sh train MINUTES   stage, then both runs for MINUTES each, into $OUT/a and $OUT/b
# Each call carries at most 64 MiB, so the packs travel over several calls and stay in the machine's cache while it
# is warm (calls within 30 s of each other); .gpu/ is git-ignored:
#   .gpu/wheels   keras, namex, optree wheels for Python 3.12 (pip download, see the device tool's notes)
#   .gpu/p1       train_0.npz + val.npz      call 1: carry [.gpu/wheels, .gpu/p1]            mode smoke
#   .gpu/p2       train_1.npz                call 2: carry [.gpu/wheels, .gpu/p2]            mode stage
#   .gpu/p3       train_2.npz + val.npz      call 3: carry [.gpu/wheels, .gpu/p3]            mode train 8.5
# What comes back per call is at most 8 files (16 MiB each, 64 MiB in all): each run leaves 4 (raw and averaged
# weights, its log, one sheet), so keep to two runs per call.
# Both runs fine-tune the shipped Face G (width 32, from exported/face_g.onnx, which travels with the repository) on
# the same packed data, side by side on one GPU, keeping a running average of the weights (ema/) and giving half the
# faces another face's hole. Run a also sharpens or softens half the faces (--sharpness); run b does not, so the
# pair measures what that augmentation does. (Session 4's pair: a = this fine-tune without average, swap or
# sharpness; b = width 48 from scratch. benchmarks/results/gpu_face_runs.json has both.)
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
common+=(--width 32 "${init[@]}" --lr 1e-4 --decay 0.6 --d-warmup 300 --ema 0.999 --hole-swap 0.5)
"$py" benchmarks/gpu/train_face_jax.py "${common[@]}" "${extra[@]}" --out "$a_out" --sharpness 0.5 \
  2>&1 | sed -u 's/^/[a] /' | grep --line-buffered -v -i "warning\|^\[a\] $" &
"$py" benchmarks/gpu/train_face_jax.py "${common[@]}" "${extra[@]}" --out "$b_out" --sharpness 0 \
  2>&1 | sed -u 's/^/[b] /' | grep --line-buffered -v -i "warning\|^\[b\] $" &
wait
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv
