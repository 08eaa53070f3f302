"""A photo's colour profile and EXIF, carried from the input to the restored output.

Without its ICC profile a wide-gamut phone photo (Display P3, Adobe RGB) is shown duller in every colour-managed
viewer, and without its EXIF the date, camera and place it was taken are gone. Pillow reads and writes both.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass

import numpy as np

# EXIF tags rewritten because the pixels changed: the decoder already turned them upright, and their size may
# have swapped with that turn.
ORIENTATION, SOFTWARE = 0x0112, 0x0131
PIXEL_X, PIXEL_Y = 0xA002, 0xA003
# Formats whose EXIF is a block of its own; a TIFF's "EXIF" is its own image directory (strip offsets, sizes).
EXIF_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "HEIF", "AVIF"})
# Written by Pillow when there is metadata to carry. PNG is not: OpenCV writes it 3× faster, smaller and at 16 bits,
# and its metadata chunks are simple to add (`png_with_metadata`).
PILLOW_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".jfif": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}
EXIF_HEADER = b"Exif\x00\x00"


@dataclass(frozen=True)
class Metadata:
    icc: bytes | None = None  # the ICC profile, as stored
    exif: bytes | None = None  # EXIF for the upright pixels (orientation 1, no thumbnail of the masked photo)

    def __bool__(self) -> bool:
        return bool(self.icc or self.exif)


def read_metadata(data: bytes, width: int, height: int) -> Metadata:
    """The ICC profile and EXIF of the encoded photo `data`, whose decoded (upright) size is `width`×`height`.

    What cannot be parsed is left out: EXIF we cannot rewrite would still say "rotate me", and the output would
    be shown turned a second time."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's size and corrupt-EXIF warnings: the photo itself is fine
            with Image.open(io.BytesIO(data)) as opened:  # lazy: the header, not the pixels
                icc = opened.info.get("icc_profile") or None
                exif = _upright_exif(opened.getexif(), width, height) if opened.format in EXIF_FORMATS else None
    except Exception:  # Pillow raises many types for files it cannot open; the pixels came from OpenCV
        return Metadata()
    # Outputs are RGB: a grey or CMYK photo's profile would describe other pixels than the ones written, and
    # colour-managed viewers then fail on the file or show it wrong (the header's colour space is bytes 16-20).
    if icc and bytes(icc[16:20]) != b"RGB ":
        icc = None
    return Metadata(icc=bytes(icc) if icc else None, exif=exif)


def _upright_exif(exif, width: int, height: int) -> bytes | None:
    from PIL.ExifTags import IFD

    from unmask_cli import __version__

    try:
        if not len(exif):
            return None
        if ORIENTATION in exif:
            exif[ORIENTATION] = 1
        sub = exif.get_ifd(IFD.Exif)
        if PIXEL_X in sub or PIXEL_Y in sub:
            sub[PIXEL_X], sub[PIXEL_Y] = width, height
        # The file is no longer the camera's: say which program changed it, as photo editors do.
        exif[SOFTWARE] = f"unmask {__version__}"
        return exif.tobytes()  # IFD0 with its Exif and GPS directories; the thumbnail directory is not written
    except Exception:
        return None


def encode_with_metadata(
    rgb: np.ndarray, suffix: str, metadata: Metadata, quality: int, lossless: bool = False
) -> bytes | None:
    """`rgb` (RGB or RGBA uint8) encoded by Pillow with `metadata`, or None where Pillow is not the writer (PNG,
    16-bit pixels) and the caller encodes with OpenCV."""
    from PIL import Image

    fmt = PILLOW_FORMATS.get(suffix.lower())
    if fmt is None or rgb.dtype != np.uint8 or rgb.ndim != 3:
        return None
    image = Image.fromarray(rgb, "RGBA" if rgb.shape[2] == 4 else "RGB")
    options: dict = {}
    if metadata.icc:
        options["icc_profile"] = metadata.icc
    if metadata.exif and fmt != "TIFF":
        options["exif"] = metadata.exif
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = quality
    if fmt == "WEBP" and lossless:
        options["lossless"] = True
    if fmt == "TIFF":
        options["compression"] = "tiff_lzw"  # as OpenCV writes it; Pillow's default is uncompressed
    buffer = io.BytesIO()
    try:
        image.save(buffer, fmt, **options)
    except (ValueError, OSError, TypeError):  # metadata Pillow will not write: the restored photo matters more
        return None
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def png_with_metadata(png: bytes, metadata: Metadata) -> bytes:
    """The PNG file `png` (as OpenCV writes it: signature, then the header chunk) with `metadata` added as iCCP and
    eXIf chunks right after its header chunk (both must come before the image data)."""
    if png[12:16] != b"IHDR":
        return png
    end_of_header = 8 + 8 + int.from_bytes(png[8:12], "big") + 4
    chunks = b""
    if metadata.icc:
        chunks += _png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(metadata.icc))
    if metadata.exif:
        exif = metadata.exif.removeprefix(EXIF_HEADER)  # PNG's eXIf holds the TIFF structure alone
        chunks += _png_chunk(b"eXIf", exif)
    return png[:end_of_header] + chunks + png[end_of_header:]
