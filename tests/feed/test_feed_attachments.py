"""Files of the archive attached to posts: upload → attach → shown in order, visible only with the post."""

from __future__ import annotations

import io

import pytest
from api.helpers import assert_error
from django.urls import reverse
from PIL import Image

from quanzi.archive.models import CircleFile
from quanzi.circles import actions as circle_actions
from quanzi.feed.models import Post, PostAttachment

pytestmark = pytest.mark.django_db

BASE = "/api/circles/runners"


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"  # the archive's own storage is a temporary folder in tests


def _png(color="red") -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(out, format="PNG")
    out.seek(0)
    out.name = f"{color}.png"
    return out


def _upload(api, name="notes.txt", data=b"hello notes") -> str:
    f = io.BytesIO(data)
    f.name = name
    r = api.client.post(f"{BASE}/files", {"file": f}, headers=api._headers())
    assert r.status_code == 201, r.content
    return r.json()["id"]


def _upload_png(api, color="red") -> str:
    r = api.client.post(f"{BASE}/files", {"file": _png(color)}, headers=api._headers())
    assert r.status_code == 201, r.content
    return r.json()["id"]


def test_attach_in_order_and_permission_follows_the_post(api_as, member, moderator, admin, make_user):
    api = api_as(admin)
    image, text = _upload_png(api), _upload(api)
    r = api.post(f"{BASE}/posts", {"body": "with files", "attachments": [text, image], "visibility": "moderators"})
    assert r.status_code == 201, r.data
    files = r.data["attachments"]
    assert [f["id"] for f in files] == [text, image]
    assert files[1]["kind"] == "image" and files[1]["thumbnail_url"] and files[0]["url"].endswith(f"/files/{text}/")
    assert CircleFile.objects.get(public_id=image).attached_kind == "post"
    # the moderator sees the post and downloads its files; a member sees neither
    mod = api_as(moderator)
    assert mod.client.get(files[0]["url"]).status_code == 404  # no session: the web download needs a login
    mod.client.force_login(moderator)
    assert mod.client.get(files[0]["url"]).status_code == 200
    member_client = api_as(member).client
    member_client.force_login(member)
    assert member_client.get(files[0]["url"]).status_code == 404
    assert member_client.get(f"/api/files/{text}/download", headers=api_as(member)._headers()).status_code == 404


def test_reorder_and_remove_on_edit(api_as, member):
    api = api_as(member)
    a, b, c = _upload(api, "a.txt", b"a"), _upload(api, "b.txt", b"b"), _upload(api, "c.txt", b"c")
    post = api.post(f"{BASE}/posts", {"body": "x", "attachments": [a, b]}).data
    r = api.patch(f"{BASE}/posts/{post['id']}", {"attachments": [c, a]})
    assert [f["id"] for f in r.data["attachments"]] == [c, a]
    # b left the post but stays claimed by it (hidden with the post), not a loose circle file
    assert CircleFile.objects.get(public_id=b).attached_id == post["id"]
    assert PostAttachment.objects.filter(post_id=post["id"]).count() == 2
    # the feed page and the post read the same files, in order; a deleted file is left out of both
    listed = api.get(f"{BASE}/posts").data["items"]
    assert [f["id"] for f in listed[0]["attachments"]] == [c, a]
    from django.utils import timezone

    CircleFile.objects.filter(public_id=c).update(deleted_at=timezone.now())
    assert [f["id"] for f in api.get(f"{BASE}/posts").data["items"][0]["attachments"]] == [a]
    assert [f["id"] for f in api.get(f"{BASE}/posts/{post['id']}").data["attachments"]] == [a]


def test_foreign_used_or_unknown_files_are_refused(api_as, member, admin):
    mine = _upload(api_as(member))
    theirs = _upload(api_as(admin))
    api = api_as(member)
    assert_error(api.post(f"{BASE}/posts", {"body": "x", "attachments": [theirs]}), 400, "invalid_attachment")
    assert_error(api.post(f"{BASE}/posts", {"body": "x", "attachments": ["nope"]}), 400, "invalid_attachment")
    assert_error(api.post(f"{BASE}/posts", {"body": "x", "attachments": [mine] * 1 + [""]}), 400,
                 "invalid_attachment")
    assert not Post.objects.exists()
    first = api.post(f"{BASE}/posts", {"body": "x", "attachments": [mine]})
    assert first.status_code == 201
    assert_error(api.post(f"{BASE}/posts", {"body": "y", "attachments": [mine]}), 400, "invalid_attachment")
    assert_error(api.post(f"{BASE}/posts", {"body": "y", "attachments": [f"f{i}" for i in range(10)]}), 400,
                 "too_many_attachments")


def test_web_compose_uploads_and_attaches(client, circle, member):
    circle_actions.do_finish_onboarding(user=member, circle=circle)
    client.force_login(member)
    r = client.post(reverse("feed_post_create", args=[circle.slug]),
                    {"body": "photo day", "files": [_png("blue"), _png("green")]})
    assert r.status_code == 302
    post = Post.objects.get()
    names = list(PostAttachment.objects.filter(post=post).order_by("position").values_list("file__name", flat=True))
    assert names == ["blue.png", "green.png"]
    page = client.get(reverse("feed", args=[circle.slug])).content.decode()
    assert "/thumb/" in page
    # a bad post keeps no files behind
    r = client.post(reverse("feed_post_create", args=[circle.slug]), {"body": "", "files": [_png("red")]})
    assert r.status_code == 302
    assert CircleFile.objects.filter(deleted_at__isnull=True).count() == 2
