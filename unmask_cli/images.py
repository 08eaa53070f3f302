"""Reading any photo a user may have into RGB uint8, and writing images atomically."""

from __future__ import annotations

import errno
import os
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from unmask_cli.metadata import Metadata, encode_with_metadata, png_with_metadata, read_metadata

# OpenCV decodes these; Pillow (with pillow-heif) the rest: iPhone HEIC/HEIF, AVIF, GIF, TGA
# (+ the Netpbm family and JPEG 2000, which OpenCV reads too: found in folders, written back as PNG)
OPENCV_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".jfif", ".ppm", ".pgm", ".pbm", ".pnm", ".jp2"}
)
PILLOW_SUFFIXES = frozenset({".heic", ".heif", ".avif", ".gif", ".tga"})
IMAGE_SUFFIXES = OPENCV_SUFFIXES | PILLOW_SUFFIXES
LOSSY_UNWRITABLE = frozenset({".heic", ".heif", ".avif"})  # camera photos: written back as JPEG, not a huge PNG
MIN_SIDE = 32  # below this no face detector can find anything useful
# refuse decompression bombs before decoding them; a 200 MP phone photo (16320×12240) is under it, and peaks at
# ~4.5 GB (`benchmarks/photo_size.py --sizes 108 200`)
MAX_PIXELS = 200_000_000


_UMASK = os.umask(0)
os.umask(_UMASK)
# A bad file gets one line from us; OpenCV's own warnings about it would only repeat it, without the file name.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


class ImageError(ValueError):
    """An input that cannot be used as a photo; the message is the one-line reason."""


def resolved(path: Path | str) -> Path:
    """`path` with its links followed; its absolute path where a link loop leaves nothing to follow (Python 3.11's
    `resolve` raises then, and one looping link in a folder must be one bad photo, not a crashed batch)."""
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):
        return Path(path).absolute()


def iter_images(inputs: Iterable[Path], exclude: Path | None = None) -> Iterator[Path]:
    """Files given directly, and image files under folders (recursive, sorted for a stable order, following links
    to folders once each: an album linked into a folder is walked, a link back up the tree is not walked twice).

    Files under `exclude` are left out: an output folder inside an input folder must not be read back as input.
    """
    skip = resolved(exclude) if exclude is not None else None
    for item in inputs:
        item = Path(item)
        if is_folder(item):
            yield from sorted(p for p in _files_under(item) if skip is None or not resolved(p).is_relative_to(skip))
        else:
            yield item


APPLE_DOUBLE = "._"


def is_folder(path: Path) -> bool:
    """`path.is_dir()`, False where it cannot be looked at (inside a folder without search permission: Python 3.11
    raises then); reading it then says why, as one skip line."""
    try:
        return Path(path).is_dir()
    except OSError:
        return False


def given(path: Path) -> bool:
    """Whether a path given on the command line names something (a broken or looping link too, and something in a
    folder without search permission: reading it says why)."""
    try:
        return path.exists() or path.is_symlink()
    except OSError:
        return True


def _files_under(folder: Path) -> Iterator[Path]:
    """Image files under `folder`, links to folders followed (`Path.rglob` does not follow them in Python 3.11)
    and each real folder walked once; a broken link is listed too, to be reported as unreadable rather than
    silently left out. Pipes, sockets and devices are not photos (reading a pipe would wait forever), nor are the
    `._NAME.jpg` files macOS leaves beside every photo on a USB stick or network drive (its metadata, AppleDouble).
    A folder that cannot be opened (no permission) is listed itself, to be reported rather than silently left out."""
    seen: set[tuple[int, int]] = set()
    unopened: list[OSError] = []
    for root, dirs, files in os.walk(folder, followlinks=True, onerror=unopened.append):
        yield from (Path(exc.filename) for exc in unopened if exc.filename)
        unopened.clear()
        try:
            st = os.stat(root)
        except OSError:
            dirs[:] = []
            yield Path(root)
            continue
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []  # a link loop, or a folder linked in twice
            continue
        seen.add((st.st_dev, st.st_ino))
        for name in files:
            p = Path(root) / name
            if name.startswith(APPLE_DOUBLE) or p.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                listed = p.is_file() or (p.is_symlink() and not p.exists())
            except OSError:  # in a folder that can be listed but not searched: reading it says why
                listed = True
            if listed:
                yield p
    yield from (Path(exc.filename) for exc in unopened if exc.filename)


# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic...): they carry the image size
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a JPEG's start-of-frame segment (walking the segments, no decoding)."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _JPEG_SOF:
            return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
        if marker == 0xD8 or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIFF_SIGNATURES = (b"II*\x00", b"MM\x00*")  # little- and big-endian


def _header_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the file's header without decoding, to refuse absurd sizes cheaply: PNG and JPEG
    parsed here, any other format Pillow can open lazily (TIFF, WebP, BMP...: a 5 MB LZW TIFF can hold 1 GP)."""
    if data[:8] == PNG_SIGNATURE and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    import io
    import warnings

    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's default (89 MP) would refuse photos under ours
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as opened:  # lazy: the header, not the pixels
                return opened.size
    except Image.DecompressionBombError as exc:  # over twice our limit: Pillow says so before we can
        raise ImageError(f"image too large (limit {MAX_PIXELS // 1_000_000} MP)") from exc
    except Exception:  # not a format Pillow knows: OpenCV decodes it or the caller says it cannot
        return None


def _png_damage(data: bytes) -> tuple[str | None, bytes]:
    """(why the PNG `data` cannot be used, or None; `data` without its damaged ancillary chunks). libpng refuses a
    critical chunk (header, palette, image data) whose checksum is wrong, and writes a line about every damaged
    chunk to stderr without the file's name; checked here, the user gets one line naming the file instead. A
    damaged ancillary chunk (text, time, a colour profile) is dropped and the photo kept."""
    if data[12:16] != b"IHDR":
        return "corrupt PNG (no header chunk)", data
    view = memoryview(data)  # checksums over views: no copy of a big photo's image data
    offset, damaged = 8, []
    while offset + 12 <= len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        end = offset + 12 + length
        if end > len(data):
            break
        kind = data[offset + 4 : offset + 8]
        if zlib.crc32(view[offset + 4 : end - 4]) != int.from_bytes(data[end - 4 : end], "big"):
            if kind[:1].isupper():
                return f"corrupt PNG (checksum error in its {kind.decode('latin-1')} chunk)", data
            damaged.append((offset, end))
        if kind == b"IEND":
            if damaged:  # rebuilt without them
                starts = [0, *(e for _, e in damaged)]
                ends = [*(o for o, _ in damaged), len(data)]
                data = b"".join(data[a:b] for a, b in zip(starts, ends, strict=True))
            return None, data
        offset = end
    return "truncated PNG (it ends before its end chunk)", data


WRITABLE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jfif", ".png", ".webp", ".bmp", ".tif", ".tiff"})


def writable_name(path: Path) -> Path:
    """`path`, or, when OpenCV cannot write its format, `path` + ".jpg" for a camera photo (HEIC, HEIF, AVIF) and
    `path` + ".png" for anything else (no suffix, `.gif`, `.jpg_large`...)."""
    suffix = path.suffix.lower()
    if suffix in WRITABLE_SUFFIXES:
        return path
    return path.with_name(path.name + (".jpg" if suffix in LOSSY_UNWRITABLE else ".png"))


def to_uint8_rgb(image: np.ndarray) -> np.ndarray:
    """Any decoded array (gray, BGR, BGRA; 8/16-bit or float) to RGB uint8."""
    if image.dtype == np.uint16:
        image = (image / 257.0).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image.astype(np.float32) * (255.0 if image.max() <= 1.0 else 1.0), 0, 255)
        image = image.round().astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        # Transparent pixels become white rather than whatever colour hides under alpha 0.
        alpha = image[..., 3:4].astype(np.float32) / 255.0
        bgr = image[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        return cv2.cvtColor(bgr.round().astype(np.uint8), cv2.COLOR_BGR2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@dataclass
class Photo:
    """A decoded photo. `rgb` (RGB uint8, transparency flattened onto white) is what detection and the models see;
    `original` keeps what that loses — the alpha channel, 16-bit depth — oriented like `rgb`, or None."""

    rgb: np.ndarray
    original: np.ndarray | None = None  # RGB or RGBA, uint8 or uint16
    frames: int = 1  # pages or animation frames; only the first is restored
    metadata: Metadata = field(default_factory=Metadata)  # ICC profile and EXIF, for the output
    lossless: bool = False  # a lossless WebP, to be written losslessly


ALPHA_SUFFIXES = frozenset({".png", ".webp", ".tif", ".tiff"})
DEEP_SUFFIXES = frozenset({".png", ".tif", ".tiff"})  # formats OpenCV writes at 16 bits per channel


_DIHEDRAL = (
    lambda a: a,
    lambda a: a[::-1, ::-1],
    lambda a: a[:, ::-1],
    lambda a: a[::-1],
    lambda a: np.rot90(a, 1),
    lambda a: np.rot90(a, -1),
    lambda a: np.rot90(a, 1)[::-1],
    lambda a: np.rot90(a, -1)[::-1],
)


def _orient_like(unrotated: np.ndarray, oriented_bgr: np.ndarray) -> np.ndarray:
    """`unrotated` (as stored) turned the way OpenCV's EXIF-aware decode turned `oriented_bgr`.

    OpenCV applies EXIF orientation only when it converts to colour, so the alpha channel (read unchanged) must be
    turned to match: of the eight rotations and flips, the one whose colours equal the oriented decode.
    """
    colour = unrotated[..., :3]
    for turn in _DIHEDRAL:
        turned = turn(colour)
        if turned.shape == oriented_bgr.shape and np.array_equal(turned, oriented_bgr):
            return np.ascontiguousarray(turn(unrotated))
    return unrotated if unrotated.shape[:2] == oriented_bgr.shape[:2] else None


def _frame_count(path: Path, data: bytes) -> int:
    """Frames of an animated GIF/WebP/PNG or pages of a TIFF (1 for everything else, without decoding)."""
    animated = (
        data[:6] in (b"GIF87a", b"GIF89a")
        or (data[:4] == b"RIFF" and b"ANIM" in data[:64])
        or (data[:8] == PNG_SIGNATURE and b"acTL" in data[: data.find(b"IDAT") if b"IDAT" in data else 0])
        or data[:4] in TIFF_SIGNATURES
    )
    if not animated:
        return 1
    try:
        return max(1, int(cv2.imcount(str(path))))
    except cv2.error:
        return 1


def _lossless_webp(data: bytes) -> bool:
    """Whether a WebP's image is stored losslessly (VP8L): its output is then written losslessly too, keeping every
    untouched pixel. Walks the RIFF chunks to the first image chunk."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return False
    offset = 12
    while offset + 8 <= len(data):
        chunk, size = data[offset : offset + 4], int.from_bytes(data[offset + 4 : offset + 8], "little")
        if chunk in (b"VP8 ", b"VP8L"):
            return chunk == b"VP8L"
        offset += 8 + size + (size & 1)
    return False


