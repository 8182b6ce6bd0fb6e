"""Link snapshots end to end: a message with a link → a stored copy (text, images) → card and page.

Fetches go only to the local test server (conftest.py); the connection guard fails anything else.
"""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from quanzi.archive import snapshots
from quanzi.archive.models import Blob, LinkSnapshot, SnapshotCitation, SnapshotImage, SnapshotStatus
from quanzi.archive.storage import open_blob
from quanzi.chat import actions as chat_actions
from quanzi.chat import dms
from quanzi.circles import actions as circle_actions
from quanzi.search.selectors import search

from .conftest import png_bytes

PASSWORD = "correct-horse-battery-9"

ARTICLE = """<!doctype html><html><head><meta charset="utf-8"><title>早起打卡指南 | RunClub</title>
<meta property="og:title" content="早起打卡指南"><meta property="og:description" content="How to wake up early and run">
<meta property="og:image" content="/img/cover.png"><meta property="og:site_name" content="RunClub"></head>
<body><nav>menu menu menu</nav><article><h1>早起打卡指南</h1>
<p>Wake up at six every morning and run five kilometres before breakfast. Consistency beats intensity, so keep
the pace easy and write down every run in the group's check-in thread.</p><img src="/img/a.png" alt="route">
<p>第二段：坚持三十天以后，早起会变成习惯。Drink water, stretch, and sleep before eleven every night.</p>
<img src="/img/vector.svg"><img src="/img/missing.png"><img src="http://10.0.0.1/internal.png"></article>
<footer>copyright</footer></body></html>"""


@pytest.fixture
def archive_dir(tmp_path, settings):
    settings.STORAGES = {**settings.STORAGES, "archive": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                         "OPTIONS": {"location": str(tmp_path / "archive")}}}
    return tmp_path / "archive"


@pytest.fixture
def site(snapshot_server, archive_dir):
    snapshot_server.page("/article", ARTICLE)
    snapshot_server.image("/img/cover.png", png_bytes((10, 200, 10), (120, 60)))
    snapshot_server.image("/img/a.png", png_bytes((10, 10, 200), (30, 30)))
    snapshot_server.image("/img/vector.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml")
    return snapshot_server


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """A chat message with its after-commit listeners run. Moderators and up are not screened by the
    anti-ad gate, which holds links from newcomers (held messages get no snapshot until approved)."""

    def do(user, group, body):
        with django_capture_on_commit_callbacks(execute=True):
            return chat_actions.do_send_message(sender=user, group=group, body=body)

    return do


def login(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


# --- URL finding --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "urls"), [
    ("看这个https://example.com/a，很好", ["https://example.com/a"]),
    ("see (https://en.wikipedia.org/wiki/Run_(x)).", ["https://en.wikipedia.org/wiki/Run_(x)"]),
    ("two: http://A.Example.COM:80/x?y=1#frag and https://b.example/。", ["http://a.example.com/x?y=1",
                                                                         "https://b.example/"]),
    ("dup https://example.com and https://EXAMPLE.com/ again", ["https://example.com/"]),
    ("secret http://user:pw@example.com/ stays out", []),
    ("no links, just ftp://x.example/ and www.example.com", []),
    ("<https://example.com/in-angle>", ["https://example.com/in-angle"]),
    ("「https://例子.测试/路径」", ["https://xn--fsqu00a.xn--0zwm56d/路径"]),
])
def test_extract_urls(text, urls):
    assert snapshots.extract_urls(text) == urls


def test_at_most_five_urls_per_content():
    text = " ".join(f"https://example.com/{n}" for n in range(9))
    assert len(snapshots.extract_urls(text)) == snapshots.MAX_URLS_PER_CONTENT


def test_snapshots_off_in_tests_without_the_local_server(circle, member, send):
    send(member, circle.main_group, "look https://example.com/page")
    assert not LinkSnapshot.objects.exists()


# --- the whole flow -----------------------------------------------------------------------------


def test_message_link_is_archived_with_text_and_images(circle, member, moderator, site, send):
    url = site.url("/article")
    message = send(moderator, circle.main_group, f"今天的文章 {url} 大家看看")
    snap = LinkSnapshot.objects.get()
    assert snap.status == SnapshotStatus.OK, snap.failure_reason
    assert snap.url == url and snap.final_url == url
    assert snap.title == "早起打卡指南"
    assert snap.description == "How to wake up early and run"
    assert snap.site_name == "RunClub"
    assert "Consistency beats intensity" in snap.text and "坚持三十天以后" in snap.text
    assert "menu menu" not in snap.text and "![" not in snap.text
    assert snap.fetched_at is not None
    assert list(SnapshotCitation.objects.values_list("kind", "object_id")) == [("message", message.id)]
    # og:image first, then the content image; SVG, a 404 and a private address were skipped.
    images = list(SnapshotImage.objects.filter(snapshot=snap).select_related("blob"))
    assert [i.source_url for i in images] == [site.url("/img/cover.png"), site.url("/img/a.png")]
    assert snap.image_id == images[0].blob_id
    assert (images[0].blob.width, images[0].blob.height, images[0].blob.content_type) == (120, 60, "image/png")
    with open_blob(images[1].blob) as fh:
        assert fh.read() == png_bytes((10, 10, 200), (30, 30))
    assert not any("10.0.0.1" in r["path"] for r in site.requests)
    # The archived text is searchable by those who may see the message.
    assert [(h.kind, h.object_id) for h in search(member, circle, "坚持三十天", kinds="snapshot").hits] == [
        ("snapshot", snap.id)]


