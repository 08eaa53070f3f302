"""Pack a synthesized dataset into a few small files for Face G training on a lent GPU machine.

The GPU machine receives at most 64 MiB per call, so each face travels as its clean 128² crop in WebP (q90, ~3.3 KB,
mean |Δ| ~2/255) and the region Face G must fill: Mask G's prediction on the masked crop, thresholded and grown
by 1 px — exactly what `unmask train face --mask-source mask_g` feeds Face G — as packed bits.
With several synthesized folders (draws of the same faces with other masks: `unmask synthesize --seed`), each face
carries one hole per draw (~400 B each, against ~3.3 KB for its crop); training picks one at random per step, so
many passes over the faces are not passes over the same holes.

    python benchmarks/gpu/pack_face_data.py ../work/utk128T ../work/pack --more-draws ../work/utk128H2 \
        --mask-model exported/mask_g.onnx --part-mb 19 21.5 21.5

writes `val.npz` (held-out faces, same split rule as training) and `train_<k>.npz`, each at most its --part-mb
(caps that fit three calls beside a 35 MB working tree; see device_run.sh for how the parts travel).

`--align-jitter P`: a share P of the training faces (not the held-out ones) is shifted, scaled and turned a little
— the clean crop and every draw's masked crop by the same random warp, before Mask G finds the hole — as `unmask
train face --align-jitter` does (`pipelines._jitter_alignment`, its ranges), since the crops `infer` aligns on a
masked face drift. Here the warp is drawn once per face at packing time, not again every epoch.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from unmask_cli.data import load_manifest, split
from unmask_cli.images import read_rgb
from unmask_cli.pipelines import jitter_transform


def holes(session: ort.InferenceSession, masked: np.ndarray) -> np.ndarray:
    """Mask G's region for a batch of RGB uint8 crops: probability > 0.5, grown by 1 px (3×3 max)."""
    x = masked.astype(np.float32) / 127.5 - 1
    prob = session.run(None, {session.get_inputs()[0].name: x})[0][..., 0]
    kernel = np.ones((3, 3), np.uint8)
    return np.stack([cv2.dilate((p > 0.5).astype(np.uint8), kernel) for p in prob])


def jitter_matrix(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random warp of `unmask train face --align-jitter` (`pipelines.jitter_transform`), as the 2×3 matrix from an
    output pixel to the input pixel it samples (cv2's WARP_INVERSE_MAP)."""
    return np.array(jitter_transform(rng.random(4), size)).reshape(2, 3)


def warped(image: np.ndarray, matrix: np.ndarray | None) -> np.ndarray:
    """`image` warped by `matrix` (None: as it is); the border mirrored, as training's jitter and `faces.align` do."""
    if matrix is None:
        return image
    h, w = image.shape[:2]
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(image, matrix, (w, h), flags=flags, borderMode=cv2.BORDER_REFLECT)


def encode(
    records: list[dict],
    roots: list[Path],
    draws: list[dict[str, dict]],
    session: ort.InferenceSession,
    quality: int,
    jitter: float = 0.0,
    rng: np.random.Generator | None = None,
) -> tuple[list, np.ndarray]:
    """WebP crops and holes (N × draws × S × S) of `records` (from the first draw; the others matched by clean crop);
    a share `jitter` of the faces warped by `jitter_matrix`, the clean crop and every draw alike."""
    blobs, hole_list = [], []
    for start in range(0, len(records), 64):
        chunk = records[start : start + 64]
        clean = [read_rgb(roots[0] / r["clean"]) for r in chunk]
        moves = [jitter_matrix(rng, c.shape[0]) if jitter and rng.random() < jitter else None for c in clean]
        clean = [warped(c, m) for c, m in zip(clean, moves, strict=True)]
        per_draw = []
        for root, by_clean in zip(roots, draws, strict=True):
            masked = [read_rgb(root / by_clean[r["clean"]]["masked"]) for r in chunk]
            masked = np.stack([warped(x, m) for x, m in zip(masked, moves, strict=True)])
            per_draw.append(holes(session, masked))
        hole_list.append(np.stack(per_draw, axis=1))
        for image in clean:
            ok, buf = cv2.imencode(".webp", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_WEBP_QUALITY, quality])
            if not ok:
                raise RuntimeError("WebP encoding failed")
            blobs.append(buf.tobytes())
    return blobs, np.concatenate(hole_list)


def save(path: Path, blobs: list[bytes], hole: np.ndarray, sources: list[str]) -> None:
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(  # the bit-packed holes shrink ~8x; WebP bytes stay as they are
        tmp,
        webp=np.frombuffer(b"".join(blobs), np.uint8),
        offsets=offsets,
        holes=np.packbits(hole.astype(bool), axis=-1),
        size=np.int64(hole.shape[-1]),
        sources=np.array(sources),
    )
    tmp.replace(path)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, help="an `unmask synthesize` output folder")
    ap.add_argument("out", type=Path)
    ap.add_argument("--more-draws", type=Path, nargs="*", default=[], help="other draws of the same faces")
    ap.add_argument("--mask-model", type=Path, default=Path("exported/mask_g.onnx"))
    ap.add_argument("--part-mb", type=float, nargs="+", default=[27.0], help="size cap of each training part")
    ap.add_argument("--val", type=int, default=256, help="held-out faces to pack for validation")
    ap.add_argument("--val-fraction", type=float, default=0.05)
    ap.add_argument("--quality", type=int, default=90)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--align-jitter", type=float, default=0.0, help="share of training faces shifted/scaled/turned")
    args = ap.parse_args(argv)

    records = load_manifest(args.data)
    roots = [args.data, *args.more_draws]
    # a face is its clean crop: the draws share those files (same photo, same landmarks), not their masks
    draws = [{r["clean"]: r for r in load_manifest(root)} for root in roots]
    records = [r for r in records if all(r["clean"] in d for d in draws)]
    train, val = split(records, args.val_fraction)
    rng = np.random.default_rng(args.seed)
    train = [train[i] for i in rng.permutation(len(train))]  # every part a fair sample of the whole set
    session = ort.InferenceSession(str(args.mask_model), providers=["CPUExecutionProvider"])
    args.out.mkdir(parents=True, exist_ok=True)

    val = val[: args.val]
    if val:
        blobs, hole = encode(val, roots, draws, session, args.quality)
        save(args.out / "val.npz", blobs, hole, [r["source"] for r in val])
    summary = {"val": len(val), "parts": []}
    pos = 0
    for k, cap_mb in enumerate(args.part_mb):
        cap, used, chunk = cap_mb * 2**20, 0, []
        part_blobs, part_holes = [], []
        while pos < len(train) and used < cap * 0.97:
            chunk = train[pos : pos + 128]
            b, h = encode(chunk, roots, draws, session, args.quality, args.align_jitter, rng)
            part_blobs += b
            part_holes.append(h)
            used += sum(map(len, b)) + 400 * len(b) * len(roots)  # ~400 B per compressed hole
            pos += len(chunk)
        if not part_blobs:
            break
        save(args.out / f"train_{k}.npz", part_blobs, np.concatenate(part_holes), [])
        mb = (args.out / f"train_{k}.npz").stat().st_size / 2**20
        summary["parts"].append({"faces": len(part_blobs), "mb": round(mb, 2)})
    summary["train_faces_packed"] = sum(p["faces"] for p in summary["parts"])
    summary["train_faces_total"] = len(train)
    (args.out / "pack.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
