"""The API feed page's fast lane (api/fastfeed.py, feed/pagejson.py) against django-ninja's operation.

Every page the lane answers must equal the operation's answer (same JSON values, status and headers
that matter), for every kind of post and reader; every request the lane does not take must get
exactly the operation's answer, errors included.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from quanzi.accounts import actions as account_actions
from quanzi.accounts.models import ApiToken
from quanzi.api import fastfeed
from quanzi.archive.models import Blob, CircleFile
from quanzi.chat.models import ModerationState
from quanzi.circles import actions as circle_actions
from quanzi.core.errors import NotFound
from quanzi.feed import actions, pagejson
from quanzi.feed.models import Post, PostAttachment
from quanzi.feed.selectors import encode_cursor

pytestmark = pytest.mark.django_db

BASE = "/api/circles/runners/posts"


@pytest.fixture
def lane(monkeypatch):
    """Counts the pages the fast lane wrote; ``lane.off()`` sends every request to the operation."""

    class Lane:
        pages = 0

        def off(self):
            return monkeypatch.context()

    state = Lane()
    real = pagejson.page_json

    def counting(*args, **kwargs):
        state.pages += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(pagejson, "page_json", counting)
    return state


def _operation(api, url, monkeypatch):
    """The answer of django-ninja's operation alone (the lane switched off)."""
    with monkeypatch.context() as m:
        m.setattr(fastfeed, "feed_page", lambda request, slug: None)
        return api.get(url)


def _same(fast, slow):
    assert fast.status_code == slow.status_code, (fast.content[:300], slow.content[:300])
    assert fast.json() == slow.json()
    for header in ("Content-Type", "Content-Language", "Vary"):
        assert fast.get(header) == slow.get(header), header


def _file(post, position, *, thumbnail=False, deleted=False):
    n = CircleFile.objects.count() + 1
    blob = Blob.objects.create(sha256=f"{n:064x}", size=100 + n, content_type="image/png", storage_key=f"k{n}")
    f = CircleFile.objects.create(circle_id=post.circle_id, uploader_id=post.author_id, blob=blob, name=f"图{n}.png",
                                  kind="image", attached_kind="post", attached_id=post.id,
                                  thumbnail=blob if thumbnail else None,
                                  deleted_at=timezone.now() if deleted else None)
    PostAttachment.objects.create(post=post, file=f, position=position)


@pytest.fixture
def rich_feed(circle, owner, admin, moderator, member, make_user, paid_plans):
    """Posts of every kind: plans, moderation states, pins, features, tags, files, odd timestamps."""
    author = make_user("author", display_name="作者 Ann")
    gone = make_user("gone")
    for user in (author, gone):
        circle_actions.do_join_circle(user=user, circle=circle)
    type(author).objects.filter(id=author.id).update(avatar="avatars/ann.png")
    plan, other, payer = paid_plans()

    def post(user, body, **fields):
        return actions.do_create_post(actor=user, circle=circle, body=body, **fields)

    made = []
    base = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    micro = [0, 999_999, 500, 123_456, 1_000]
    for i in range(24):
        writer = [admin, author, member, gone, moderator][i % 5]
        vis, plan_id = [("members", None), ("members", None), ("moderators", None), ("plan", plan.id),
                        ("plan", other.id), ("members", None)][i % 6]
        tags = [["晨跑", "Running"], [], ["notes"]][i % 3]
        p = post(writer, f"**{i}** 早起打卡 \"quoted\" \\ <b>&amp;</b> \u2028 https://example.com/{i}",
                 title=f"标题 {i}" if i % 2 else "", tags=tags, visibility=vis, plan_id=plan_id)
        moment = base + timedelta(hours=i, microseconds=micro[i % len(micro)])
        if i in (7, 8):
            moment = base + timedelta(hours=7)  # a tie on created_at: broken by id
        edited = moment + timedelta(minutes=5, microseconds=micro[(i + 2) % 5]) if i % 4 == 0 else None
        Post.objects.filter(id=p.id).update(created_at=moment, edited_at=edited)
        made.append(p)
    Post.objects.filter(id=made[3].id).update(moderation_state=ModerationState.HELD)
    Post.objects.filter(id=made[6].id).update(moderation_state=ModerationState.HELD)  # by author
    Post.objects.filter(id=made[11].id).update(moderation_state=ModerationState.REMOVED)
    Post.objects.filter(id=made[9].id).update(deleted_at=timezone.now())
    Post.objects.filter(id__in=[made[2].id, made[20].id]).update(pinned=True, pinned_at=timezone.now())
    Post.objects.filter(id__in=[made[0].id, made[5].id, made[20].id]).update(featured=True)
    Post.objects.filter(id=made[13].id).update(tags=[])
    _file(made[0], position=2, thumbnail=True)
    _file(made[0], position=1)  # shown first: position, not id
    _file(made[0], position=3, deleted=True)  # a deleted file drops out
    _file(made[10], position=0)
    for p in made[::3]:
        for liker in (member, payer, moderator):
            with contextlib.suppress(NotFound):  # a post this liker may not see
                actions.do_like_post(actor=liker, circle=circle, post_id=p.id)
    type(gone).objects.filter(id=gone.id).delete()  # posts keep a null author
    return {"author": author, "payer": payer, "plan": plan}


