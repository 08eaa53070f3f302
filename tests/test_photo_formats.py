"""What a restored photo keeps of its file: transparency, 16-bit depth, EXIF rotation of a
transparent PNG, its colour profile and EXIF, lossless WebP, and a word when only the first frame of an animation
was restored. A stand-in backend that paints the lower face in colour and a stand-in detector keep these fast."""

from __future__ import annotations

import functools
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import LowerFaceBackend, stand_in_unmasker
from unmask_cli import images, pipeline


class ColourFaceBackend(LowerFaceBackend):
    """The lower face painted orange, so the fill is easy to tell from the photo."""

    def run(self, crops):
        masks, _ = super().run(crops)
        orange = np.array([0.9, 0.2, -0.6], np.float32)
        return masks, crops * (1 - masks) + masks * orange


@pytest.fixture
def unmasker(monkeypatch):
    return stand_in_unmasker(monkeypatch, ColourFaceBackend(64, "orange"))


def _noise(shape, dtype=np.uint8, seed=0) -> np.ndarray:
    top = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, top + 1, shape, dtype=np.int64).astype(dtype)


def _write(path: Path, bgr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(path.suffix, bgr)
    assert ok
    path.write_bytes(data.tobytes())
    return path


def _restore(unmasker, source: Path, out: Path) -> tuple[pipeline.PhotoResult, np.ndarray]:
    results = []
    unmasker.run([source], out, on_result=results.append)
    (result,) = results
    assert result.skipped is None, result.skipped
    return result, cv2.imread(str(result.output), cv2.IMREAD_UNCHANGED)


def _changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return (before != after).reshape(before.shape[0], before.shape[1], -1).any(axis=2)


def test_a_transparent_png_keeps_its_alpha_and_untouched_pixels(unmasker, tmp_path):
    bgra = _noise((120, 120, 4))
    bgra[:, :, 3] = np.where(np.arange(120)[None, :] < 10, 0, 255)  # a transparent strip down the left edge
    bgra[:5, :, 3] = 128  # and a half-transparent one along the top
    source = _write(tmp_path / "in" / "cut_out.png", bgra)
    _, out = _restore(unmasker, source, tmp_path / "out")
    assert out.shape == (120, 120, 4)
    changed = _changed(bgra, out)
    assert 0.1 < changed.mean() < 0.6  # the lower face, not the photo
    assert np.array_equal(out[~changed], bgra[~changed])  # every other pixel, alpha included, bit for bit
    assert (out[changed, 3] == 255).all()  # the painted face is opaque


def test_a_16_bit_png_stays_16_bit_and_exact_outside_the_face(unmasker, tmp_path):
    deep = _noise((120, 120, 3), np.uint16, seed=1)
    source = _write(tmp_path / "in" / "scan.png", deep)
    _, out = _restore(unmasker, source, tmp_path / "out")
    assert out.dtype == np.uint16 and out.shape == deep.shape
    changed = _changed(deep, out)
    assert 0.1 < changed.mean() < 0.6
    assert np.array_equal(out[~changed], deep[~changed])
    # the fill (orange: much red, little blue) lands at 16-bit scale, not as 8-bit values in a 16-bit file
    centre = out[80:95, 50:70].reshape(-1, 3).mean(axis=0)
    assert centre[2] > 40000 and centre[0] < 20000


def _png_with_orientation(bgra: np.ndarray, orientation: int) -> bytes:
    """A PNG with an eXIf chunk (after IHDR) holding one Orientation entry."""
    ok, encoded = cv2.imencode(".png", bgra)
    assert ok
    data = encoded.tobytes()
    tiff = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01"
    tiff += struct.pack(">H", orientation) + b"\x00\x00\x00\x00\x00\x00"
    chunk = struct.pack(">I", len(tiff)) + b"eXIf" + tiff + struct.pack(">I", zlib.crc32(b"eXIf" + tiff))
    return data[:33] + chunk + data[33:]


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_rotated_transparent_png_turns_its_alpha_with_its_colours(tmp_path, orientation):
    bgra = _noise((60, 90, 4), seed=4)
    bgra[:, :, 3] = np.arange(90)[None, :] * 2  # alpha that says which way the photo is turned
    path = tmp_path / "rotated.png"
    path.write_bytes(_png_with_orientation(bgra, orientation))
    photo = images.read_photo(path)
    upright = cv2.imread(str(path), cv2.IMREAD_COLOR)  # OpenCV applies the EXIF orientation to colour
    assert photo.original is not None and photo.original.shape[:2] == upright.shape[:2]
    colour = cv2.cvtColor(photo.original[..., :3], cv2.COLOR_RGB2BGR)
    assert np.array_equal(colour, upright)
    turn = {3: lambda a: a[::-1, ::-1], 6: lambda a: np.rot90(a, -1), 8: lambda a: np.rot90(a, 1)}[orientation]
    assert np.array_equal(photo.original[..., 3], turn(bgra[..., 3]))


def test_an_animation_is_restored_on_its_first_frame_and_says_so(unmasker, tmp_path):
    animation = cv2.Animation()
    animation.frames = [_noise((120, 120, 3), seed=s) for s in range(3)]
    animation.durations = [100, 100, 100]
    source = tmp_path / "in" / "clip.webp"
    source.parent.mkdir()
    assert cv2.imwriteanimation(str(source), animation)
    result, out = _restore(unmasker, source, tmp_path / "out")
    assert result.note == "only the first of 3 frames/pages restored"
    assert out is not None
    still = _write(tmp_path / "in2" / "still.webp", _noise((120, 120, 3), seed=5))
    result, _ = _restore(unmasker, still, tmp_path / "out2")
    assert result.note is None


def _palette_png_with_transparency(size: int = 40) -> bytes:
    """A palette PNG whose index 0 is transparent (tRNS): no alpha colour type, yet transparent pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + bytes((x // 20) % 2 for x in range(size)) for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 3, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"PLTE", bytes([255, 0, 0, 0, 0, 255]))
        + chunk(b"tRNS", bytes([0]))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "name, make, decodes, alpha",
    [
        ("plain.png", lambda: cv2.imencode(".png", _noise((40, 40, 3)))[1].tobytes(), 1, False),
        ("plain.webp", lambda: cv2.imencode(".webp", _noise((40, 40, 3)))[1].tobytes(), 1, False),
        (
            "lossless.webp",
            lambda: cv2.imencode(".webp", _noise((40, 40, 3)), [cv2.IMWRITE_WEBP_QUALITY, 101])[1].tobytes(),
            1,
            False,
        ),
        ("cut_out.png", lambda: cv2.imencode(".png", _noise((40, 40, 4)))[1].tobytes(), 2, True),
        ("cut_out.webp", lambda: cv2.imencode(".webp", _noise((40, 40, 4)))[1].tobytes(), 2, True),
        (
            "lossless_cut_out.webp",
            lambda: cv2.imencode(".webp", _noise((40, 40, 4)), [cv2.IMWRITE_WEBP_QUALITY, 101])[1].tobytes(),
            2,
            True,
        ),
        ("palette.png", _palette_png_with_transparency, 2, True),
    ],
)
def test_only_a_file_that_can_hold_alpha_is_decoded_a_second_time(monkeypatch, tmp_path, name, make, decodes, alpha):
    """The alpha-keeping decode costs as much as the first one (0.16 s for a 12 MP PNG): it runs only when the
    header says the file can hold transparency — and then the transparency is kept."""
    calls = []
    decode = cv2.imdecode
    monkeypatch.setattr(images.cv2, "imdecode", lambda *a: calls.append(a[1]) or decode(*a))
    path = tmp_path / name
    path.write_bytes(make())
    photo = images.read_photo(path)
    assert len(calls) == decodes
    assert (photo.original is not None and photo.original.shape[2] == 4) == alpha


def _save_with_pillow(path: Path, rgb: np.ndarray, fmt: str, **options) -> Path:
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, format=fmt, **options)
    return path


def _smooth(shape, seed=0) -> np.ndarray:
    """A smooth random picture: lossy encoders keep it close enough to compare pixels."""
    small = _noise((8, 8, 3), seed=seed)
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def test_an_iphone_heic_is_read_upright_and_written_back_as_jpeg(unmasker, tmp_path):
    from PIL import Image

    rgb = _smooth((90, 120))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways, to be shown turned 90° clockwise
    source = _save_with_pillow(tmp_path / "in" / "IMG_0001.HEIC", rgb, "HEIF", quality=95, exif=exif.tobytes())
    photo = images.read_photo(source)
    assert photo.rgb.shape == (120, 90, 3)
    assert np.abs(photo.rgb.astype(int) - np.rot90(rgb, -1)).mean() < 4
    result, out = _restore(unmasker, source, tmp_path / "out")
    assert result.output.name == "IMG_0001.HEIC.jpg" and out.shape == (120, 90, 3)
    assert np.abs(out[..., ::-1].astype(int) - photo.rgb).mean() > 1  # the stand-in's orange face is in it


@pytest.mark.parametrize(("name", "fmt"), [("photo.avif", "AVIF"), ("photo.gif", "GIF"), ("heic_named.jpg", "HEIF")])
def test_avif_gif_and_a_misnamed_heic_are_read(tmp_path, name, fmt):
    rgb = _smooth((80, 100), seed=3)
    source = _save_with_pillow(tmp_path / name, rgb, fmt)
    photo = images.read_photo(source)
    assert photo.rgb.shape == (80, 100, 3)
    assert np.abs(photo.rgb.astype(int) - rgb).mean() < 12  # GIF's 256 colours are the coarsest


def test_new_formats_are_found_in_folders_and_named_for_writing(tmp_path):
    for name in ("a.heic", "b.HEIF", "c.avif", "d.gif", "e.txt", "f.ppm", "g.PGM", "h.jp2", "i.tga"):
        (tmp_path / name).write_bytes(b"x")
    found = [p.name for p in images.iter_images([tmp_path])]
    assert found == ["a.heic", "b.HEIF", "c.avif", "d.gif", "f.ppm", "g.PGM", "h.jp2", "i.tga"]
    assert images.writable_name(Path("x/i.tga")).name == "i.tga.png"
    assert images.writable_name(Path("x/f.ppm")).name == "f.ppm.png"
    assert images.writable_name(Path("x/h.jp2")).name == "h.jp2.png"
    assert images.writable_name(Path("x/IMG_1.HEIC")).name == "IMG_1.HEIC.jpg"
    assert images.writable_name(Path("x/c.avif")).name == "c.avif.jpg"
    assert images.writable_name(Path("x/d.gif")).name == "d.gif.png"  # lossless palette art stays lossless
    assert images.writable_name(Path("x/e.jpg")).name == "e.jpg"


@pytest.mark.parametrize("name", ["face.ppm", "face.pgm", "face.jp2"])
def test_netpbm_and_jpeg_2000_photos_in_a_folder_are_read(tmp_path, name):
    import cv2

    rgb = _noise((48, 64, 3))
    cv2.imwrite(str(tmp_path / name), rgb[:, :, ::-1] if not name.endswith(".pgm") else rgb[:, :, 0])
    [path] = images.iter_images([tmp_path])
    decoded = images.read_rgb(path)
    assert np.array_equal(decoded, cv2.imread(str(path))[:, :, ::-1])  # as OpenCV decodes it, in RGB order
    if name.endswith(".ppm"):
        assert np.array_equal(decoded, rgb)  # lossless, and not BGR


def test_a_tga_in_a_folder_is_read_through_pillow(tmp_path):
    from PIL import Image

    rgb = _noise((48, 64, 3))
    Image.fromarray(rgb).save(tmp_path / "face.tga")
    [path] = images.iter_images([tmp_path])
    assert np.array_equal(images.read_rgb(path), rgb)


def test_a_broken_heic_is_one_line_and_the_batch_goes_on(unmasker, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "broken.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 40)
    _write(tmp_path / "in" / "good.png", _noise((120, 120, 3)))
    results = []
    unmasker.run([tmp_path / "in"], tmp_path / "out", on_result=results.append)
    by_name = {r.source.name: r for r in results}
    assert by_name["broken.heic"].skipped == "not a decodable image (corrupt, truncated or unsupported format)"
    assert by_name["good.png"].skipped is None


def test_a_heic_too_large_to_decode_safely_is_refused_by_its_size(tmp_path, monkeypatch):
    # HEIC headers are not parsed for their size before decoding: Pillow's own check, set to our limit, refuses it
    from PIL import Image

    source = _save_with_pillow(tmp_path / "big.heic", _smooth((80, 100)), "HEIF")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # restored after: the decode sets it
    monkeypatch.setattr(images, "MAX_PIXELS", 3000)
    with pytest.raises(images.ImageError, match="image too large"):
        images.read_photo(source)


@functools.cache  # one profile: its header records the second it was made
def _profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _camera_exif(orientation: int = 1):
    from PIL import Image
    from PIL.ExifTags import IFD

    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0131] = "Phone maker", "Phone 15", "iOS 18.1"
    if orientation != 1:
        exif[0x0112] = orientation
    exif.get_ifd(IFD.Exif).update({0x9003: "2024:05:01 12:30:00", 0xA002: 120, 0xA003: 90})
    exif.get_ifd(IFD.GPSInfo).update({1: "N", 2: (52.0, 22.0, 0.0)})
    return exif


def _read_back(path: Path):
    from PIL import Image
    from PIL.ExifTags import IFD

    with Image.open(path) as image:
        exif = image.getexif()
        return image.info.get("icc_profile"), exif, exif.get_ifd(IFD.Exif), exif.get_ifd(IFD.GPSInfo)


def test_a_phone_jpeg_keeps_its_colour_profile_and_exif_and_is_not_turned_twice(unmasker, tmp_path):
    rgb = _smooth((90, 120), seed=5)
    exif = _camera_exif(6).tobytes()
    source = _save_with_pillow(tmp_path / "in" / "IMG_2001.jpg", rgb, "JPEG", exif=exif, icc_profile=_profile())
    result, out = _restore(unmasker, source, tmp_path / "out")
    upright = images.read_photo(source).rgb
    assert out.shape == upright.shape == (120, 90, 3)  # shown as the camera meant it, not turned again
    assert np.abs(out[..., ::-1].astype(int) - upright).mean() > 1  # the face was restored
    icc, exif, sub, gps = _read_back(result.output)
    assert icc == _profile()
    assert exif.get(0x0112, 1) == 1 and exif[0x010F] == "Phone maker" and exif[0x0110] == "Phone 15"
    assert exif[0x0131].startswith("unmask ")  # the file says which program changed it
    assert sub[0x9003] == "2024:05:01 12:30:00" and (sub[0xA002], sub[0xA003]) == (90, 120)
    assert gps[1] == "N"


def test_a_grey_photos_profile_is_not_put_on_its_colour_output(unmasker, tmp_path):
    """Outputs are RGB: a grey (or CMYK) profile on them describes other pixels, and colour-managed viewers fail."""
    from PIL import Image, ImageCms

    grey = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()  # Pillow makes no grey profile: any
    source = tmp_path / "in" / "bw.jpg"  # non-RGB one stands for it, and the header's colour space says which
    source.parent.mkdir(parents=True)
    Image.fromarray(_smooth((120, 120))[..., 0]).save(source, icc_profile=grey)
    result, _ = _restore(unmasker, source, tmp_path / "out")
    icc, *_ = _read_back(result.output)
    assert grey[16:20] != b"RGB " and icc is None
    rgb = tmp_path / "in" / "colour.jpg"
    _save_with_pillow(rgb, _smooth((120, 120)), "JPEG", icc_profile=_profile())
    result, _ = _restore(unmasker, rgb, tmp_path / "out")
    assert _read_back(result.output)[0] == _profile()  # an RGB profile is still carried


@pytest.mark.parametrize("name", ["scan.png", "cut_out.png", "photo.webp", "photo.tif"])
def test_lossless_outputs_keep_the_profile_and_every_untouched_pixel(unmasker, tmp_path, name):
    alpha = name == "cut_out.png"
    rgb = _noise((120, 120, 4 if alpha else 3), seed=7)
    options = {"lossless": True} if name.endswith(".webp") else {}
    exif = None if name.endswith(".tif") else _camera_exif().tobytes()
    if exif:
        options["exif"] = exif
    source = _save_with_pillow(tmp_path / "in" / name, rgb, None, icc_profile=_profile(), **options)
    result, out = _restore(unmasker, source, tmp_path / "out")
    before = cv2.imread(str(source), cv2.IMREAD_UNCHANGED)
    assert out.shape == before.shape
    changed = _changed(before, out)
    assert 0.1 < changed.mean() < 0.6
    assert np.array_equal(out[~changed], before[~changed])
    icc, saved_exif, _, _ = _read_back(result.output)
    assert icc == _profile()
    if exif:
        assert saved_exif[0x0110] == "Phone 15"


def test_strip_metadata_writes_neither_profile_nor_exif(unmasker, tmp_path):
    source = _save_with_pillow(
        tmp_path / "in" / "a.jpg", _smooth((90, 120)), "JPEG", exif=_camera_exif().tobytes(), icc_profile=_profile()
    )
    results = []
    unmasker.run([source], tmp_path / "out", on_result=results.append, keep_metadata=False)
    icc, exif, _, gps = _read_back(results[0].output)
    assert icc is None and not len(exif) and not gps


def test_exif_that_cannot_be_read_is_left_out_and_the_photo_restored(unmasker, tmp_path):
    rgb = _smooth((90, 120))
    ok, data = cv2.imencode(".jpg", rgb[..., ::-1])
    assert ok
    broken = b"Exif\x00\x00MM\x00\x2a\xff\xff\xff\xf0" + b"\x00" * 20  # a first directory far past the end
    segment = b"\xff\xe1" + (len(broken) + 2).to_bytes(2, "big") + broken
    source = tmp_path / "in" / "broken_exif.jpg"
    source.parent.mkdir()
    source.write_bytes(data.tobytes()[:2] + segment + data.tobytes()[2:])
    result, out = _restore(unmasker, source, tmp_path / "out")
    assert out.shape == (90, 120, 3)
    _, exif, _, _ = _read_back(result.output)
    assert exif.get(0x0112, 1) == 1


def test_a_heic_keeps_its_colour_profile_in_its_jpeg(unmasker, tmp_path):
    source = _save_with_pillow(tmp_path / "in" / "IMG_3.HEIC", _smooth((90, 120)), "HEIF", icc_profile=_profile())
    result, _ = _restore(unmasker, source, tmp_path / "out")
    assert result.output.suffix == ".jpg" and _read_back(result.output)[0] == _profile()


def test_a_lossless_webp_without_metadata_stays_lossless(unmasker, tmp_path):
    source = _save_with_pillow(tmp_path / "in" / "plain.webp", _noise((120, 120, 3), seed=8), "WEBP", lossless=True)
    assert not images.read_photo(source).metadata
    _, out = _restore(unmasker, source, tmp_path / "out")
    before = cv2.imread(str(source))
    changed = _changed(before, out)
    assert 0.1 < changed.mean() < 0.6 and np.array_equal(out[~changed], before[~changed])


def test_a_16_bit_png_keeps_its_profile_and_depth(unmasker, tmp_path):
    from unmask_cli.metadata import Metadata, png_with_metadata

    deep = _noise((120, 120, 3), np.uint16, seed=9)
    source = _write(tmp_path / "in" / "prophoto.png", deep)
    source.write_bytes(png_with_metadata(source.read_bytes(), Metadata(icc=_profile())))
    assert images.read_photo(source).metadata.icc == _profile()  # Pillow reads the chunk we wrote
    result, out = _restore(unmasker, source, tmp_path / "out")
    assert out.dtype == np.uint16
    changed = _changed(deep, out)
    assert 0.1 < changed.mean() < 0.6 and np.array_equal(out[~changed], deep[~changed])
    assert _read_back(result.output)[0] == _profile()


def test_a_camera_photos_exif_thumbnail_of_the_masked_face_is_not_carried(tmp_path):
    from PIL import Image
    from PIL.ExifTags import IFD

    from tests.conftest import ROOT

    camera = ROOT / "samples" / "masked" / "rmfd_0000_0003.jpg"  # a real photo's EXIF: make, GPS and a thumbnail
    with Image.open(camera) as original:
        assert original.getexif().get_ifd(IFD.IFD1)  # the thumbnail's directory
        make = original.getexif()[0x010F]
    photo = images.read_photo(camera)
    images.write_atomic(tmp_path / "out.jpg", photo.rgb, metadata=photo.metadata)
    _, exif, _, gps = _read_back(tmp_path / "out.jpg")
    assert exif[0x010F] == make and gps
    assert not exif.get_ifd(IFD.IFD1)


def test_metadata_the_writer_refuses_is_dropped_and_the_photo_still_written(tmp_path):
    from unmask_cli.metadata import Metadata

    too_long = Metadata(exif=b"Exif\x00\x00" + b"\x00" * 70_000)  # more than one JPEG segment holds
    rgb = _smooth((60, 80))
    images.write_atomic(tmp_path / "a.jpg", rgb, metadata=too_long)
    assert cv2.imread(str(tmp_path / "a.jpg")).shape == (60, 80, 3)
    assert not len(_read_back(tmp_path / "a.jpg")[1])
