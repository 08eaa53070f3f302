#!/usr/bin/env bash
# Speed of every backend side by side (one process, one run), the figure behind the README's speed table.
# Needs the exported models and, for the tensorflow backend, the training run folders (CHECKPOINTS/mask, /face).
# Usage: benchmarks/speed.sh [CHECKPOINTS]   → benchmarks/results/speed-<host>.json and .png
set -euo pipefail
cd "$(dirname "$0")/.."
checkpoints="${1:-runs}"
host="$(hostname -s)"
unmask benchmark --checkpoints "$checkpoints" --batch 1,16 --seconds 5 \
  --backend tensorflow --backend onnxruntime --backend onnxruntime:int8 \
  --json-file "benchmarks/results/speed-$host.json" --plot "benchmarks/results/speed-$host.png"
