#!/usr/bin/env bash
# What a lent GPU needs in the git-ignored .gpu/, made from ../shared/data on a fresh machine (nothing made by hand
# survives one): the packs and wheels device_run.sh and width48_run.sh carry. ~15 min on 2 cores (PACKS=all: ~8 min
# more); rerun to resume.
#   bash benchmarks/gpu/make_packs.sh [WORKDIR]      (default ../work: the draws stay outside git; GPU_DIR=.gpu)
# 1. Sessions 14 and 15's two UTKFace draws: photos [0, 9000) and [9000, 18000) of seed 14's shuffle
#    (benchmarks/utk_subset.py), masks drawn with --variants 1 --seed 9 and --seed 10 (WORKDIR/utk128J, utk128K).
# 2. Packed as in session 18 (benchmarks/results/gpu_face_runs.json), holes from the shipped Mask G, --align-jitter 0.5:
#    .gpu/p1 = all of J's 8,442 training faces + 256 held-out ones (29 MB), .gpu/p2 = K's first 3,968 (13 MB). With
#    the tracked files (~53 MB) that is over a call's 64 MiB, so lighten_tree.sh moves what the trainer never reads.
# 3. .gpu/wheels: keras, namex, optree for the GPU machine's Python 3.12 (it has JAX, not Keras), from PyPI.
# 4. PACKS=all: every UTKFace photo instead of 12,410 of them (session 20's next step, exported/README.md). A third
#    draw, photos [18000, end) of the same shuffle with --seed 11 (WORKDIR/utk128L); all three packed at WebP q75
#    into .gpu/all/j, k and l, with p1's 256 held-out faces (q90) as j's val.npz. At q75 a face with its hole takes
#    ~1.75 KB against ~3.2 KB at q90 (mean |Δ| 3.3/255 against 2.0): the 21,386 training faces take 39 MB and fit
#    beside .gpu/init48 and the wheels. Carry .gpu/all, .gpu/wheels (and .gpu/init48) rather than .gpu, and set
#    DATA='.gpu/all/*' for width48_run.sh.
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
if [ "${PACKS:-}" = all ]; then
  python benchmarks/utk_subset.py "$photos" "$work/utk_subset3" --seed 14 --start 18000 --count 9000
  unmask synthesize "$work/utk_subset3" "$work/utk128L" --variants 1 --seed 11
  pack=(python benchmarks/gpu/pack_face_data.py)
  opts=(--align-jitter 0.5 --quality 75 --part-mb 60)  # after the folders: --part-mb takes several values
  [ -f "$gpu/all/j/pack.json" ] || "${pack[@]}" "$work/utk128J" "$gpu/all/j" "${opts[@]}" --seed 18
  cp "$gpu/p1/val.npz" "$gpu/all/j/val.npz"  # the same 256 held-out faces at q90: figures compare with sessions 18-20
  [ -f "$gpu/all/k/pack.json" ] || "${pack[@]}" "$work/utk128K" "$gpu/all/k" "${opts[@]}" --val 0 --seed 19
  [ -f "$gpu/all/l/pack.json" ] || "${pack[@]}" "$work/utk128L" "$gpu/all/l" "${opts[@]}" --val 0 --seed 20
  du -sh "$gpu"/all/*
fi
du -sh "$gpu"/p1 "$gpu"/p2 "$gpu"/wheels
