"""What `unmask infer` wrote in an output folder, and from which photo (`OUT/.unmask-written.jsonl`).

A rerun must skip an output only when it was restored from this very photo: two camera rolls both hold an
`IMG_0001.jpg`, and the second run into the same folder must not take the first one's output for its own. And it
must never overwrite a file it did not write, even with `--overwrite`: a user's own photo kept in the output folder.
A photo is known by its name, size and modification time, not its path, so a moved input folder still resumes;
and by its bytes where only the time differs, so a copied, synced or restored folder resumes too.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

RECORD_NAME = ".unmask-written.jsonl"


def content_digest(source: Path) -> str:
    with open(source, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def fingerprint(source: Path, digest: bool = False) -> dict:
    """What identifies a photo across runs: its name, size and modification time (links followed), and with
    `digest` (what the record keeps) the SHA-256 of its bytes."""
    st = os.stat(source)
    found = {"name": Path(source).name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if digest:
        found["sha256"] = content_digest(source)
    return found


def same_photo(recorded: dict | None, this: dict | None, source: Path | None = None) -> bool:
    """Whether the photo a record entry names is `this` one: the same name, size and modification time, or, when
    only the time differs (a copy, a restore from a backup, a sync), the same bytes of `source`."""
    if recorded is None or this is None:
        return False
    if all(recorded.get(k) == this.get(k) for k in ("name", "size", "mtime_ns")):
        return True
    if source is None or "sha256" not in recorded or any(recorded.get(k) != this.get(k) for k in ("name", "size")):
        return False
    try:
        return content_digest(source) == recorded["sha256"]
    except OSError:
        return False


class WrittenRecord:
    """The record of one output folder: output path (relative to the folder) → the photo it was restored from, or
    the answer a photo got instead of an output ("no face found", "no face mask found...") and the settings that
    gave it, so that a rerun with the same settings does not look for faces in it again (the fallback detectors
    take seconds a photo). One JSON line per photo, appended and fsynced before its output is renamed into place,
    so a kill leaves no output without its line; a later line for the same output replaces an earlier one."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.path = self.out / RECORD_NAME
        self.entries: dict[str, dict] = {}
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            lines = []  # no record yet, or an unreadable one
        for line in lines:
            try:
                entry = json.loads(line)
                self.entries[entry["output"]] = entry
            except (ValueError, KeyError, TypeError):
                continue  # a line torn by a kill mid-write

    def _key(self, output: Path) -> str:
        return Path(output).relative_to(self.out).as_posix()

    def photo_of(self, output: Path) -> dict | None:
        """The fingerprint of the photo `output` was restored from, or None if this folder's record has none."""
        entry = self.entries.get(self._key(output), {})
        return entry.get("output_from") if entry.get("answer") else entry.get("photo")

    def holds_sheet(self, path: Path) -> bool:
        """Whether `path`, in this folder, is a contact sheet an `infer --sheet` wrote (`add_sheet`)."""
        return bool(self.entries.get(self._key(path), {}).get("sheet"))

    def add_sheet(self, path: Path) -> None:
        """Record that `path` holds a contact sheet: the same command run again may write it again."""
        self._append({"output": self._key(path), "photo": None, "sheet": True})

    def answered(self, output: Path, photo: dict, settings: str, source: Path | None = None) -> bool:
        """Whether `photo` (read from `source`) already got an answer instead of `output` (no face, no mask) with
        these settings."""
        entry = self.entries.get(self._key(output), {})
        if not entry.get("answer") or entry.get("settings") != settings:
            return False
        return same_photo(entry.get("photo"), photo, source)

    def add(self, output: Path, photo: dict | None, answer: str | None = None, settings: str | None = None) -> None:
        """Record that `output` holds a restoration of `photo` (None: it no longer holds one of ours), or, with
        `answer`, that `photo` was left without an output for that reason under `settings`. An output of ours
        already there stays ours (`--overwrite` finding no mask this time leaves it, and a later run may redo it)."""
        entry: dict = {"output": self._key(output), "photo": photo}
        if answer is not None:
            entry.update(answer=answer, settings=settings)
            if (earlier := self.photo_of(output)) is not None and Path(output).exists():
                entry["output_from"] = earlier
        self._append(entry)

    def _append(self, entry: dict) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        # ASCII JSON: a file name that is not UTF-8 is kept as escapes and reads back as the same string
        line = (json.dumps(entry) + "\n").encode("ascii")
        with open(self.path, "a+b") as fh:
            end = fh.seek(0, os.SEEK_END)
            if end:  # a line torn by a full disk or a kill would swallow this one: start a line of its own
                fh.seek(end - 1)
                if fh.read(1) != b"\n":
                    line = b"\n" + line
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        self.entries[entry["output"]] = entry
