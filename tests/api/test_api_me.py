"""The caller's profile and avatar."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from PIL import Image

from .helpers import assert_error


def test_get_and_patch_profile(owner, api_as):
    client = api_as(owner)
    r = client.get("/api/me")
    assert r.status_code == 200
    assert r.data["username"] == "owner" and r.data["timezone"] == "UTC"

    r = client.patch("/api/me", {"display_name": " Ada ", "bio": "Runs at dawn", "language": "zh-hans",
                                 "timezone": "Asia/Shanghai"})
    assert r.status_code == 200, r.data
    assert r.data["display_name"] == "Ada" and r.data["name"] == "Ada"
    assert r.data["language"] == "zh-hans" and r.data["timezone"] == "Asia/Shanghai"

    r = client.patch("/api/me", {"bio": "changed"})
    assert r.data["display_name"] == "Ada" and r.data["bio"] == "changed"  # omitted fields stay


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("display_name", "x" * 65, "invalid_display_name"),
        ("bio", "x" * 1001, "invalid_bio"),
        ("language", "klingon", "invalid_language"),
        ("timezone", "Mars/Olympus", "invalid_timezone"),
    ],
)
def test_bad_profile_values_are_400_and_write_nothing(owner, api_as, field, value, code):
    assert_error(api_as(owner).patch("/api/me", {field: value}), 400, code)
    owner.refresh_from_db()
    assert owner.display_name == "" and owner.bio == "" and owner.language == "en" and owner.timezone == "UTC"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _image_bytes(fmt: str = "PNG", size: tuple[int, int] = (800, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


def _upload(user, data: bytes, name: str = "me.png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from quanzi.accounts.actions import do_create_token

    _token, raw = do_create_token(user=user, name="avatar")
    return Client().post(
        "/api/me/avatar",
        {"file": SimpleUploadedFile(name, data, content_type="image/png")},
        headers={"Authorization": f"Bearer {raw}"},
    )


def test_avatar_upload_is_reencoded_and_bounded(owner, media, django_capture_on_commit_callbacks):
    r = _upload(owner, _image_bytes("JPEG"), "photo.jpg")
    assert r.status_code == 200, r.json()
    owner.refresh_from_db()
    assert r.json()["avatar"] == owner.avatar.url and owner.avatar.name.endswith(".png")
    with Image.open(owner.avatar.path) as stored:
        assert stored.format == "PNG" and max(stored.size) <= 512
    first = owner.avatar.path

    with django_capture_on_commit_callbacks(execute=False) as pending:
        assert _upload(owner, _image_bytes()).status_code == 200
    owner.refresh_from_db()
    assert owner.avatar.path != first
    assert (media / first).exists()  # kept until the change commits: a rollback must not lose it
    for callback in pending:
        callback()
    assert not (media / first).exists()  # the replaced file is removed after commit


def test_avatar_rejects_non_images_and_oversize(owner, media, settings):
    assert_error(_upload(owner, b"<svg xmlns='http://www.w3.org/2000/svg'/>", "x.svg"), 400, "invalid_image")
    assert_error(_upload(owner, b"GIF89a" + b"\0" * 100, "x.gif"), 400, "invalid_image")
    settings.AVATAR_MAX_BYTES = 1000
    assert_error(_upload(owner, _image_bytes()), 400, "avatar_too_large")
    owner.refresh_from_db()
    assert not owner.avatar


def test_avatar_delete(owner, media, api_as):
    _upload(owner, _image_bytes())
    r = api_as(owner).delete("/api/me/avatar")
    assert r.status_code == 200 and r.data["avatar"] is None
    owner.refresh_from_db()
    assert not owner.avatar