def _may_have_alpha(data: bytes) -> bool:
    """Whether the file can hold an alpha channel, read from its header: the second, alpha-keeping decode is only
    needed then (it costs as much as the first: 0.16 s for a 12 MP PNG). PNG: an alpha colour type or a tRNS chunk;
    WebP: the extended header's alpha flag or the lossless header's alpha bit (plain lossy WebP has none); TIFF:
    always (its extra samples are not worth parsing here)."""
    if data[:8] == PNG_SIGNATURE:
        idat = data.find(b"IDAT")
        return len(data) > 25 and (data[25] in (4, 6) or b"tRNS" in data[: idat if idat > 0 else len(data)])
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        chunk = data[12:16]
        if chunk == b"VP8X":
            return len(data) > 20 and bool(data[20] & 0x10)
        if chunk == b"VP8L":
            return len(data) > 24 and bool(int.from_bytes(data[21:25], "little") >> 28 & 1)
        return chunk != b"VP8 "
    return data[:4] in TIFF_SIGNATURES


def read_photo(path: Path) -> Photo:
    """Decode `path` (EXIF orientation applied), or raise `ImageError` with the reason."""
    path = Path(path)
    if is_folder(path):  # listed by `iter_images` because it could not be opened
        try:
            with os.scandir(path):  # what os.walk could not do
                cause = None
        except OSError as exc:
            cause = exc
        reason = (cause.strerror or str(cause)) if cause else "it could not be walked"
        raise ImageError(f"cannot open this folder ({reason}): the photos in it are left out") from cause
    try:
        if path.exists() and not path.is_file():
            raise ImageError("not a regular file (a pipe, device or socket)")  # reading a pipe would wait forever
        data = path.read_bytes()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImageError(f"link loop (via {os.readlink(path)}, never reaches a file)") from exc
        if exc.errno != errno.EACCES and path.is_symlink() and not path.exists():
            raise ImageError(f"broken link (nothing at {os.readlink(path)})") from exc
        raise ImageError(f"cannot read file ({exc.strerror or exc})") from exc
    if not data:
        raise ImageError("empty file")
    if data.startswith(PNG_SIGNATURE):
        damage, data = _png_damage(data)
        if damage:
            raise ImageError(damage)
    size = _header_size(data)
    if size and size[0] * size[1] > MAX_PIXELS:
        raise ImageError(f"image too large ({size[0]}×{size[1]} px, limit {MAX_PIXELS // 1_000_000} MP)")
    buffer = np.frombuffer(data, np.uint8)
    # IMREAD_COLOR applies EXIF orientation; ANYDEPTH keeps 16-bit precision until we scale it ourselves.
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH)
    frames = None
    if image is None:
        image, frames = _pillow_decode(data)  # HEIC, AVIF, GIF, or a file whose name lies about its format
    full = image
    if frames is None and _may_have_alpha(data):
        unchanged = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
        if unchanged is not None and unchanged.ndim == 3 and unchanged.shape[2] == 4:
            turned = _orient_like(unchanged, image)
            full = turned if turned is not None else image  # alpha we cannot place is dropped, not misplaced
    rgb = to_uint8_rgb(full)
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ImageError(f"image too small ({w}×{h} px, need at least {MIN_SIDE} px a side)")
    original = None
    if full.dtype in (np.uint8, np.uint16) and (full.shape[2] == 4 or full.dtype == np.uint16):
        original = cv2.cvtColor(full, cv2.COLOR_BGRA2RGBA if full.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    frames = frames or _frame_count(path, data)
    return Photo(rgb, original, frames, read_metadata(data, w, h), _lossless_webp(data))


def _pillow_decode(data: bytes) -> tuple[np.ndarray, int]:
    """(BGR or BGRA uint8 with EXIF orientation applied, frame count) through Pillow, which with pillow-heif reads
    what OpenCV cannot (iPhone HEIC, AVIF, GIF); raises `ImageError` when it cannot either."""
    import io
    import warnings

    import pillow_heif
    from PIL import Image, ImageOps

    pillow_heif.register_heif_opener()
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own bomb check, for formats whose size the header did not give
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                frames = int(getattr(opened, "n_frames", 1))
                image = ImageOps.exif_transpose(opened)
                alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
                pixels = np.asarray(image.convert("RGBA" if alpha else "RGB"))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"image too large (limit {MAX_PIXELS // 1_000_000} MP)") from exc
    except Exception as exc:  # Pillow raises many types for corrupt or unknown files
        raise ImageError("not a decodable image (corrupt, truncated or unsupported format)") from exc
    return cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA if alpha else cv2.COLOR_RGB2BGR), frames


