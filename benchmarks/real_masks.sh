#!/usr/bin/env bash
# `unmask infer` on the 200 real masked photos: detection/restoration counts, photos/s, a before/after sheet.
# Usage: benchmarks/real_masks.sh [DATA]   → benchmarks/results/real_masks.json and docs/real_masks_sheet.png
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data/masked_real}"
out="$(mktemp -d)"
unmask infer "$data" --out "$out" --json --sheet docs/real_masks_sheet.png > benchmarks/results/real_masks.json
echo "restored photos in $out"
