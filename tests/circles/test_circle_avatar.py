"""do_set_circle_avatar: admins only, audited, announced, old files removed after commit."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from quanzi.circles.actions import do_set_circle_avatar
from quanzi.core.events import EventType
from quanzi.core.models import AuditEntry, DomainEvent

from .helpers import assert_denied

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def picture(size=(900, 300), name: str = "logo.jpg") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 60)).save(out, format="JPEG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/jpeg")


def stored_name(circle) -> str:
    circle.refresh_from_db()
    return circle.avatar.name


class Unreadable(io.BytesIO):
    """An upload that must not even be read (the rule is checked first)."""

    size = 100

    def read(self, *args):
        raise AssertionError("the upload was read before the permission check")

    def chunks(self, *args):
        raise AssertionError("the upload was read before the permission check")


def test_admin_sets_the_avatar_with_audit_and_event(circle, admin, media, captured_events,
                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = do_set_circle_avatar(actor=admin, circle=circle, upload=picture())
    circle.refresh_from_db()
    assert result.avatar.name == circle.avatar.name
    assert circle.avatar.name.startswith("circle-avatars/") and circle.avatar.name.endswith(".png")
    assert "logo" not in circle.avatar.name
    with Image.open(circle.avatar.path) as stored:
        assert stored.format == "PNG" and stored.size == (512, 171)
    entry = AuditEntry.objects.get(action="circle.avatar")
    assert (entry.circle_id, entry.actor_id, entry.data) == (circle.id, admin.id, {"removed": False})
    row = DomainEvent.objects.filter(type=EventType.CIRCLE_UPDATED).latest("id")
    assert (row.circle_id, row.actor_id, row.data) == (circle.id, admin.id, {"fields": ["avatar"]})
    published = [e for e in captured_events if e.type == EventType.CIRCLE_UPDATED]
    assert len(published) == 1 and published[0].client_dict()["fields"] == ["avatar"]


def test_replacing_and_removing_delete_the_old_file_after_commit(circle, owner, media,
                                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        do_set_circle_avatar(actor=owner, circle=circle, upload=picture())
    first = media / stored_name(circle)
    with django_capture_on_commit_callbacks(execute=False) as pending:
        do_set_circle_avatar(actor=owner, circle=circle, upload=picture((50, 50)))
    second = media / stored_name(circle)
    assert first != second and first.exists()  # still there until the change commits
    for callback in pending:
        callback()
    assert not first.exists() and second.exists()

    with django_capture_on_commit_callbacks(execute=True):
        do_set_circle_avatar(actor=owner, circle=circle, upload=None)
    circle.refresh_from_db()
    assert not circle.avatar and not second.exists()
    assert AuditEntry.objects.filter(action="circle.avatar", data={"removed": True}).count() == 1


def test_removing_when_there_is_none_writes_nothing(circle, owner, media):
    audit_before = AuditEntry.objects.count()
    events_before = DomainEvent.objects.count()
    do_set_circle_avatar(actor=owner, circle=circle, upload=None)
    assert AuditEntry.objects.count() == audit_before and DomainEvent.objects.count() == events_before


@pytest.mark.parametrize("who", ["member", "moderator", "outsider"])
def test_below_admin_is_refused_before_the_upload_is_read(request, circle, media, who):
    user = request.getfixturevalue(who)
    code = "not_member" if who == "outsider" else "insufficient_role"
    assert_denied(code, lambda: do_set_circle_avatar(actor=user, circle=circle, upload=Unreadable()))
    assert_denied(code, lambda: do_set_circle_avatar(actor=user, circle=circle, upload=None))
    assert not list(media.rglob("*.png"))


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "invalid_image"),
        (b"not an image", "invalid_image"),
    ],
)
def test_bad_files_are_refused_and_write_nothing(circle, admin, media, data, code):
    upload = SimpleUploadedFile("x.png", data, content_type="image/png")
    assert_denied(code, lambda: do_set_circle_avatar(actor=admin, circle=circle, upload=upload))
    assert not list(media.rglob("*.png"))


def test_too_large_is_refused(circle, admin, media, settings):
    settings.AVATAR_MAX_BYTES = 500
    assert_denied("avatar_too_large", lambda: do_set_circle_avatar(actor=admin, circle=circle, upload=picture()))
