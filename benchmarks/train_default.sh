#!/usr/bin/env bash
# Retrain the shipped models from scratch (resumable: rerun the same command after an interruption).
# Usage: benchmarks/train_default.sh [WORKDIR]   (default ../work: data and runs stay outside git)
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-../work}"
mkdir -p "$work"
unmask synthesize ../shared/data/utkface "$work/utk128" --variants 2 --seed 0
resume=(); [ -f "$work/runs/mask/run.json" ] && resume=(--resume)
unmask train mask "$work/utk128" --out "$work/runs/mask" --steps-per-epoch 2500 "${resume[@]}"
resume=(); [ -f "$work/runs/face/run.json" ] && resume=(--resume)
face=(unmask train face "$work/utk128" --out "$work/runs/face" --mask-source mask_g --mask-run "$work/runs/mask"
  --steps-per-epoch 2500)
# the recipe's 10 epochs and 2 more at a constant rate (30,000 steps), then 3 epochs with the rate falling to 0 and
# the loss weighted towards structure (SSIM ×5, adversarial ×0.5). A phase already done is a no-op on rerun.
"${face[@]}" "${resume[@]}"
"${face[@]}" --epochs 12 --resume
"${face[@]}" --epochs 15 --lr-decay-epochs 3 --ssim-weight 5 --adv-weight 0.5 --resume
# Mask G, second stage: 5 epochs of 1,000 steps from its own first export on a fresh draw of masks (seed 1, the
# styles' printed logos included), the rate falling to 0 over the last 3 (the shipped Mask G; Face G above was
# trained on the first stage's masks). The shipped first stage was trained before the styles printed logos.
if [ ! -f "$work/runs/mask_first/mask_g.onnx" ]; then
  unmask export --onnx --only mask --mask-run "$work/runs/mask" --out "$work/runs/mask_first"
fi
unmask synthesize ../shared/data/utkface "$work/utk128L" --variants 1 --seed 1
resume=(); [ -f "$work/runs/mask_logo/run.json" ] && resume=(--resume)
unmask train mask "$work/utk128L" --out "$work/runs/mask_logo" --init "$work/runs/mask_first/mask_g.onnx" \
  --steps-per-epoch 1000 --epochs 5 --lr 1e-4 --lr-decay-epochs 3 "${resume[@]}"
# int8 variants calibrated on 64 training photos spread over the folder (celeb_aligned stays unseen)
unmask export --onnx --mask-run "$work/runs/mask_logo" --face-run "$work/runs/face" --out exported --int8 \
  --parity-photos ../shared/data/utkface --parity-count 64
