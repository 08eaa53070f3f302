#!/usr/bin/env bash
# A width-48 Face G in one device call, the next step session 18 left (benchmarks/results/gpu_face_runs.json,
# "session18": 6.5 min from scratch plus 2 min of the fine-tune recipe passed the shipped Face G's PSNR on
# celeba_small with 1.7x its texture, but lost SSIM, and PSNR on sharp faces).
#   bash benchmarks/gpu/width48_run.sh S1 S2        carry .gpu (wheels, p1, p2 as for device_run.sh; init48 optional)
#   DATA='.gpu/all/*' bash benchmarks/gpu/width48_run.sh S1 S2    carry .gpu/all, .gpu/wheels [, .gpu/init48]
# Stage 1: width 48 from scratch, alone on the GPU, S1 minutes (lr 2e-4 falling to 0 over the last half); skipped
#   when .gpu/init48 holds an earlier run's weights_*.npz (fp16 copies do: train_face_jax.py casts them back).
#   `python benchmarks/gpu/onnx_to_chunks.py exported/face_g_structure.onnx .gpu/init48 --width 48` makes them from
#   the shipped structure model.
# Stage 2: its weight average continued S2 minutes with the fine-tune recipe (lr 5e-5 -> 0, 300 critic-only steps,
#   feature matching x20), two variants side by side: c = session 18's (SSIM x5, adversarial x0.5); d = SSIM x10,
#   adversarial x0.25 (some texture traded back for SSIM).
# C_LOSS and D_LOSS replace c's and d's loss weights; SAVE=best keeps each weight average at its best validation
#   PSNR in the hole (VAL_EVERY steps apart) instead of its last.
# Returns $OUT/c and $OUT/d: weight average (3 files each) and log, no sample sheets (a call returns 8 files at most).
# S1 and S2 are training alone: loading, validating and compiling (up to ~1 min a stage, done before the clock
# starts since session 20) come on top, so S1 4 + S2 2.5 fits a 600 s call (0 7 took 454 s before that change).
# The call carries at most 64 MiB: the tracked files (~53 MB, most of it docs/*.png and exported/*.onnx, none of
# which this reads) and ~42 MB of packs do not fit together: `bash benchmarks/gpu/lighten_tree.sh out` before the
# call, `back` after. On a fresh machine `bash benchmarks/gpu/make_packs.sh` first makes .gpu's packs and wheels.
set -uo pipefail
cd "$(dirname "$0")/../.."
s1="${1:-4.5}"
s2="${2:-2.5}"
py="${PYTHON:-python3}"
out="${OUT:-/tmp/out}"
export KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
if ! "$py" -c "import keras" 2>/dev/null; then  # the GPU machine has JAX but no Keras: carried wheels
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .gpu/wheels/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
data="${DATA:-.gpu/p*}"  # DATA='.gpu/all/*': every UTKFace face (make_packs.sh with PACKS=all)
# shellcheck disable=SC2206  # the packs' glob is meant to expand here
train=("$py" benchmarks/gpu/train_face_jax.py --data $data --batch 16 --width 48 --no-sheet)
init=.gpu/init48
if ! ls "$init"/weights_*.npz >/dev/null 2>&1; then
  init=/tmp/w48_stage1
  "${train[@]}" --save ema --out "$init" --lr 2e-4 --decay 0.5 --minutes "$s1" --save-every 60 --val-every 5000 \
    --ssim-weight 5 --adv-weight 0.5 2>&1 | grep --line-buffered -v -i warning | grep --line-buffered -v '"lr"'
  init="$init/ema"
fi
tune=(--init "$init" --lr 5e-5 --decay 1.0 --d-warmup 300 --fm-weight 20 --minutes "$s2" --save-every 30
  --val-every "${VAL_EVERY:-2000}")
# C_LOSS / D_LOSS replace c's and d's loss weights; SAVE=best keeps each average at its best validation PSNR
# shellcheck disable=SC2206  # the loss options are meant to split into words
c_loss=(${C_LOSS:---ssim-weight 5 --adv-weight 0.5})
# shellcheck disable=SC2206
d_loss=(${D_LOSS:---ssim-weight 10 --adv-weight 0.25})
"${train[@]}" "${tune[@]}" --save "${SAVE:-ema}" --out "$out/c" "${c_loss[@]}" 2>&1 | sed -u 's/^/[c] /' |
  grep --line-buffered -v -i 'warning\|"lr"' &
"${train[@]}" "${tune[@]}" --save "${SAVE:-ema}" --out "$out/d" "${d_loss[@]}" 2>&1 | sed -u 's/^/[d] /' |
  grep --line-buffered -v -i 'warning\|"lr"' &
wait
ls -R "$out"
