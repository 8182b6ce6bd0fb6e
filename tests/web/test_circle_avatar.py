"""The circle picture form on the settings page, and where the picture shows up."""

from __future__ import annotations

import io

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from quanzi.core.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _picture(name: str = "logo.png") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (240, 180, 0)).save(out, format="PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_settings_page_has_the_picture_form(client_as, circle, admin, onboarded):
    onboarded(admin)
    page = client_as(admin).get(reverse("circle_settings", args=[circle.slug])).content.decode()
    action = reverse("circle_avatar", args=[circle.slug])
    assert f'action="{action}" enctype="multipart/form-data"' in page
    assert 'accept="image/png,image/jpeg,image/gif,image/webp"' in page
    assert 'name="remove"' not in page  # nothing to remove yet
    assert '<span class="avatar big" aria-hidden="true">M</span>' in page  # the letter badge meanwhile


def test_admin_uploads_and_the_picture_shows_everywhere(client_as, circle, admin, onboarded, media):
    onboarded(admin)
    client = client_as(admin)
    response = client.post(reverse("circle_avatar", args=[circle.slug]), {"avatar": _picture()})
    assert response.status_code == 302 and response["Location"] == reverse("circle_settings", args=[circle.slug])
    assert _messages(response) == ["Circle picture saved."]
    circle.refresh_from_db()
    assert circle.avatar.name.startswith("circle-avatars/") and "logo" not in circle.avatar.name
    assert AuditEntry.objects.filter(circle=circle, actor=admin, action="circle.avatar").count() == 1

    img = f'<img class="avatar big" src="{circle.avatar.url}" alt="">'
    assert img in client.get(reverse("circle", args=[circle.slug])).content.decode()
    settings_page = client.get(reverse("circle_settings", args=[circle.slug])).content.decode()
    assert img in settings_page and 'name="remove"' in settings_page
    assert f'<img class="avatar" src="{circle.avatar.url}" alt="">' in client.get(reverse("home")).content.decode()
    room = client.get(reverse("room", args=[circle.slug, circle.main_group_id])).content.decode()
    assert f'<img class="avatar small" src="{circle.avatar.url}" alt="">' in room
    assert client.get(circle.avatar.url).status_code == 200

    response = client.post(reverse("circle_avatar", args=[circle.slug]), {"remove": "1"})
    assert response.status_code == 302 and _messages(response) == ["Circle picture removed."]
    circle.refresh_from_db()
    assert not circle.avatar
    assert '<span class="avatar" aria-hidden="true">M</span>' in client.get(reverse("home")).content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"avatar": SimpleUploadedFile("x.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>")},
         "Use a PNG, JPEG, GIF or WebP image."),
        ({"avatar": SimpleUploadedFile("x.png", _picture().read()[:120])}, "The file is not a readable image."),
        ({}, "This field is required."),
    ],
)
def test_bad_uploads_show_an_error_and_write_nothing(client_as, circle, admin, onboarded, media, data, message):
    onboarded(admin)
    response = client_as(admin).post(reverse("circle_avatar", args=[circle.slug]), data)
    assert response.status_code == 302 and _messages(response) == [message]
    circle.refresh_from_db()
    assert not circle.avatar and not list(media.rglob("*.png"))
    assert not AuditEntry.objects.filter(action="circle.avatar").exists()


def test_errors_are_translated(client_as, circle, admin, onboarded, media):
    onboarded(admin)
    client = client_as(admin)
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    response = client.post(reverse("circle_avatar", args=[circle.slug]),
                           {"avatar": SimpleUploadedFile("x.svg", b"<svg/>")})
    assert _messages(response) == ["请使用 PNG、JPEG、GIF 或 WebP 图片。"]
    page = client.get(reverse("circle_settings", args=[circle.slug])).content.decode()
    assert "圈子头像" in page


def test_moderator_cannot(client_as, circle, moderator, onboarded, media):
    onboarded(moderator)
    response = client_as(moderator).post(reverse("circle_avatar", args=[circle.slug]), {"avatar": _picture()})
    assert response.status_code == 403
    circle.refresh_from_db()
    assert not circle.avatar
