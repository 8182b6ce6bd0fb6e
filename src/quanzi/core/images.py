"""Uploaded pictures (user and circle avatars) turned into small, clean PNG files.

One function for every entry point (web forms, API, actions), so the limits can't drift
apart. The upload is never stored as sent: it is read with a byte limit, recognised by its
content (only the PNG, JPEG, GIF and WebP parsers of Pillow are even tried), refused
before decoding when it claims too many pixels, decoded once, turned upright from its
EXIF orientation and re-encoded as a PNG without any metadata (no EXIF/GPS, ICC profile,
text chunks or trailing bytes survive). The stored name is random, so no user-controlled
name or path reaches the storage, and the media view can serve these files inline.
"""

from __future__ import annotations

import io
import secrets
import warnings
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InvalidInput

IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
ACCEPT = "image/png,image/jpeg,image/gif,image/webp"  # for the file inputs' ``accept`` attribute
MAX_PIXELS = 25_000_000  # checked from the header, before any pixel is decoded
MAX_SIDE = 512
READ_CHUNK = 64 * 1024
# What a broken or hostile file makes Pillow raise while parsing or decoding.
_DECODE_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError,
                  Image.DecompressionBombError, Image.DecompressionBombWarning)


def _too_large() -> InvalidInput:
    return InvalidInput(
        _("The image is larger than %(mb).1f MB.") % {"mb": settings.AVATAR_MAX_BYTES / 1_048_576},
        code="avatar_too_large",
    )


def _unreadable() -> InvalidInput:
    return InvalidInput(_("The file is not a readable image."), code="invalid_image")


def _read_bounded(upload: IO[bytes], limit: int) -> bytes:
    """The upload's bytes, refused as soon as more than ``limit`` have been read.

    The declared size is checked first, but counting while reading is what holds even
    when a size is missing or wrong.
    """
    declared = getattr(upload, "size", None)
    if declared is not None and declared > limit:
        raise _too_large()
    if hasattr(upload, "seek"):
        upload.seek(0)
    chunks = upload.chunks(READ_CHUNK) if hasattr(upload, "chunks") else iter(lambda: upload.read(READ_CHUNK), b"")
    buffer = io.BytesIO()
    for chunk in chunks:
        buffer.write(chunk)
        if buffer.tell() > limit:
            raise _too_large()
    return buffer.getvalue()


def _open(data: bytes) -> Image.Image:
    """Open (headers only) with the four allowed parsers; refuse anything else or too many pixels."""
    try:
        image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    except UnidentifiedImageError:  # SVG, HTML, PDF, TIFF, …: none of the four parsers accepts it
        raise InvalidInput(_("Use a PNG, JPEG, GIF or WebP image."), code="invalid_image") from None
    width, height = image.size
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        image.close()
        raise InvalidInput(_("The image has too many pixels."), code="invalid_image")
    return image


def reencode_image(upload: IO[bytes], *, max_side: int = MAX_SIDE) -> ContentFile:
    """Validate an uploaded picture and return it as a PNG of at most ``max_side`` pixels a side.

    Raises ``InvalidInput`` with code ``avatar_too_large`` (more than
    ``settings.AVATAR_MAX_BYTES``) or ``invalid_image`` (not a PNG/JPEG/GIF/WebP, too
    many pixels, truncated or otherwise undecodable). Animated images keep their first frame.
    """
    data = _read_bounded(upload, settings.AVATAR_MAX_BYTES)
    if not data:
        raise _unreadable()
    try:
        # Pillow's own bomb check only warns below twice its (much higher) limit: make it refuse.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _open(data) as probe:
                probe.verify()  # checksums and structure, without decoding the pixels
            with _open(data) as image:
                image.seek(0)
                image.draft(None, (max_side, max_side))  # JPEG: decode at a reduced scale
                upright = ImageOps.exif_transpose(image)
                has_alpha = "A" in upright.getbands() or "transparency" in upright.info
                clean = upright.convert("RGBA" if has_alpha else "RGB")
                clean.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
                clean.info = {}  # convert() copies info: ICC profile, EXIF, text chunks would be re-saved
                out = io.BytesIO()
                clean.save(out, format="PNG", optimize=True)
    except InvalidInput:
        raise
    except _DECODE_ERRORS:
        raise _unreadable() from None
    return ContentFile(out.getvalue(), name=f"{secrets.token_hex(16)}.png")
