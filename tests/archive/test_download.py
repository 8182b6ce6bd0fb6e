"""Downloads: permission checked every time, safe headers, ETag, Range, visibility of attachments."""

from __future__ import annotations

import pytest
from django.urls import reverse

from quanzi.archive import actions
from quanzi.archive.access import _registry, register_visibility
from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Circle

from .conftest import PDF, image_bytes, upload

pytestmark = pytest.mark.django_db


def _get(client, user, url, **headers):
    client.logout()
    if user is not None:
        client.force_login(user)
    return client.get(url, headers=headers)


def _read(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_pdf_headers(client, circle, member, owner):
    f = actions.do_upload_file(actor=member, circle=circle, upload=upload("季度 report.pdf", PDF))
    r = _get(client, owner, reverse("archive_file_download", args=[f.public_id]))
    assert r.status_code == 200 and _read(r) == PDF
    assert r["Content-Type"] == "application/pdf"
    assert r["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''%E5%AD%A3%E5%BA%A6%20report.pdf" in r["Content-Disposition"]
    assert r["X-Content-Type-Options"] == "nosniff"
    assert r["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert r["ETag"] == f'"{f.blob.sha256}"'
    assert "private" in r["Cache-Control"]
    again = _get(client, owner, reverse("archive_file_download", args=[f.public_id]), If_None_Match=r["ETag"])
    assert again.status_code == 304


def test_images_inline_text_attachment(client, circle, member):
    img = actions.do_upload_file(actor=member, circle=circle, upload=upload("p.png", image_bytes("PNG")))
    r = _get(client, member, reverse("archive_file_download", args=[img.public_id]))
    assert r["Content-Type"] == "image/png" and r["Content-Disposition"].startswith("inline")
    t = _get(client, member, reverse("archive_file_thumbnail", args=[img.public_id]))
    assert t.status_code == 200 and t["Content-Type"] in ("image/jpeg", "image/png")
    txt = actions.do_upload_file(actor=member, circle=circle, upload=upload("a.txt", b"hello"))
    r = _get(client, member, reverse("archive_file_download", args=[txt.public_id]))
    assert r["Content-Type"] == "text/plain; charset=utf-8" and r["Content-Disposition"].startswith("attachment")


def test_range_requests(client, circle, member):
    f = actions.do_upload_file(actor=member, circle=circle, upload=upload("a.pdf", PDF))
    url = reverse("archive_file_download", args=[f.public_id])
    r = _get(client, member, url, Range="bytes=2-5")
    assert r.status_code == 206 and _read(r) == PDF[2:6]
    assert r["Content-Range"] == f"bytes 2-5/{len(PDF)}"
    r = _get(client, member, url, Range="bytes=-4")
    assert r.status_code == 206 and _read(r) == PDF[-4:]
    r = _get(client, member, url, Range=f"bytes={len(PDF) + 5}-")
    assert r.status_code == 416
    r = _get(client, member, url, Range="bytes=zz")
    assert r.status_code == 200 and _read(r) == PDF


def test_former_members_get_404(client, circle, owner, member, make_user):
    f = actions.do_upload_file(actor=owner, circle=circle, upload=upload("a.pdf", PDF))
    url = reverse("archive_file_download", args=[f.public_id])
    assert _get(client, member, url).status_code == 200
    circle_actions.do_ban_member(actor=owner, circle=circle, user_id=member.id)
    assert _get(client, member, url).status_code == 404
    kicked = make_user("kicked")
    circle_actions.do_join_circle(user=kicked, circle=circle)
    circle_actions.do_kick_member(actor=owner, circle=circle, user_id=kicked.id)
    assert _get(client, kicked, url).status_code == 404
    leaver = make_user("leaver")
    circle_actions.do_join_circle(user=leaver, circle=circle)
    circle_actions.do_leave_circle(user=leaver, circle=circle)
    assert _get(client, leaver, url).status_code == 404
    assert _get(client, None, url).status_code == 404
    assert _get(client, owner, reverse("archive_file_download", args=["nope"])).status_code == 404


def test_deleted_and_wrong_circle(client, circle, owner, member, make_user):
    other_owner = make_user("other_owner")
    other = circle_actions.do_create_circle(owner=other_owner, name="Other", slug="other")
    f = actions.do_upload_file(actor=member, circle=circle, upload=upload("a.pdf", PDF))
    assert _get(client, other_owner, reverse("archive_file_download", args=[f.public_id])).status_code == 404
    client.force_login(other_owner)  # deleting through another circle's URL: 404
    r = client.post(reverse("archive_file_delete", args=[other.slug, f.public_id]))
    assert r.status_code == 404
    actions.do_delete_file(actor=member, circle_file=f)
    assert _get(client, owner, reverse("archive_file_download", args=[f.public_id])).status_code == 404
    assert Circle.objects.count() == 2


def test_attachment_visibility_registry(client, circle, owner, member):
    f = actions.do_upload_file(actor=member, circle=circle, upload=upload("a.pdf", PDF))
    actions.do_attach_files(actor=member, circle=circle, public_ids=[f.public_id], kind="testthing", object_id=5)
    url = reverse("archive_file_download", args=[f.public_id])
    assert _get(client, owner, url).status_code == 404  # no app registered "testthing": nobody sees it
    register_visibility("testthing", lambda user, ids: ids if user.username == "member" else set())
    try:
        assert _get(client, member, url).status_code == 200
        assert _get(client, owner, url).status_code == 404
        client.force_login(owner)
        page = client.get(reverse("archive_files", args=[circle.slug]))
        assert f.public_id not in page.content.decode()
        client.force_login(member)
        assert f.public_id in client.get(reverse("archive_files", args=[circle.slug])).content.decode()
    finally:
        _registry.pop("testthing", None)


def test_files_page_upload_search_delete(client, circle, owner, member, onboarded_all):
    client.force_login(member)
    r = client.post(reverse("archive_file_upload", args=[circle.slug]), {"file": upload("报告.pdf", PDF)},
                    headers={"HX-Request": "true"})
    assert r.status_code == 200 and "报告.pdf" in r.content.decode()
    r = client.post(reverse("archive_file_upload", args=[circle.slug]),
                    {"file": upload("evil.png", b"<html><script>x</script>")}, headers={"HX-Request": "true"})
    assert r.status_code == 400 and "not allowed" in r.content.decode()
    page = client.get(reverse("archive_files", args=[circle.slug]), {"q": "报告"})
    assert "报告.pdf" in page.content.decode()
    page = client.get(reverse("archive_files", args=[circle.slug]), {"q": "zzz"})
    assert "报告.pdf" not in page.content.decode()


@pytest.fixture
def onboarded_all(circle, owner, member):
    for user in (owner, member):
        circle_actions.do_finish_onboarding(user=user, circle=circle)


def test_api_upload_list_get_download_delete(client, circle, member, owner):
    from quanzi.accounts import actions as account_actions

    _token, raw = account_actions.do_create_token(user=member, name="t")
    auth = {"Authorization": f"Bearer {raw}"}
    r = client.post(f"/api/circles/{circle.slug}/files", {"file": upload("文件.pdf", PDF)}, headers=auth)
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["name"] == "文件.pdf" and body["content_type"] == "application/pdf" and body["size"] == len(PDF)
    r = client.post(f"/api/circles/{circle.slug}/files", {"file": upload("x.jpg", b"\x7fELF" + b"\0" * 64)},
                    headers=auth)
    assert r.status_code == 400 and r.json()["code"] == "file_type_not_allowed"
    r = client.post(f"/api/circles/{circle.slug}/files", {"file": upload("e.pdf", b"")}, headers=auth)
    assert r.status_code == 400 and r.json()["code"] == "file_empty"
    listing = client.get(f"/api/circles/{circle.slug}/files?q=文件", headers=auth).json()
    assert [i["id"] for i in listing["items"]] == [body["id"]]
    assert client.get(f"/api/files/{body['id']}", headers=auth).json()["sha256"] == body["sha256"]
    dl = client.get(f"/api/files/{body['id']}/download", headers=auth)
    assert dl.status_code == 200 and _read(dl) == PDF
    assert client.delete(f"/api/files/{body['id']}", headers=auth).json() == {"ok": True}
    assert client.get(f"/api/files/{body['id']}", headers=auth).status_code == 404
