"""Own your data: export a circle to a zip, wipe, import, compare."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.management import CommandError, call_command

from quanzi.accounts.models import User
from quanzi.archive import actions
from quanzi.archive.export import write_export
from quanzi.archive.importer import ImportRefused, import_circle
from quanzi.archive.models import Blob, CircleExport, CircleFile
from quanzi.archive.storage import open_blob
from quanzi.chat import actions as chat_actions
from quanzi.chat.models import Group, GroupMember, Message
from quanzi.circles.models import Circle, Membership
from quanzi.core.errors import Forbidden, NotFound

from .conftest import PDF, image_bytes, upload

pytestmark = pytest.mark.django_db


def _snapshot(slug: str) -> dict:
    """What must survive a round trip, without ids."""
    circle = Circle.objects.get(slug=slug)
    return {
        "circle": (circle.name, circle.rules_text, circle.timezone, circle.upload_limit_mb,
                   circle.main_group.name if circle.main_group else None, circle.member_count),
        "members": sorted((m.user.username, m.role, m.status) for m in circle.memberships.select_related("user")),
        "groups": sorted((g.name, g.kind) for g in Group.objects.filter(circle=circle)),
        "seats": sorted((gm.group.name, gm.user.username) for gm in GroupMember.objects.filter(group__circle=circle)),
        "messages": sorted((
            (m.group.name, m.author.username if m.author else None, m.body, m.created_at.isoformat(),
             m.reply_to.body if m.reply_to else None, tuple(sorted(u.username for u in m.mentioned_users.all())))
            for m in Message.objects.filter(group__circle=circle).select_related("group", "author", "reply_to")
        ), key=repr),
        "files": sorted(((f.name, f.kind, f.blob.sha256, f.thumbnail.sha256 if f.thumbnail else None,
                         f.uploader.username, f.deleted_at is not None)
                        for f in CircleFile.objects.filter(circle=circle)), key=repr),
    }


def _build(circle, owner, member):
    main = Group.objects.get(id=circle.main_group_id)
    first = chat_actions.do_send_message(sender=owner, group=main, body="大家好 hello @member")
    chat_actions.do_send_message(sender=member, group=main, body="reply", reply_to_id=first.id)
    actions.do_upload_file(actor=member, circle=circle, upload=upload("文件.pdf", PDF))
    actions.do_upload_file(actor=owner, circle=circle, upload=upload("p.jpg", image_bytes("JPEG", exif=True)))
    gone = actions.do_upload_file(actor=member, circle=circle, upload=upload("old.txt", b"old"))
    actions.do_delete_file(actor=member, circle_file=gone)


def test_round_trip(circle, owner, member, admin):
    _build(circle, owner, member)
    before = _snapshot(circle.slug)
    contents = {b.sha256: open_blob(b).read() for b in Blob.objects.all()}
    out = io.BytesIO()
    manifest = write_export(circle, out)
    assert manifest["version"] == 1 and manifest["counts"]["messages"] >= 2
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as z:
        users = json.loads(z.read("data/users.json"))
        assert {u["username"] for u in users} >= {"owner", "member", "admin"}
        assert all("password" not in u for u in users)
        assert json.loads(z.read("data/circle.json"))[0]["slug"] == "runners"
    # Wipe the instance (the files' contents stay in storage, as on a fresh instance's disk they'd be re-stored).
    Circle.objects.all().delete()
    CircleFile.objects.all().delete()
    Blob.objects.all().delete()
    User.objects.all().delete()
    result = import_circle(io.BytesIO(out.getvalue()))
    assert result.slug == "runners"
    assert _snapshot("runners") == before
    for blob in Blob.objects.all():
        assert open_blob(blob).read() == contents[blob.sha256]
    imported = User.objects.get(username="member")
    assert not imported.has_usable_password() and not imported.is_staff
    # Search works on the imported circle at once (the import indexes it).
    from quanzi.circles.models import Circle as ImportedCircle
    from quanzi.search.selectors import search

    assert sum(result.indexed.values()) > 0
    hits = search(imported, ImportedCircle.objects.get(slug="runners"), "hello")
    assert hits.hits, "the imported chat message is found"


def test_import_refuses_conflicts_and_bad_zips(circle, owner, member, tmp_path):
    out = io.BytesIO()
    write_export(circle, out)
    with pytest.raises(ImportRefused, match="slug"):
        import_circle(io.BytesIO(out.getvalue()))
    Circle.objects.filter(id=circle.id).update(slug="renamed")
    with pytest.raises(ImportRefused, match="username"):
        import_circle(io.BytesIO(out.getvalue()))
    with pytest.raises(ImportRefused, match="zip"):
        import_circle(io.BytesIO(b"not a zip"))
    bad = io.BytesIO()
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("manifest.json", json.dumps({"format": "quanzi-circle-export", "version": 99}))
    with pytest.raises(ImportRefused, match="version"):
        import_circle(io.BytesIO(bad.getvalue()))
    path = tmp_path / "x.zip"
    path.write_bytes(b"junk")
    with pytest.raises(CommandError, match="Not imported"):
        call_command("import_circle", str(path))
    assert Circle.objects.count() == 1


def test_import_refuses_forged_content(circle, owner, member):
    actions.do_upload_file(actor=member, circle=circle, upload=upload("a.pdf", PDF))
    out = io.BytesIO()
    write_export(circle, out)
    forged = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as src, zipfile.ZipFile(forged, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item.filename, data.replace(b"%PDF", b"%XYZ") if item.filename.startswith("files/") else data)
    Circle.objects.all().delete()
    CircleFile.objects.all().delete()
    Blob.objects.all().delete()
    User.objects.all().delete()
    with pytest.raises(ImportRefused, match="SHA-256"):
        import_circle(io.BytesIO(forged.getvalue()))
    assert not Circle.objects.exists() and not User.objects.exists()  # one transaction: nothing stayed


def test_export_task_and_permissions(circle, owner, admin, member, django_capture_on_commit_callbacks, client):
    with pytest.raises(Forbidden):
        actions.do_request_export(actor=admin, circle=circle)
    with django_capture_on_commit_callbacks(execute=True):
        export = actions.do_request_export(actor=owner, circle=circle)
    export.refresh_from_db()
    assert export.status == "done" and export.progress == 100 and export.size > 0
    client.force_login(owner)
    r = client.get(f"/c/{circle.slug}/export/{export.public_id}/download/")
    assert r.status_code == 200 and r["Content-Type"] == "application/zip"
    assert zipfile.ZipFile(io.BytesIO(b"".join(r.streaming_content))).read("manifest.json")
    client.force_login(admin)
    assert client.get(f"/c/{circle.slug}/export/{export.public_id}/download/").status_code == 403
    status = client.get(f"/c/{circle.slug}/export/{export.public_id}/status/")
    assert status.status_code == 403
    client.force_login(owner)
    row = client.get(f"/c/{circle.slug}/export/{export.public_id}/status/").content.decode()
    assert "download" in row and "every 2s" not in row
    running = CircleExport.objects.create(circle=circle, requested_by=owner, status="running", progress=40)
    row = client.get(f"/c/{circle.slug}/export/{running.public_id}/status/").content.decode()
    assert "every 2s" in row and "40%" in row


def test_outsider_cannot_export(circle, outsider):
    with pytest.raises(NotFound):
        actions.do_request_export(actor=outsider, circle=circle)
    assert Membership.objects.filter(user=outsider).count() == 0


def test_export_over_the_api(circle, owner, admin, member, django_capture_on_commit_callbacks):
    """The owner starts an export, polls it and downloads the zip; nobody else can; one at a time."""
    from api.helpers import ApiClient

    _build(circle, owner, member)
    api = ApiClient(owner)
    with django_capture_on_commit_callbacks(execute=True):
        started = api.post(f"/api/circles/{circle.slug}/exports")
    assert started.status_code == 201, started.data
    export_id = started.data["id"]
    status = api.get(f"/api/circles/{circle.slug}/exports/{export_id}")
    assert status.status_code == 200
    assert (status.data["status"], status.data["progress"]) == ("done", 100) and status.data["size"] > 0
    assert status.data["download_url"] == f"/api/circles/{circle.slug}/exports/{export_id}/download"
    listing = api.get(f"/api/circles/{circle.slug}/exports")
    assert [e["id"] for e in listing.data["items"]] == [export_id]
    zipped = api.get(status.data["download_url"])
    assert zipped.status_code == 200 and zipped["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(b"".join(zipped.streaming_content))) as z:
        assert json.loads(z.read("manifest.json"))["counts"]["messages"] >= 2
    # Others: the admin is refused, a stranger can't tell the circle exists, bad ids are a clear 404.
    assert ApiClient(admin).get(status.data["download_url"]).data["code"] == "owner_only"
    assert ApiClient(admin).post(f"/api/circles/{circle.slug}/exports").data["code"] == "owner_only"
    assert api.get(f"/api/circles/{circle.slug}/exports/nope").data["code"] == "export_not_found"
    assert api.get(f"/api/circles/{circle.slug}/exports/{'x' * 200}").data["code"] == "export_not_found"
    # One export at a time: a second request while one runs is a 409 and stores nothing.
    CircleExport.objects.create(circle=circle, requested_by=owner, status="running", progress=10)
    again = api.post(f"/api/circles/{circle.slug}/exports")
    assert (again.status_code, again.data["code"]) == (409, "export_running")
    assert CircleExport.objects.filter(circle=circle).count() == 2
    running = CircleExport.objects.filter(status="running").get()
    not_ready = api.get(f"/api/circles/{circle.slug}/exports/{running.public_id}/download")
    assert (not_ready.status_code, not_ready.data["code"]) == (404, "export_not_found")