def test_one_snapshot_per_url_per_circle(circle, owner, moderator, site, send):
    url = site.url("/article")
    first = send(moderator, circle.main_group, url)
    second = send(owner, circle.main_group, f"again {url.replace('/article', '/article#intro')}")
    assert LinkSnapshot.objects.count() == 1
    assert SnapshotCitation.objects.count() == 2
    assert [r["path"] for r in site.requests].count("/article") == 1
    other = circle_actions.do_create_circle(owner=owner, name="Readers", slug="readers")
    send(owner, other.main_group, url)
    assert LinkSnapshot.objects.count() == 2
    cited = snapshots.snapshots_for("message", [first.id, second.id])
    assert set(cited) == {first.id, second.id}


def test_failed_fetch_is_recorded_with_the_reason(circle, member, moderator, site, send, client):
    send(moderator, circle.main_group, f"broken {site.url('/gone')}")
    snap = LinkSnapshot.objects.get()
    assert snap.status == SnapshotStatus.FAILED
    assert snap.failure_reason.startswith("http_status")
    assert snap.fetched_at is not None
    page = login(member).get(reverse("archive_snapshot", args=[circle.slug, snap.id]))
    assert page.status_code == 200 and b'id="snapshot-failed"' in page.content
    assert snapshots.snapshots_for("message", [snap.citations.get().object_id]) == {}


def test_private_link_in_a_message_is_refused_not_fetched(circle, moderator, site, send, settings):
    settings.QUANZI_SNAPSHOT_ALLOWED_TEST_HOSTS = []
    send(moderator, circle.main_group, "metadata http://169.254.169.254/latest/meta-data/ and http://127.0.0.1/")
    statuses = dict(LinkSnapshot.objects.values_list("url", "failure_reason"))
    assert all(reason.startswith("forbidden_address") for reason in statuses.values()), statuses
    assert len(statuses) == 2


def test_snapshot_page_survives_the_source_and_checks_permission(circle, admin, member, moderator, outsider,
                                                                   site, send):
    url = site.url("/article")
    send(admin, circle.main_group, url)
    snap = LinkSnapshot.objects.get()
    site.routes.clear()  # the page and its images are gone from the web
    site.close()
    page_url = reverse("archive_snapshot", args=[circle.slug, snap.id])
    response = login(member).get(page_url)
    body = response.content.decode()
    assert response.status_code == 200
    assert "早起打卡指南" in body and "Consistency beats intensity" in body
    assert "Archived on" in body and f'href="{url}"' in body
    image = login(member).get(reverse("archive_snapshot_image", args=[circle.slug, snap.id, 0]))
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert b"".join(image.streaming_content) == png_bytes((10, 200, 10), (120, 60))
    assert "sandbox" in image["Content-Security-Policy"]
    assert login(member).get(reverse("archive_snapshot_image", args=[circle.slug, snap.id, 7])).status_code == 404
    assert login(outsider).get(page_url).status_code == 404
    assert Client().get(page_url).status_code == 302  # to the login page
    circle_actions.do_leave_circle(user=member, circle=circle)
    assert login(member).get(page_url).status_code == 404
    assert login(moderator).get(page_url).status_code == 200


def test_snapshot_cited_only_in_a_dm_is_private_to_its_participants(circle, owner, member, moderator, site, send):
    dm = dms.do_start_dm(actor=moderator, circle=circle, user_id=member.id)
    send(moderator, dm, site.url("/article"))
    snap = LinkSnapshot.objects.get()
    page_url = reverse("archive_snapshot", args=[circle.slug, snap.id])
    assert login(member).get(page_url).status_code == 200
    assert login(moderator).get(page_url).status_code == 200
    assert login(owner).get(page_url).status_code == 404
    assert login(owner).get(reverse("archive_snapshot_image", args=[circle.slug, snap.id, 0])).status_code == 404
    assert search(owner, circle, "坚持三十天").hits == []


def test_edit_and_delete_update_citations(circle, member, moderator, site, send, django_capture_on_commit_callbacks):
    message = send(moderator, circle.main_group, site.url("/article"))
    snap = LinkSnapshot.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        chat_actions.do_edit_message(actor=moderator, message_id=message.id, body="no link any more")
    assert not SnapshotCitation.objects.exists()
    assert login(member).get(reverse("archive_snapshot", args=[circle.slug, snap.id])).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        chat_actions.do_edit_message(actor=moderator, message_id=message.id, body=f"back: {site.url('/article')}")
    assert SnapshotCitation.objects.count() == 1 and LinkSnapshot.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        chat_actions.do_delete_message(actor=moderator, message_id=message.id)
    assert not SnapshotCitation.objects.exists()
    assert LinkSnapshot.objects.filter(id=snap.id, status=SnapshotStatus.OK).exists()  # the copy stays