def read_rgb(path: Path) -> np.ndarray:
    """Decode `path` into RGB uint8 (EXIF orientation applied), or raise `ImageError` with the reason."""
    return read_photo(path).rgb


def as_written(photo: Photo, restored: np.ndarray, suffix: str) -> np.ndarray:
    """The array to save for `restored` (RGB uint8, edited from `photo.rgb`): the source's alpha channel and
    16-bit depth are kept where the output format (`suffix`) can hold them.

    Only the change is carried over (original + restored − rgb), so every untouched pixel keeps its exact value.
    """
    original = photo.original
    if original is None:
        return restored
    suffix = suffix.lower()
    if original.shape[2] == 4 and suffix not in ALPHA_SUFFIXES:
        return restored  # the photo flattened onto white is what this format can hold
    if original.dtype == np.uint16 and suffix not in DEEP_SUFFIXES:
        original = (original / 257.0).round().astype(np.uint8)
    deep = original.dtype == np.uint16
    scale, top = (257.0, 65535.0) if deep else (1.0, 255.0)
    out = original.copy()
    changed = (restored != photo.rgb).any(axis=2)
    if out.shape[2] == 4:
        # A restored face is opaque: it shows what the user saw, the photo flattened onto white.
        out[changed, :3] = (restored[changed].astype(np.float32) * scale).round().astype(out.dtype)
        out[changed, 3] = np.asarray(top, out.dtype)
    else:
        change = (restored[changed].astype(np.float32) - photo.rgb[changed]) * scale
        out[changed] = np.clip(out[changed] + change, 0, top).round().astype(out.dtype)
    return out


