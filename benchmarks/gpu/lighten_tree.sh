#!/usr/bin/env bash
# A device call carries the working tree and .gpu/ together, 64 MiB at most: the tracked files (~53 MB) and the packs
# (~42 MB) do not fit. This moves the tracked files the GPU trainer never reads (docs' sheets, the ONNX models other
# than Face G... and Face G itself when .gpu/init48 holds the start) out of the tree, and back.
#   bash benchmarks/gpu/lighten_tree.sh out [STASH]     before the call (STASH default ../work/tree_stash)
#   bash benchmarks/gpu/lighten_tree.sh back [STASH]    after it; `git status` is then clean again
set -euo pipefail
cd "$(dirname "$0")/../.."
stash="${2:-../work/tree_stash}"
case "${1:-}" in
  out)
    mkdir -p "$stash"
    for f in docs/*.png exported/*.onnx unmask_cli/detectors/blazeface_full_range.onnx; do
      [ "$f" = exported/face_g.onnx ] && ! ls .gpu/init48/weights_*.npz >/dev/null 2>&1 && continue
      mkdir -p "$stash/$(dirname "$f")" && mv "$f" "$stash/$f"
    done
    du -sh --exclude=.git --exclude=.venv --exclude=.gpu . && du -sh .gpu ;;  # the tree, and what carry adds
  back)
    cp -a "$stash/." . && rm -rf "$stash" && git status --short ;;
  *)
    echo "usage: $0 out|back [STASH]" >&2; exit 2 ;;
esac
