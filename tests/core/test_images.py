"""The one image normaliser behind every avatar upload: what it keeps, what it refuses, with which code."""

from __future__ import annotations

import io
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from quanzi.core import images
from quanzi.core.errors import InvalidInput
from quanzi.core.images import reencode_image

pytestmark = pytest.mark.db_independent  # no database or Redis: make test runs it in the SQLite pass only

EXIF_MAKE, EXIF_ORIENTATION, EXIF_GPS = 0x010F, 0x0112, 0x8825


def encode(fmt: str, size=(800, 600), mode: str = "RGB", color=(200, 30, 30), **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, format=fmt, **save)
    return out.getvalue()


def upload(data: bytes, name: str = "me.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/png")


def decoded(result) -> Image.Image:
    result.seek(0)
    image = Image.open(io.BytesIO(result.read()))
    image.load()
    return image


def png_chunk_types(raw: bytes) -> list[bytes]:
    kinds, offset = [], 8
    while offset < len(raw):
        length = int.from_bytes(raw[offset:offset + 4], "big")
        kinds.append(raw[offset + 4:offset + 8])
        offset += 12 + length
    return kinds


def refused(data: bytes, name: str = "x.png") -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        reencode_image(upload(data, name))
    assert caught.value.status == 400
    return caught.value


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_each_allowed_format_becomes_a_bounded_png_with_a_random_name(fmt):
    first = reencode_image(upload(encode(fmt), "holiday photo.jpg"))
    second = reencode_image(upload(encode(fmt), "holiday photo.jpg"))
    image = decoded(first)
    assert image.format == "PNG" and image.size == (512, 384)  # aspect ratio kept
    assert first.name.endswith(".png") and "holiday" not in first.name and first.name != second.name


def test_small_images_keep_their_size_and_colours():
    image = decoded(reencode_image(upload(encode("PNG", (40, 30)))))
    assert image.size == (40, 30) and image.convert("RGB").getpixel((5, 5)) == (200, 30, 30)


def test_transparency_survives_and_opaque_images_get_no_alpha():
    see_through = decoded(reencode_image(upload(encode("PNG", (20, 20), "RGBA", (0, 0, 255, 0)))))
    assert see_through.mode == "RGBA" and see_through.getpixel((1, 1))[3] == 0
    assert decoded(reencode_image(upload(encode("JPEG", (20, 20))))).mode == "RGB"


def test_only_the_first_frame_of_an_animation_is_kept():
    frames = [Image.new("RGB", (30, 30), c) for c in ("red", "blue", "green")]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    image = decoded(reencode_image(upload(out.getvalue(), "anim.gif")))
    assert getattr(image, "n_frames", 1) == 1 and image.convert("RGB").getpixel((3, 3)) == (255, 0, 0)


def test_exif_orientation_is_applied_and_all_metadata_stripped():
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6  # the camera was turned: display rotated 90°
    exif[EXIF_MAKE] = "SpyCam"
    exif[EXIF_GPS] = {1: "N", 2: (39.0, 54.0, 0.0)}
    source = encode("JPEG", (40, 30), exif=exif.tobytes(), icc_profile=b"\0" * 128, comment=b"secret note")
    assert b"SpyCam" in source and b"secret note" in source
    result = reencode_image(upload(source, "photo.jpg"))
    raw = result.read()
    image = decoded(result)
    assert image.size == (30, 40)  # upright
    assert dict(image.getexif()) == {} and image.info == {}  # no EXIF, ICC profile, text or comment
    assert b"SpyCam" not in raw and b"secret" not in raw
    assert set(png_chunk_types(raw)) <= {b"IHDR", b"IDAT", b"IEND"}


def test_png_text_chunks_and_trailing_bytes_are_dropped():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    source = encode("PNG", (10, 10), pnginfo=info) + b"<html><script>alert(2)</script></html>"
    raw = reencode_image(upload(source)).read()
    assert b"script" not in raw


def test_too_many_bytes_is_refused_while_reading(settings):
    settings.AVATAR_MAX_BYTES = 1000
    data = encode("PNG", (200, 200), "RGB", (1, 2, 3)) + b"\0" * 2000
    assert refused(data).code == "avatar_too_large"

    class LyingSize(io.BytesIO):  # claims to be small: the bytes read are what counts
        size = 10

    with pytest.raises(InvalidInput) as caught:
        reencode_image(LyingSize(data))
    assert caught.value.code == "avatar_too_large"


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "x.svg"),
        (b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "x.png"),
        (b"<html><script>alert(1)</script></html>", "x.png"),
        (b"%PDF-1.4\n1 0 obj<<>>endobj", "x.pdf"),
        (b"GIF89a" + b"\0" * 100, "x.gif"),
        (b"just some text", "x.png"),
        (b"", "empty.png"),
    ],
)
def test_non_images_and_svg_are_refused(data, name):
    assert refused(data, name).code == "invalid_image"


def test_other_pillow_formats_are_not_even_tried():
    for fmt in ("BMP", "TIFF", "ICO"):
        assert refused(encode(fmt, (16, 16))).code == "invalid_image"


def test_truncated_image_is_refused():
    data = encode("PNG", (300, 300), "RGB", (10, 20, 30))
    assert refused(data[: len(data) // 2]).code == "invalid_image"
    jpeg = encode("JPEG", (300, 300))
    assert refused(jpeg[: len(jpeg) // 2]).code == "invalid_image"


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def test_decompression_bomb_is_refused_before_decoding(monkeypatch):
    """A few hundred bytes that claim 30,000 × 30,000 pixels (3.6 GB as RGBA) never reach the decoder."""
    header = (30_000).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    bomb = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(b"\0" * 100_000)) + _png_chunk(b"IEND", b""))
    assert len(bomb) < 1000

    def no_decoding(self, *args, **kwargs):
        raise AssertionError("decoded a bomb")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    monkeypatch.setattr(Image.Image, "verify", no_decoding)
    assert refused(bomb).code == "invalid_image"


def test_pixel_limit_is_ours_not_only_pillows():
    # Just over our limit but far below Pillow's own bomb threshold (~89 M pixels): still refused.
    side = int(images.MAX_PIXELS**0.5) + 1
    data = encode("PNG", (side, side), "1", 0)
    assert len(data) < 2_000_000
    assert refused(data).code == "invalid_image"