def _encode(path: Path, rgb: np.ndarray, quality: int, metadata: Metadata | None, lossless: bool) -> bytes:
    suffix = path.suffix.lower()
    if metadata:
        with_metadata = encode_with_metadata(rgb, suffix, metadata, quality, lossless)
        if with_metadata is not None:
            return with_metadata
    to_bgr = {3: cv2.COLOR_RGB2BGR, 4: cv2.COLOR_RGBA2BGRA}
    image = cv2.cvtColor(rgb, to_bgr[rgb.shape[2]]) if rgb.ndim == 3 else rgb
    params: list[int] = []
    if suffix in {".jpg", ".jpeg", ".jfif"}:
        params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    elif suffix == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, 101 if lossless else quality]  # above 100 is lossless
    try:
        ok, encoded = cv2.imencode(suffix if suffix != ".jfif" else ".jpg", image, params)
    except cv2.error:
        ok = False
    if not ok:
        raise ImageError(f"cannot write a '{suffix or path.name}' image (use .png, .jpg, .webp, .bmp or .tif)")
    if metadata and suffix == ".png":
        return png_with_metadata(encoded.tobytes(), metadata)
    return encoded.tobytes()


def write_atomic(
    path: Path, rgb: np.ndarray, quality: int = 95, metadata: Metadata | None = None, lossless: bool = False
) -> None:
    """Write an RGB, RGBA or single-channel image (uint8, or uint16 where the format allows), with the photo's
    ICC profile and EXIF where given and the format and depth allow, a WebP losslessly if `lossless`: temp file in
    the same folder, then rename.

    A kill at any moment leaves either the old file or the new one, never a half-written image.
    """
    write_bytes_atomic(Path(path), _encode(Path(path), rgb, quality, metadata, lossless))


TEMP_STEM_BYTES = 200
# a temp file of ours this old is no write in progress (a 200 MP PNG takes seconds) but one a kill left behind
STALE_TEMP_SECONDS = 600


def _temp_stem(path: Path) -> str:
    # the temp file is named after the output, unless that name is so long (255 bytes is the usual limit) that
    # the 14 bytes mkstemp adds would make an output with a valid name impossible to write
    return path.name if len(os.fsencode(path.name)) <= TEMP_STEM_BYTES else "unmask"


def remove_stale_temp_files(outputs: Iterable[Path]) -> int:
    """Remove the temp files (`.NAME.xxxxxxxx.tmp`, `write_bytes_atomic`'s) that a kill mid-write left beside these
    outputs, once they are STALE_TEMP_SECONDS old (younger ones may be another run's write in progress); one folder
    listing per folder. Returns how many went."""
    import re
    import time

    stems: dict[Path, set[str]] = {}
    for path in outputs:
        stems.setdefault(Path(path).parent, set()).add(_temp_stem(Path(path)))
    removed, now = 0, time.time()
    for folder, names in stems.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue  # not made yet, or unreadable: nothing of ours there to clean
        for entry in entries:
            found = re.fullmatch(r"\.(.+)\.[a-z0-9_]{8}\.tmp", entry.name)
            try:
                stale = found and found.group(1) in names and entry.is_file(follow_symlinks=False)
                if stale and now - entry.stat(follow_symlinks=False).st_mtime > STALE_TEMP_SECONDS:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                continue
    return removed


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{_temp_stem(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())  # the rename must not land before the data does (a crash would leave 0 bytes)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the permissions open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
