"""/media/ serves our re-encoded PNG avatars inline, with DEBUG off too, and nothing else."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from quanzi.accounts.actions import do_set_avatar


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.DEBUG = False
    return tmp_path


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 20), "red").save(out, format="PNG")
    return out.getvalue()


def test_an_avatar_is_served_inline_as_png_without_debug(owner, media):
    do_set_avatar(user=owner, upload=SimpleUploadedFile("me.png", _png()))
    response = Client().get(owner.avatar.url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == "inline"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in response["Cache-Control"]
    with Image.open(io.BytesIO(response.content)) as served:
        assert served.format == "PNG" and served.size == (20, 20)
    assert Client().head(owner.avatar.url).status_code == 200
    assert Client().post(owner.avatar.url).status_code == 405


def test_only_our_pngs_under_the_avatar_folders_are_served(media):
    (media / "avatars").mkdir()
    (media / "circle-avatars").mkdir()
    (media / "avatars" / "evil.png").write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'><script>MARKER</script></svg>")
    (media / "avatars" / "page.html").write_bytes(b"<script>MARKER</script>")
    (media / "avatars" / "sub").mkdir()
    (media / "avatars" / "sub" / "a.png").write_bytes(_png())
    (media / "other.png").write_bytes(_png())
    (media / "circle-avatars" / "ok.png").write_bytes(_png())
    client = Client()
    assert client.get("/media/circle-avatars/ok.png").status_code == 200
    for path in [
        "/media/avatars/evil.png",  # a .png name but not PNG content
        "/media/avatars/page.html",
        "/media/avatars/sub/a.png",  # no nested paths
        "/media/other.png",  # only the avatar folders
        "/media/avatars/missing.png",
        "/media/avatars/",
        "/media/avatars/..%2Fother.png",
        "/media/avatars/%2e%2e/other.png",
        "/media/../settings.py",
    ]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"MARKER" not in response.content, path
