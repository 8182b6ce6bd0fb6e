"""Archive tests keep their stored blobs in a temporary folder."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


@pytest.fixture(autouse=True)
def archive_dir(tmp_path, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "archive": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": str(tmp_path / "archive")}},
    }
    assert storages["archive"].location == str(tmp_path / "archive")  # Django resets storages on the change
    return tmp_path / "archive"


def image_bytes(fmt: str = "JPEG", size=(64, 48), color=(200, 30, 30), exif: bool = False) -> bytes:
    img = Image.new("RGB", size, color)
    out = io.BytesIO()
    kwargs = {}
    if exif:
        ex = Image.Exif()
        ex[0x010F] = "SecretCamera"  # Make
        ex[0x8825] = {2: (1.0, 2.0, 3.0)}  # GPS IFD
        kwargs["exif"] = ex.tobytes()
    img.save(out, format=fmt, **kwargs)
    return out.getvalue()


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
