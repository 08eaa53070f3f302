import zlib
from pathlib import Path

import numpy as np
import pytest

from unmask_cli.images import ImageError, iter_images, read_rgb, write_atomic

BAD = ["corrupt", "truncated", "empty", "not_an_image", "tiny", "huge_header", "broken_link"]


@pytest.mark.parametrize("case", BAD)
def test_bad_files_raise_one_line_reason(bad_inputs, case):
    with pytest.raises(ImageError) as info:
        read_rgb(bad_inputs[case])
    message = str(info.value)
    assert message and "\n" not in message
    if case == "broken_link":
        assert message.startswith("broken link") and "moved_away.jpg" in message
    if case == "huge_header":
        assert message.startswith("image too large")


def test_odd_but_valid_files_decode_to_rgb_uint8(bad_inputs, face_photos):
    reference = read_rgb(face_photos[0])
    for case in ["grayscale_ok", "rgba_ok", "sixteen_bit_ok", "exif_rotated_ok", "webp_ok", "huge_ok"]:
        rgb = read_rgb(bad_inputs[case])
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3, case
    assert read_rgb(bad_inputs["exif_rotated_ok"]).shape == reference.shape  # EXIF rotation applied
    gray = read_rgb(bad_inputs["grayscale_ok"])
    assert np.array_equal(gray[..., 0], gray[..., 1])
    sixteen = read_rgb(bad_inputs["sixteen_bit_ok"]).astype(int)
    png_ref = read_rgb(bad_inputs["rgba_ok"]).astype(int)
    assert np.abs(sixteen[30:, 30:] - png_ref[30:, 30:]).max() <= 1  # 16-bit scaled, not clipped
    assert (read_rgb(bad_inputs["rgba_ok"])[:20, :20] == 255).all()  # transparent → white


def test_exif_rotation_matches_upright_pixels(bad_inputs, face_photos):
    upright = read_rgb(face_photos[0]).astype(int)
    rotated = read_rgb(bad_inputs["exif_rotated_ok"]).astype(int)
    assert np.abs(upright - rotated).mean() < 6  # only JPEG re-encoding noise


def test_write_atomic_leaves_no_temp_files(tmp_path):
    target = tmp_path / "sub" / "x.png"
    image = np.random.default_rng(0).integers(0, 255, (40, 50, 3), np.uint8)
    write_atomic(target, image)
    write_atomic(target, image)
    assert np.array_equal(read_rgb(target), image)
    assert [p.name for p in target.parent.iterdir()] == ["x.png"]


def test_iter_images_recurses_and_filters(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ["a/1.jpg", "a/b/2.PNG", "a/notes.txt", "3.webp", "a/._1.jpg", "._3.webp"]:
        (tmp_path / name).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_images([tmp_path])]
    assert found == ["3.webp", "a/1.jpg", "a/b/2.PNG"]  # macOS's ._ metadata files beside photos are no photos
    assert list(iter_images([Path(tmp_path / "a/notes.txt")])) == [tmp_path / "a/notes.txt"]


def test_a_link_loop_in_a_folder_is_one_bad_photo_not_a_crash(tmp_path):
    from unmask_cli.pipeline import plan_outputs
    from unmask_cli.synthesize import is_own_output

    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "face.jpg").write_bytes(b"x")
    (photos / "loop_a.jpg").symlink_to("loop_b.jpg")
    (photos / "loop_b.jpg").symlink_to("loop_a.jpg")
    found = [p.name for p in iter_images([photos], exclude=tmp_path / "out")]
    assert found == ["face.jpg", "loop_a.jpg", "loop_b.jpg"]  # listed, to be reported, not silently dropped
    assert [p.name for p, _ in plan_outputs([photos], tmp_path / "out")] == found
    assert [p.name for p, _ in plan_outputs([photos / "loop_a.jpg"], tmp_path / "out")] == ["loop_a.jpg"]
    assert not is_own_output(photos / "loop_a.jpg", photos / "out")
    with pytest.raises(ImageError, match=r"^link loop \(via loop_b\.jpg"):
        read_rgb(photos / "loop_a.jpg")


@pytest.mark.parametrize("progressive", [0, 1])
def test_a_huge_jpeg_is_refused_from_its_header_before_decoding(tmp_path, progressive):
    import cv2

    from unmask_cli.images import _header_size

    _, data = cv2.imencode(".jpg", np.zeros((48, 64, 3), np.uint8), [cv2.IMWRITE_JPEG_PROGRESSIVE, progressive])
    data = bytearray(data.tobytes())
    assert _header_size(bytes(data)) == (64, 48)
    sof = next(i for i in range(2, len(data) - 1) if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC2))
    data[sof + 5 : sof + 9] = (30000).to_bytes(2, "big") + (40000).to_bytes(2, "big")  # height, width
    path = tmp_path / "bomb.jpg"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageError, match="too large"):
        read_rgb(path)


