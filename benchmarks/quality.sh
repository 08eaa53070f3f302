#!/usr/bin/env bash
# Quality of the shipped models against OpenCV's Telea and Navier-Stokes inpainting on the validation faces
# (never used in training), every built-in style: the figures behind the README's and the model card's tables.
# Usage: benchmarks/quality.sh [DATA]   → benchmarks/results/quality.json and docs/evaluate_sheet.png
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data/celeb_aligned}"
unmask evaluate "$data" --backend onnxruntime --backend onnxruntime:int8 --backend opencv --backend opencv-ns \
  --json-file benchmarks/results/quality.json --sheet docs/evaluate_sheet.png
