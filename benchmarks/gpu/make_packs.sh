#!/usr/bin/env bash
# What a lent GPU needs in the git-ignored .gpu/, made from ../shared/data on a fresh machine (nothing made by hand
# survives one): the packs and wheels device_run.sh and width48_run.sh carry. ~15 min on 2 cores; rerun to resume.
#   bash benchmarks/gpu/make_packs.sh [WORKDIR]      (default ../work: the draws stay outside git; GPU_DIR=.gpu)
# 1. Sessions 14 and 15's two UTKFace draws: photos [0, 9000) and [9000, 18000) of seed 14's shuffle
#    (benchmarks/utk_subset.py), masks drawn with --variants 1 --seed 9 and --seed 10 (WORKDIR/utk128J, utk128K).
# 2. Packed as in session 18 (benchmarks/results/gpu_face_runs.json), holes from the shipped Mask G, --align-jitter 0.5:
#    .gpu/p1 = all of J's 8,442 training faces + 256 held-out ones (29 MB), .gpu/p2 = K's first 3,968 (13 MB). With
#    the tracked files (~53 MB) that is over a call's 64 MiB, so lighten_tree.sh moves what the trainer never reads.
# 3. .gpu/wheels: keras, namex, optree for the GPU machine's Python 3.12 (it has JAX, not Keras), from PyPI.
set -euo pipefail
cd "$(dirname "$0")/../.."
work="${1:-../work}"
photos=../shared/data/utkface
gpu="${GPU_DIR:-.gpu}"
python benchmarks/utk_subset.py "$photos" "$work/utk_subset" --seed 14 --start 0 --count 9000
python benchmarks/utk_subset.py "$photos" "$work/utk_subset2" --seed 14 --start 9000 --count 9000
unmask synthesize "$work/utk_subset" "$work/utk128J" --variants 1 --seed 9
unmask synthesize "$work/utk_subset2" "$work/utk128K" --variants 1 --seed 10
[ -f "$gpu/p1/pack.json" ] ||
  python benchmarks/gpu/pack_face_data.py "$work/utk128J" "$gpu/p1" --align-jitter 0.5 --part-mb 40 --seed 18
[ -f "$gpu/p2/pack.json" ] ||
  python benchmarks/gpu/pack_face_data.py "$work/utk128K" "$gpu/p2" --align-jitter 0.5 --part-mb 14 --val 0 --seed 19
if ! ls "$gpu"/wheels/keras-*.whl >/dev/null 2>&1; then
  python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    -d "$gpu/wheels" keras==3.15.1 namex==0.1.0 optree==0.20.0
fi
du -sh "$gpu"/p1 "$gpu"/p2 "$gpu"/wheels