def test_unwritable_format_is_an_image_error_not_a_crash(tmp_path):
    with pytest.raises(ImageError, match="cannot write"):
        write_atomic(tmp_path / "sheet.txt", np.zeros((8, 8, 3), np.uint8))


def test_a_truncated_png_is_refused_without_libpng_noise(tmp_path, face_photos, capfd):
    """libpng reports a PNG cut short on stderr, a line without the file's name above the one `infer` prints."""
    import cv2

    data = cv2.imencode(".png", cv2.imread(str(face_photos[0])))[1].tobytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated PNG"):
        read_rgb(path)
    assert capfd.readouterr().err == ""
    path.write_bytes(data + b"trailing bytes after the end chunk")  # still a photo
    assert read_rgb(path).shape[:2] == cv2.imread(str(face_photos[0])).shape[:2]


def _with_chunk(png: bytes, kind: bytes, body: bytes, crc_ok: bool = True) -> bytes:
    """`png` with a chunk inserted after its header chunk (33 bytes in), its checksum right or wrong."""
    crc = zlib.crc32(kind + body) ^ (0 if crc_ok else 1)
    return png[:33] + len(body).to_bytes(4, "big") + kind + body + crc.to_bytes(4, "big") + png[33:]


def test_a_png_with_a_damaged_chunk_is_one_reason_without_libpng_noise(tmp_path, face_photos, capfd):
    """A bad checksum in a chunk the image needs refuses the photo with the chunk named; one in a text chunk only
    drops that chunk. libpng would print a line for each without the file's name."""
    import cv2

    data = cv2.imencode(".png", cv2.imread(str(face_photos[0])))[1].tobytes()
    idat = data.index(b"IDAT") - 4
    broken = bytearray(data)
    broken[idat + 8] ^= 0xFF  # the first byte of the image data: its checksum no longer matches
    (tmp_path / "idat.png").write_bytes(bytes(broken))
    with pytest.raises(ImageError, match="checksum error in its IDAT chunk"):
        read_rgb(tmp_path / "idat.png")
    (tmp_path / "text.png").write_bytes(_with_chunk(data, b"tEXt", b"Comment\x00hello", crc_ok=False))
    assert np.array_equal(read_rgb(tmp_path / "text.png"), read_rgb_of_bytes(data, tmp_path))
    (tmp_path / "noise.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))  # not a size: no header chunk
    with pytest.raises(ImageError, match="no header chunk"):
        read_rgb(tmp_path / "noise.png")
    assert capfd.readouterr().err == ""


def read_rgb_of_bytes(data: bytes, folder) -> np.ndarray:
    path = folder / "plain.png"
    path.write_bytes(data)
    return read_rgb(path)


def test_the_size_limit_holds_for_formats_whose_header_we_do_not_parse(tmp_path, monkeypatch):
    """A TIFF or WebP is checked by its header too (Pillow, lazily): a small file can hold a huge image."""
    from PIL import Image

    from unmask_cli import images

    monkeypatch.setattr(images, "MAX_PIXELS", 100 * 100)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # read_rgb sets Pillow's: restore it
    for name in ("big.tif", "big.webp", "big.bmp"):
        Image.new("RGB", (120, 100), (90, 90, 90)).save(tmp_path / name)
        with pytest.raises(ImageError, match="too large"):
            read_rgb(tmp_path / name)
        Image.new("RGB", (100, 100), (90, 90, 90)).save(tmp_path / name)
        assert read_rgb(tmp_path / name).shape == (100, 100, 3)


def test_a_pipe_named_like_a_photo_is_refused_not_read(tmp_path):
    import os

    os.mkfifo(tmp_path / "fifo.jpg")
    with pytest.raises(ImageError, match="not a regular file"):
        read_rgb(tmp_path / "fifo.jpg")


def test_folders_linked_into_an_input_folder_are_walked_once(tmp_path):
    from unmask_cli.images import iter_images

    album = tmp_path / "elsewhere" / "album"
    album.mkdir(parents=True)
    (album / "a.jpg").write_bytes(b"x")
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "b.png").write_bytes(b"x")
    (photos / "album").symlink_to(album)
    (album / "up").symlink_to(photos)  # a loop back up the tree
    found = [p.relative_to(photos).as_posix() for p in iter_images([photos])]
    assert found == ["album/a.jpg", "b.png"]