def _walk(api, url, monkeypatch):
    """Follow next_cursor through the whole feed, comparing each page with the operation's."""
    pages, cursor = 0, None
    while True:
        page_url = url + (f"&cursor={cursor}" if cursor else "")
        fast = api.get(page_url)
        _same(fast, _operation(api, page_url, monkeypatch))
        pages += 1
        cursor = fast.json()["next_cursor"]
        if cursor is None:
            return pages, fast


@pytest.mark.parametrize("who", ["member", "moderator", "admin", "owner", "payer", "author"])
def test_every_page_equals_the_operations(api_as, rich_feed, member, moderator, admin, owner, who, lane,
                                          monkeypatch):
    user = {"member": member, "moderator": moderator, "admin": admin, "owner": owner, **rich_feed}[who]
    api = api_as(user)
    for query in ("limit=3", "limit=50", "limit=4&featured=true", f"limit=2&tag={quote('晨跑')}", "featured=0",
                  "tag=running&limit=1"):
        before = lane.pages
        pages, _last = _walk(api, f"{BASE}?{query}", monkeypatch)
        assert lane.pages - before == pages, query  # each page came from the lane
    everything = api.get(f"{BASE}?limit=50").json()["items"]
    files = next(p["attachments"] for p in everything if len(p["attachments"]) > 1)
    assert [(f["name"], f["thumbnail_url"] is not None) for f in files] == [("图2.png", False), ("图1.png", True)]
    times = {p["created_at"] for p in everything}
    assert "2026-03-01T08:00:00Z" in times  # a whole second: no fraction
    edits = {None, "2026-03-01T08:05:00.000Z"}  # not edited; edited 500 µs after a whole second
    assert {p["edited_at"] for p in everything} & edits == edits
    if who in ("moderator", "admin", "owner"):  # they see every post
        assert any(t.endswith(".999Z") for t in times) and any(t.endswith(".000Z") for t in times)
        assert any(p["author"] is None for p in everything)
        assert any(p["author"] and p["author"]["avatar"] for p in everything)


def test_pages_without_a_page_of_posts(api_as, circle, member, lane, monkeypatch):
    api = api_as(member)
    _same(api.get(BASE), _operation(api, BASE, monkeypatch))
    assert api.get(BASE).json() == {"items": [], "next_cursor": None}
    far = encode_cursor(0, 1, 1)  # before every post
    _same(api.get(f"{BASE}?cursor={far}"), _operation(api, f"{BASE}?cursor={far}", monkeypatch))
    assert lane.pages == 3


@pytest.fixture
def odd_users(circle, owner, make_user):
    """Users whose token or membership the lane must not accept."""
    outsider = make_user("outsider2")
    kicked = make_user("kicked")
    banned = make_user("banned")
    inactive = make_user("inactive")
    revoked = make_user("revoked")
    for user in (kicked, banned, inactive, revoked):
        circle_actions.do_join_circle(user=user, circle=circle)
    circle_actions.do_kick_member(actor=owner, circle=circle, user_id=kicked.id)
    circle_actions.do_ban_member(actor=owner, circle=circle, user_id=banned.id)
    return {"outsider": outsider, "kicked": kicked, "banned": banned, "inactive": inactive, "revoked": revoked}


