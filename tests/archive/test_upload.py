"""Uploads: content-addressed, deduplicated, typed from content, limited, cleaned."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from quanzi.archive import actions
from quanzi.archive.models import Blob, CircleFile
from quanzi.archive.storage import archive_storage, blob_key
from quanzi.circles import actions as circle_actions
from quanzi.core.content import content_saved
from quanzi.core.errors import Forbidden, InvalidInput

from .conftest import PDF, image_bytes, upload

pytestmark = pytest.mark.django_db


def test_pdf_upload_is_stored_content_addressed(circle, member):
    f = actions.do_upload_file(actor=member, circle=circle, upload=upload("Report.pdf", PDF))
    assert f.kind == "file" and f.name == "Report.pdf" and f.uploader == member
    assert f.blob.content_type == "application/pdf" and f.blob.size == len(PDF)
    assert f.blob.storage_key == blob_key(f.blob.sha256)
    with archive_storage().open(f.blob.storage_key) as fh:
        assert fh.read() == PDF
    assert len(f.public_id) >= 20


def test_same_content_is_stored_once(circle, member, owner):
    a = actions.do_upload_file(actor=member, circle=circle, upload=upload("a.pdf", PDF))
    b = actions.do_upload_file(actor=owner, circle=circle, upload=upload("b.pdf", PDF))
    assert a.id != b.id and a.blob_id == b.blob_id
    assert Blob.objects.count() == 1


def test_image_is_reencoded_without_exif_and_gets_thumbnail(circle, member):
    data = image_bytes("JPEG", size=(1200, 800), exif=True)
    assert b"SecretCamera" in data
    f = actions.do_upload_file(actor=member, circle=circle, upload=upload("photo.jpg", data))
    assert f.kind == "image"
    assert (f.blob.width, f.blob.height) == (1200, 800)
    with archive_storage().open(f.blob.storage_key) as fh:
        stored = fh.read()
    assert b"SecretCamera" not in stored
    assert not Image.open(io.BytesIO(stored)).getexif()
    assert f.thumbnail is not None and f.thumbnail.content_type in ("image/jpeg", "image/png")
    with archive_storage().open(f.thumbnail.storage_key) as fh:
        thumb = Image.open(io.BytesIO(fh.read()))
    assert max(thumb.size) == 320


@pytest.mark.parametrize("fmt,ctype", [("PNG", "image/png"), ("GIF", "image/gif"), ("WEBP", "image/webp")])
def test_other_image_formats(circle, member, fmt, ctype):
    f = actions.do_upload_file(actor=member, circle=circle, upload=upload(f"x.{fmt.lower()}", image_bytes(fmt)))
    assert f.blob.content_type == ctype and f.kind == "image"


def test_disguised_executable_is_refused(circle, member):
    elf = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200
    with pytest.raises(InvalidInput) as exc:
        actions.do_upload_file(actor=member, circle=circle, upload=upload("cat.jpg", elf))
    assert exc.value.code == "file_type_not_allowed"
    pe = b"MZ\x90\x00\x03" + b"\x00" * 300
    with pytest.raises(InvalidInput):
        actions.do_upload_file(actor=member, circle=circle, upload=upload("cat.jpg", pe))
    assert not CircleFile.objects.exists() and not Blob.objects.exists()


@pytest.mark.parametrize("body", [b"<html><script>alert(1)</script></html>", b"<!DOCTYPE html><p>x",
                                  b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>',
                                  b'<?xml version="1.0"?><svg/>'])
def test_html_and_svg_are_refused_whatever_the_name(circle, member, body):
    for name in ("pic.png", "notes.txt", "x.svg"):
        with pytest.raises(InvalidInput) as exc:
            actions.do_upload_file(actor=member, circle=circle, upload=upload(name, body))
        assert exc.value.code in ("file_type_not_allowed", "file_type_mismatch")
    assert not Blob.objects.exists()


def test_pdf_named_jpg_is_a_mismatch(circle, member):
    with pytest.raises(InvalidInput) as exc:
        actions.do_upload_file(actor=member, circle=circle, upload=upload("photo.jpg", PDF))
    assert exc.value.code == "file_type_mismatch"


def test_text_and_markdown(circle, member):
    md = actions.do_upload_file(actor=member, circle=circle, upload=upload("说明.md", "# 标题\n\n正文 text\n".encode()))
    assert md.blob.content_type == "text/markdown" and md.name == "说明.md"
    txt = actions.do_upload_file(actor=member, circle=circle, upload=upload("notes", b"plain words\n"))
    assert txt.blob.content_type == "text/plain"
    with pytest.raises(InvalidInput):  # binary junk is not text
        actions.do_upload_file(actor=member, circle=circle, upload=upload("junk.txt", b"\x00\x01\x02binary"))


def test_office_and_zip(circle, member):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w/>")
    docx = actions.do_upload_file(actor=member, circle=circle, upload=upload("plan.docx", buf.getvalue()))
    assert docx.blob.content_type.endswith("wordprocessingml.document")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "hi")
    plain = actions.do_upload_file(actor=member, circle=circle, upload=upload("stuff.zip", buf.getvalue()))
    assert plain.blob.content_type == "application/zip"


def test_voice_notes(circle, member):
    ogg = b"OggS\x00\x02" + b"\x00" * 22 + b"\x01\x13OpusHead\x01\x01" + b"\x00" * 40
    f = actions.do_upload_file(actor=member, circle=circle, upload=upload("voice.opus", ogg), kind_hint="voice")
    assert f.kind == "voice" and f.blob.content_type == "audio/ogg"
    wav = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40
    assert actions.do_upload_file(actor=member, circle=circle, upload=upload("a.wav", wav)).kind == "voice"
    with pytest.raises(InvalidInput) as exc:
        actions.do_upload_file(actor=member, circle=circle, upload=upload("x.pdf", PDF), kind_hint="voice")
    assert exc.value.code == "invalid_audio"


@pytest.mark.parametrize("data", [b""])
def test_empty_file_is_refused(circle, member, data):
    with pytest.raises(InvalidInput) as exc:
        actions.do_upload_file(actor=member, circle=circle, upload=upload("empty.pdf", data))
    assert exc.value.code == "file_empty"


def test_size_limit_of_circle_and_global_cap(circle, member, settings):
    circle.upload_limit_mb = 1
    circle.save()
    big = PDF + b"0" * (1024 * 1024)
    with pytest.raises(InvalidInput) as exc:
        actions.do_upload_file(actor=member, circle=circle, upload=upload("big.pdf", big))
    assert exc.value.code == "file_too_large"
    circle.upload_limit_mb = 50
    circle.save()
    settings.QUANZI_UPLOAD_MAX_MB = 1
    with pytest.raises(InvalidInput):
        actions.do_upload_file(actor=member, circle=circle, upload=upload("big.pdf", big))
    assert not Blob.objects.exists()


def test_size_counted_while_reading_even_if_declared_size_lies(circle, member):
    circle.upload_limit_mb = 1
    circle.save()
    fake = upload("big.pdf", PDF + b"0" * (1024 * 1024 + 10))
    fake.size = 10
    with pytest.raises(InvalidInput):
        actions.do_upload_file(actor=member, circle=circle, upload=fake)


def test_decompression_bomb_is_refused(circle, member):
    img = Image.new("1", (10000, 10000))  # 100 megapixels, a tiny PNG
    out = io.BytesIO()
    img.save(out, format="PNG")
    with pytest.raises(InvalidInput) as exc:
        actions.do_upload_file(actor=member, circle=circle, upload=upload("bomb.png", out.getvalue()))
    assert exc.value.code == "image_too_large"
    assert not Blob.objects.exists()


def test_truncated_image_is_refused(circle, member):
    data = image_bytes("PNG", size=(300, 300))
    with pytest.raises(InvalidInput) as exc:
        actions.do_upload_file(actor=member, circle=circle, upload=upload("cut.png", data[: len(data) // 2]))
    assert exc.value.code == "invalid_image"


@pytest.mark.parametrize("raw,clean", [
    ("../../x.pdf", "x.pdf"), ("..\\..\\win.pdf", "win.pdf"), ("/etc/passwd.pdf", "passwd.pdf"),
    ("文件.pdf", "文件.pdf"), ('a"b<c>.pdf', "abc.pdf"), ("..", "file"), ("\x00\x1f.pdf", "pdf"),
    ("a\u202egpj.pdf", "agpj.pdf"),
])
def test_names_are_sanitised(circle, member, raw, clean):
    raw_upload = io.BytesIO(PDF)  # a plain file object: Django's UploadedFile would already strip paths
    raw_upload.name = raw
    f = actions.do_upload_file(actor=member, circle=circle, upload=raw_upload)
    assert f.name == clean
    assert "/" not in f.blob.storage_key.split("/")[-1]


def test_long_name_keeps_extension():
    name = actions.sanitize_name("长" * 300 + ".pdf")
    assert len(name) <= 200 and name.endswith(".pdf")


def test_outsider_banned_muted_cannot_upload(circle, owner, member, outsider):
    with pytest.raises(Forbidden):
        actions.do_upload_file(actor=outsider, circle=circle, upload=upload("a.pdf", PDF))
    circle_actions.do_mute_member(actor=owner, circle=circle, user_id=member.id, minutes=60)
    with pytest.raises(Forbidden) as exc:
        actions.do_upload_file(actor=member, circle=circle, upload=upload("a.pdf", PDF))
    assert exc.value.code == "muted"
    circle_actions.do_ban_member(actor=owner, circle=circle, user_id=member.id)
    with pytest.raises(Forbidden):
        actions.do_upload_file(actor=member, circle=circle, upload=upload("a.pdf", PDF))
    assert not Blob.objects.exists()


def test_content_saved_after_commit(circle, member, django_capture_on_commit_callbacks):
    seen = []

    def listener(sender, **kw):
        seen.append(kw)

    content_saved.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            f = actions.do_upload_file(actor=member, circle=circle, upload=upload("季度报告.pdf", PDF))
    finally:
        content_saved.disconnect(listener)
    assert seen == [{"signal": content_saved, "kind": "file", "object_id": f.id, "circle_id": circle.id,
                     "text": "季度报告.pdf", "created": True}]


def test_delete_by_uploader_and_admin_only(circle, owner, admin, member, make_user):
    other = make_user("other")
    circle_actions.do_join_circle(user=other, circle=circle)
    f = actions.do_upload_file(actor=member, circle=circle, upload=upload("a.pdf", PDF))
    with pytest.raises(Forbidden):
        actions.do_delete_file(actor=other, circle_file=f.public_id)
    actions.do_delete_file(actor=admin, circle_file=f.public_id)
    f.refresh_from_db()
    assert f.deleted_at is not None
    g = actions.do_upload_file(actor=member, circle=circle, upload=upload("b.pdf", PDF))
    actions.do_delete_file(actor=member, circle_file=g)
    from quanzi.core.errors import NotFound
    with pytest.raises(NotFound):
        actions.do_delete_file(actor=member, circle_file=g)


def test_attach_files(circle, member, owner):
    f = actions.do_upload_file(actor=member, circle=circle, upload=upload("a.pdf", PDF))
    with pytest.raises(InvalidInput):
        actions.do_attach_files(actor=owner, circle=circle, public_ids=[f.public_id], kind="post", object_id=1)
    [a] = actions.do_attach_files(actor=member, circle=circle, public_ids=[f.public_id], kind="post", object_id=7)
    assert (a.attached_kind, a.attached_id) == ("post", 7)
    with pytest.raises(InvalidInput):  # already claimed
        actions.do_attach_files(actor=member, circle=circle, public_ids=[f.public_id], kind="post", object_id=8)
