"""Uploaded pictures in circle files: verified, cleaned of metadata, and given a thumbnail.

The stored image is never the uploaded byte stream: Pillow opens it with only the parser of
the type the content was recognised as, refuses it before decoding when it claims too many
pixels (a decompression bomb), verifies it, then re-encodes it in the same format without
EXIF/GPS, ICC, XMP or comment data (turned upright from the EXIF orientation first, so
nothing looks rotated after the tag is gone). Animated GIF/WebP keep their frames.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import IO

from django.utils.translation import gettext as _
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from quanzi.core.errors import InvalidInput

MAX_PIXELS = 50_000_000  # per frame, from the header, before any pixel is decoded
MAX_TOTAL_PIXELS = 200_000_000  # all frames of an animation together
THUMB_SIDE = 320
_DECODE_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError,
                  Image.DecompressionBombError, Image.DecompressionBombWarning)


@dataclass
class CleanImage:
    data: bytes
    content_type: str
    width: int
    height: int
    thumbnail: bytes
    thumbnail_type: str


def _unreadable() -> InvalidInput:
    return InvalidInput(_("The file is not a readable image."), code="invalid_image")


def _too_many_pixels() -> InvalidInput:
    return InvalidInput(_("The image has too many pixels."), code="image_too_large")


def _open(data: bytes, pil_format: str) -> Image.Image:
    image = Image.open(io.BytesIO(data), formats=(pil_format,))
    width, height = image.size
    frames = getattr(image, "n_frames", 1)
    if width < 1 or height < 1 or width * height > MAX_PIXELS or width * height * frames > MAX_TOTAL_PIXELS:
        image.close()
        raise _too_many_pixels()
    return image


def _clean_frame(frame: Image.Image) -> Image.Image:
    has_alpha = "A" in frame.getbands() or "transparency" in frame.info
    clean = frame.convert("RGBA" if has_alpha else "RGB")
    clean.info = {}  # convert() copies info: EXIF, ICC, XMP, comments would be saved again
    return clean


def _encode(image: Image.Image, pil_format: str, frames: list[Image.Image] | None = None) -> bytes:
    out = io.BytesIO()
    if pil_format == "JPEG":
        image.convert("RGB").save(out, format="JPEG", quality=90, optimize=True)
    elif pil_format == "PNG":
        image.save(out, format="PNG", optimize=True)
    elif pil_format == "GIF":
        if frames and len(frames) > 1:
            frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], loop=0,
                           duration=image.info.get("duration", 100))
        else:
            image.save(out, format="GIF")
    else:  # WEBP
        if frames and len(frames) > 1:
            frames[0].save(out, format="WEBP", save_all=True, append_images=frames[1:], loop=0, quality=90)
        else:
            image.save(out, format="WEBP", quality=90)
    return out.getvalue()


def clean_image(fh: IO[bytes], pil_format: str) -> CleanImage:
    """Re-encode an image of a known format (JPEG, PNG, GIF, WEBP) and make its thumbnail."""
    fh.seek(0)
    data = fh.read()
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice it: make every bomb an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _open(data, pil_format) as probe:
                probe.verify()
            with _open(data, pil_format) as image:
                duration = image.info.get("duration")
                if getattr(image, "n_frames", 1) > 1:
                    frames = [_clean_frame(frame.copy()) for frame in ImageSequence.Iterator(image)]
                    first = frames[0]
                else:
                    frames = None
                    first = _clean_frame(ImageOps.exif_transpose(image))
                if duration:
                    first.info["duration"] = duration
                cleaned = _encode(first, pil_format, frames)
                width, height = first.size
                thumb = first.copy()
                thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
                thumb.info = {}
                out = io.BytesIO()
                if "A" in thumb.getbands():
                    thumb.save(out, format="PNG", optimize=True)
                    thumb_type = "image/png"
                else:
                    thumb.save(out, format="JPEG", quality=82, optimize=True)
                    thumb_type = "image/jpeg"
    except InvalidInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels() from None
    except _DECODE_ERRORS:
        raise _unreadable() from None
    return CleanImage(cleaned, f"image/{pil_format.lower()}", width, height, out.getvalue(), thumb_type)