@pytest.mark.parametrize("who", ["outsider", "kicked", "banned", "inactive", "revoked"])
def test_refused_readers_get_the_operations_answer(api_as, odd_users, member, post_as, who, lane, monkeypatch):
    post_as(member, "members only")
    user = odd_users[who]
    api = api_as(user)
    if who == "inactive":
        type(user).objects.filter(id=user.id).update(is_active=False)
    if who == "revoked":
        account_actions.do_revoke_token(user=user, token_id=ApiToken.objects.get(user=user).id)
    fast, slow = api.get(BASE), _operation(api, BASE, monkeypatch)
    _same(fast, slow)
    assert fast.status_code in (401, 404), fast.content
    assert lane.pages == 0


@pytest.mark.parametrize("query", [
    "cursor=not-a-cursor", f"cursor={encode_cursor(2, 5, 5)}", f"cursor={encode_cursor(1, 5)}", "limit=0",
    "limit=51", "limit=abc", "limit=5.0", "limit=%205", "limit=0005", "featured=maybe", "featured=True",
    "featured=yes", "tag=%21%21%21", "tag=" + "x" * 80, "limit=2&limit=3", "cursor=&limit=2", "unknown=1",
    "tag=&featured=false",
])
def test_odd_parameters_get_the_operations_answer(api_as, member, post_as, query, lane, monkeypatch):
    for i in range(4):
        post_as(member, f"p{i}", tags=["notes"])
    api = api_as(member)
    url = f"{BASE}?{query}"
    fast, slow = api.get(url), _operation(api, url, monkeypatch)
    _same(fast, slow)


@pytest.mark.parametrize("header", ["Bearer qz_not-a-real-token", "Bearer ", "bearer", "Bearer " + "qz_" + "x" * 200,
                                    "Token qz_abc", "Basic Zm9vOmJhcg=="])
def test_bad_authorization_gets_the_operations_answer(api_as, member, post_as, header, lane, monkeypatch):
    post_as(member, "hello")
    api = api_as(None)
    api.token = None
    fast = api.client.get(BASE, headers={"Authorization": header})
    with monkeypatch.context() as m:
        m.setattr(fastfeed, "feed_page", lambda request, slug: None)
        slow = api.client.get(BASE, headers={"Authorization": header})
    _same(fast, slow)
    assert fast.status_code == 401
    assert lane.pages == 0


def test_token_case_and_spaces_as_the_operation_reads_them(api_as, member, post_as, lane):
    post_as(member, "hello")
    api = api_as(member)
    for header in (f"bearer {api.token}", f"BEARER {api.token}", f"Bearer  {api.token} "):
        r = api.client.get(BASE, headers={"Authorization": header})
        assert r.status_code == 200 and len(r.json()["items"]) == 1
    assert lane.pages == 3


def test_lane_records_token_use_and_the_readers_language(api_as, member, post_as, lane):
    post_as(member, "hello")
    api = api_as(member)
    type(member).objects.filter(id=member.id).update(language="zh-hans")
    token = ApiToken.objects.get(user=member)
    ApiToken.objects.filter(id=token.id).update(last_used_at=timezone.now() - timedelta(hours=2))
    r = api.get(BASE)
    assert r.status_code == 200 and lane.pages == 1
    assert r["Content-Language"] == "zh-hans"
    token.refresh_from_db()
    assert timezone.now() - token.last_used_at < timedelta(minutes=1)
    r = api.client.get(BASE, headers={"Authorization": f"Bearer {api.token}", "Accept-Language": "en"})
    assert r["Content-Language"] == "en" and lane.pages == 2


def test_other_methods_and_the_session_take_the_operation(api_as, client, member, post_as, lane, monkeypatch):
    api = api_as(member)
    created = api.post(BASE, {"body": "through ninja"})
    assert created.status_code == 201, created.content
    client.force_login(member)
    by_session = client.get(BASE)
    assert by_session.status_code == 200
    assert by_session.json() == api.get(BASE).json()
    assert lane.pages == 1  # only the bearer GET
    assert api.call("put", BASE).status_code == 405


def test_reversing_the_operation_gives_the_lanes_path():
    from django.urls import resolve, reverse

    path = reverse("api:list_posts", kwargs={"slug": "runners"})
    assert path == BASE
    assert resolve(path).url_name == "feed_page_fast_lane"


def test_the_lane_refuses_to_start_without_its_route():
    with pytest.raises(RuntimeError, match="list_posts"):
        fastfeed.route([])
