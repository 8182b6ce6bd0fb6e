"""POST / DELETE /api/circles/{slug}/avatar: admins and up, the shared image checks, the detail shape."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from quanzi.accounts.actions import do_create_token
from quanzi.core.models import AuditEntry

from .helpers import assert_error


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _image(fmt: str = "PNG", size=(700, 700)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 90, 200)).save(out, format=fmt)
    return out.getvalue()


def _post(user, slug: str, data: bytes | None, name: str = "logo.png"):
    _token, raw = do_create_token(user=user, name="circle avatar")
    files = {"file": SimpleUploadedFile(name, data, content_type="image/png")} if data is not None else {}
    return Client().post(f"/api/circles/{slug}/avatar", files, headers={"Authorization": f"Bearer {raw}"})


def test_admin_uploads_and_removes_the_circle_avatar(circle, admin, media, api_as):
    r = _post(admin, circle.slug, _image("JPEG"), "logo.jpg")
    assert r.status_code == 200, r.json()
    circle.refresh_from_db()
    body = r.json()
    assert body["slug"] == circle.slug and body["avatar"] == circle.avatar.url
    assert body["avatar"].startswith("/media/circle-avatars/") and body["avatar"].endswith(".png")
    with Image.open(circle.avatar.path) as stored:
        assert stored.format == "PNG" and stored.size == (512, 512)
    assert api_as(admin).get(f"/api/circles/{circle.slug}").data["avatar"] == circle.avatar.url
    served = Client().get(body["avatar"])
    assert served.status_code == 200 and served["Content-Type"] == "image/png"

    r = api_as(admin).delete(f"/api/circles/{circle.slug}/avatar")
    assert r.status_code == 200 and r.data["avatar"] is None
    circle.refresh_from_db()
    assert not circle.avatar
    assert list(AuditEntry.objects.filter(action="circle.avatar").order_by("id").values_list("data", flat=True)) == [
        {"removed": False}, {"removed": True},
    ]


def test_the_owner_may_too(circle, owner, media):
    assert _post(owner, circle.slug, _image()).status_code == 200


def test_moderator_gets_403_and_nothing_is_written(circle, moderator, media, api_as):
    assert_error(_post(moderator, circle.slug, _image()), 403, "insufficient_role")
    assert_error(api_as(moderator).delete(f"/api/circles/{circle.slug}/avatar"), 403, "insufficient_role")
    circle.refresh_from_db()
    assert not circle.avatar and not list(media.rglob("*.png"))


def test_outsider_gets_404_like_a_missing_circle(circle, outsider, media, api_as):
    assert_error(_post(outsider, circle.slug, _image()), 404, "circle_not_found")
    assert_error(api_as(outsider).delete(f"/api/circles/{circle.slug}/avatar"), 404, "circle_not_found")
    assert_error(_post(outsider, "no-such-circle", _image()), 404, "circle_not_found")
    assert not list(media.rglob("*.png"))


@pytest.mark.parametrize(
    ("data", "name", "code"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "logo.svg", "invalid_image"),
        (b"<html><script>alert(1)</script></html>", "logo.png", "invalid_image"),
        (b"GIF89a" + b"\0" * 100, "logo.gif", "invalid_image"),
    ],
)
def test_bad_files_are_400_with_a_code(circle, admin, media, data, name, code):
    assert_error(_post(admin, circle.slug, data, name), 400, code)
    circle.refresh_from_db()
    assert not circle.avatar and not list(media.rglob("*.png"))


def test_too_large_is_400(circle, admin, media, settings):
    settings.AVATAR_MAX_BYTES = 1000
    assert_error(_post(admin, circle.slug, _image()), 400, "avatar_too_large")


def test_missing_file_is_a_client_error(circle, admin, media):
    r = _post(admin, circle.slug, None)
    assert 400 <= r.status_code < 500 and r.status_code != 404