def test_fetch_runs_once_per_snapshot(circle, moderator, site, send):
    send(moderator, circle.main_group, site.url("/article"))
    snap = LinkSnapshot.objects.get()
    assert snapshots.fetch_snapshot(snap.id) == "skipped"
    assert LinkSnapshot.objects.get().attempts == 1


def test_link_card_template(circle, moderator, site, send):
    message = send(moderator, circle.main_group, site.url("/article"))
    [snap] = snapshots.snapshots_for("message", [message.id])[message.id]
    html = render_to_string("archive/_link_card.html", {"snapshot": snap, "circle": circle})
    assert reverse("archive_snapshot", args=[circle.slug, snap.id]) in html
    assert reverse("archive_snapshot_image", args=[circle.slug, snap.id, 0]) in html
    assert "早起打卡指南" in html and "How to wake up early" in html and "RunClub" in html


def test_hostile_html_does_not_break_extraction(circle, member, moderator, snapshot_server, archive_dir, send):
    snapshot_server.page("/weird", "<html><head><title>\x00<script>alert(1)</script></title></head>"
                                   "<body>" + "<div>" * 5000 + "text" + "</div>" * 10 + "</body></html>")
    send(moderator, circle.main_group, snapshot_server.url("/weird"))
    snap = LinkSnapshot.objects.get()
    assert snap.status in (SnapshotStatus.OK, SnapshotStatus.FAILED)
    response = login(member).get(reverse("archive_snapshot", args=[circle.slug, snap.id]))
    assert response.status_code == 200 and b"<script>alert(1)" not in response.content


def test_unused_blob_rows_not_created_for_refused_images(circle, moderator, site, send):
    send(moderator, circle.main_group, site.url("/article"))
    assert Blob.objects.count() == 2


def test_link_api(circle, owner, member, moderator, outsider, site, send):
    from api.helpers import ApiClient, assert_error

    message = send(moderator, circle.main_group, site.url("/article"))
    dm = dms.do_start_dm(actor=moderator, circle=circle, user_id=owner.id)
    private = send(moderator, dm, site.url("/article"))
    snap = LinkSnapshot.objects.get()
    api = ApiClient(member)
    response = api.get(f"/api/circles/{circle.slug}/links/{snap.id}")
    assert response.status_code == 200
    assert response.data["title"] == "早起打卡指南" and "Consistency" in response.data["text"]
    assert response.data["image_urls"][0] == reverse("archive_snapshot_image", args=[circle.slug, snap.id, 0])
    assert response.data["page_url"] == reverse("archive_snapshot", args=[circle.slug, snap.id])
    cards = api.get(f"/api/circles/{circle.slug}/links?kind=message&ids={message.id},{private.id},999999")
    assert cards.status_code == 200
    assert [item["object_id"] for item in cards.data["items"]] == [message.id]  # not the DM it can't see
    assert cards.data["items"][0]["links"][0]["id"] == snap.id
    assert_error(api.get(f"/api/circles/{circle.slug}/links?kind=secret&ids=1"), 400, "invalid_kind")
    assert_error(api.get(f"/api/circles/{circle.slug}/links?kind=message&ids=x"), 400, "invalid_ids")
    assert_error(api.get(f"/api/circles/{circle.slug}/links?kind=message&ids=" + ",".join(["1"] * 101)), 400,
                 "invalid_ids")
    assert_error(ApiClient(outsider).get(f"/api/circles/{circle.slug}/links/{snap.id}"), 404, "circle_not_found")
    chat_actions.do_delete_message(actor=moderator, message_id=message.id)
    snapshots.uncite(kind="message", object_id=message.id)
    assert_error(api.get(f"/api/circles/{circle.slug}/links/{snap.id}"), 404, "link_not_found")
    assert ApiClient(owner).get(f"/api/circles/{circle.slug}/links/{snap.id}").status_code == 200


def test_links_of_held_content_are_not_fetched_until_approved(circle, moderator, site, send,
                                                              django_capture_on_commit_callbacks):
    from quanzi.chat.models import Message, ModerationState
    from quanzi.core.content import content_saved

    message = send(moderator, circle.main_group, "before")
    Message.objects.filter(id=message.id).update(body=site.url("/article"), moderation_state=ModerationState.HELD)
    content_saved.send(sender=Message, kind="message", object_id=message.id, circle_id=circle.id,
                       text=site.url("/article"), created=False)
    assert not LinkSnapshot.objects.exists() and site.requests == []
    Message.objects.filter(id=message.id).update(moderation_state=ModerationState.VISIBLE)
    content_saved.send(sender=Message, kind="message", object_id=message.id, circle_id=circle.id,
                       text=site.url("/article"), created=False)
    assert LinkSnapshot.objects.get().status == SnapshotStatus.OK
