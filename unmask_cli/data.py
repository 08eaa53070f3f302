"""The training-data layout on disk that `unmask synthesize` writes and training reads.

```
OUT/
  config.json       how the folder was made (style, seed, size, variants): a rerun must match it
  manifest.jsonl    one line per sample: ids, source photo, face index, landmarks, style, seed
  skipped.jsonl     one line per photo that gave no sample, with the reason
  clean/<face>.png        aligned S×S face, RGB
  masked/<sample>.png     the same face wearing a synthesized mask
  mask/<sample>.png       binary mask (0 or 255), 1 channel
```
JSONL files are appended one line at a time and fsynced, so a kill loses at most the line being written;
readers ignore a torn last line.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

MANIFEST = "manifest.jsonl"
SKIPPED = "skipped.jsonl"
CONFIG = "config.json"
OUTPUT_DIRS = ("clean", "masked", "mask")  # the image folders synthesize writes
SLUG_CHARS = 80  # the readable part of a key; the hash keeps keys unique, the cut keeps names under 255 bytes


def source_bytes(source: str) -> bytes:
    """A source name as bytes; surrogateescape round-trips file names that are not valid UTF-8."""
    return source.encode("utf-8", "surrogateescape")


def face_key(source: str, face_index: int) -> str:
    """File-name-safe id of one face of one source photo: a readable slug of the relative path, plus a hash of
    the path itself, since slugs alone collide (`é.jpg` and `ü.jpg` are both `jpg`; `a b.jpg` and `a_b.jpg` too).
    48 bits of hash: crc32's 32 would collide within ~100k photos whose names share a slug (all-CJK names).

    Datasets written before the hash keep their stored file names: readers and resume go by the manifest's
    `source` and file fields, never by recomputing keys."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", source).strip("_")[-SLUG_CHARS:].lstrip("_")
    digest = hashlib.sha256(source_bytes(source)).hexdigest()[:12]
    return f"{safe}_{digest}_f{face_index}" if safe else f"{digest}_f{face_index}"


def sample_key(source: str, face_index: int, variant: int) -> str:
    return f"{face_key(source, face_index)}_v{variant}"


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a JSONL file; a torn or corrupt line (from a kill mid-write) is skipped."""
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def append_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
    if not lines:
        return
    with path.open("a", encoding="utf-8") as fh:
        # A torn line from an earlier kill would glue onto ours: start on a fresh line.
        if fh.tell() > 0:
            with path.open("rb") as check:
                check.seek(-1, os.SEEK_END)
                if check.read(1) != b"\n":
                    fh.write("\n")
        fh.write(lines)
        fh.flush()
        os.fsync(fh.fileno())


SAMPLE_FILES = ("clean", "masked", "mask")


def is_sample(record: Any) -> bool:
    """A manifest line as `synthesize` writes it: a JSON line of another shape (another tool's file of the same
    name, a hand edit) is no sample."""
    names = ("id", "source", *SAMPLE_FILES)
    return isinstance(record, dict) and all(isinstance(record.get(k), str) for k in names)


def load_manifest(root: Path, left_out: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """Samples of a synthesized dataset whose three files all exist, sorted by id: `synthesize`'s workers append them
    in the order they finish, and training and packing must see the same list on every machine that draws it.
    `left_out`, when given, gets the count of lines that are no sample and of samples with a file missing."""
    root = Path(root)
    records = list(read_jsonl(root / MANIFEST))
    samples = [r for r in records if is_sample(r)]
    complete = [r for r in samples if all((root / r[k]).is_file() for k in SAMPLE_FILES)]
    if left_out is not None:
        left_out.update(not_samples=len(records) - len(samples), files_missing=len(samples) - len(complete))
    return sorted(complete, key=lambda r: r["id"])


def split(records: list[dict[str, Any]], val_fraction: float) -> tuple[list[dict], list[dict]]:
    """Train/validation split by source photo: every sample of one photo lands on the same side."""
    cut = round(val_fraction * 1000)
    train, val = [], []
    for r in records:
        (val if zlib.crc32(source_bytes(r["source"])) % 1000 < cut else train).append(r)
    return train, val
