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
    real = pagejson.page_result

    def counting(*args, **kwargs):
        state.pages += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(pagejson, "page_result", counting)
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
    return {"author": author, "payer": payer, "plan": plan, "other": other}


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
    "cursor=not-a-cursor", f"cursor={encode_cursor(2, 5, 5)}", f"cursor={encode_cursor(0, 10**18, 1)}",
    f"cursor={encode_cursor(1, 5)}", "limit=0",
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


# --- a token's next page in one statement (pagejson.bearer_page), read for the reader of its last page ---


@pytest.fixture(autouse=True)
def _no_remembered_readers(monkeypatch):
    """Each test starts with no token's last reader remembered (they live in the process)."""
    monkeypatch.setattr(fastfeed, "_last_readers", {})


def _two_pages(api, monkeypatch, url=f"{BASE}?limit=2"):
    """A first page (remembers the reader) and the next one, each compared with the operation's."""
    first = api.get(url)
    _same(first, _operation(api, url, monkeypatch))
    following = f"{url}&cursor={first.json()['next_cursor']}"
    return first, following


def test_a_tokens_next_page_is_one_statement(api_as, rich_feed, member, lane, monkeypatch,
                                             django_assert_num_queries):
    api = api_as(member)
    api.get("/api/me")  # last_used_at written: measure the steady state
    _first, following = _two_pages(api, monkeypatch)
    with django_assert_num_queries(1):
        second = api.get(following)
    _same(second, _operation(api, following, monkeypatch))
    assert len(second.json()["items"]) == 2 and lane.pages == 2
    assert len(fastfeed._last_readers) == 1  # one token, one circle


@pytest.mark.parametrize("change", ["promoted", "demoted", "bought a plan", "paid period ended"])
def test_a_changed_reader_gets_the_page_read_again(api_as, rich_feed, member, moderator, owner, lane, monkeypatch,
                                                     django_assert_num_queries, change):
    """The page read for the remembered reader is not used when the token's viewer differs: role or plans changed."""
    from quanzi.payments import actions as payment_actions

    user = {"promoted": member, "demoted": moderator, "bought a plan": rich_feed["payer"],
            "paid period ended": rich_feed["payer"]}[change]
    api = api_as(user)
    api.get("/api/me")
    first, following = _two_pages(api, monkeypatch, f"{BASE}?limit=3")
    circle = rich_feed["plan"].circle
    if change == "promoted":
        circle_actions.do_set_role(actor=owner, circle=circle, user_id=member.id, role="moderator")
    elif change == "demoted":
        circle_actions.do_set_role(actor=owner, circle=circle, user_id=moderator.id, role="member")
    elif change == "bought a plan":
        order = payment_actions.do_create_order(user=user, circle=circle, plan_id=rich_feed["other"].id,
                                                provider="manual", idempotency_key="m").order
        payment_actions.do_mark_order_paid(order=order)
    else:
        from quanzi.circles.models import Membership

        Membership.objects.filter(circle=circle, user=user).update(paid_until=timezone.now() - timedelta(days=1))
    before = fastfeed._last_readers[(next(iter(fastfeed._last_readers))[0], "runners")]
    with django_assert_num_queries(2):  # token + the page for the old reader, then the page for the new one
        second = api.get(following)
    _same(second, _operation(api, following, monkeypatch))
    after = fastfeed._last_readers[(next(iter(fastfeed._last_readers))[0], "runners")]
    assert after != before  # the new reader is remembered for the page after
    _, pages_left = _walk(api, following, monkeypatch)
    assert pages_left.status_code == 200
    # The whole feed from the start, now with the new reader remembered, equals the operation's.
    _walk(api, f"{BASE}?limit=4", monkeypatch)


@pytest.mark.parametrize("change", ["kicked", "banned", "left", "revoked", "deactivated"])
def test_a_reader_refused_since_the_last_page_gets_the_operations_answer(api_as, member, owner, circle, post_as, lane,
                                                                        monkeypatch, change):
    for i in range(5):
        post_as(member, f"p{i}")
    api = api_as(member)
    first, following = _two_pages(api, monkeypatch)
    assert fastfeed._last_readers
    if change == "kicked":
        circle_actions.do_kick_member(actor=owner, circle=circle, user_id=member.id)
    elif change == "banned":
        circle_actions.do_ban_member(actor=owner, circle=circle, user_id=member.id)
    elif change == "left":
        circle_actions.do_leave_circle(user=member, circle=circle)
    elif change == "revoked":
        account_actions.do_revoke_token(user=member, token_id=ApiToken.objects.get(user=member).id)
    else:
        type(member).objects.filter(id=member.id).update(is_active=False)
    pages = lane.pages
    fast, slow = api.get(following), _operation(api, following, monkeypatch)
    _same(fast, slow)
    assert fast.status_code in (401, 404), fast.content
    assert lane.pages == pages  # not written by the lane
    assert not fastfeed._last_readers  # and forgotten


def test_an_empty_page_in_one_statement(api_as, circle, member, post_as, lane, monkeypatch):
    post_as(member, "only one")
    api = api_as(member)
    api.get(BASE)  # remembers the reader
    far = encode_cursor(0, 1, 1)  # before every post: the joined page has no row
    fast = api.get(f"{BASE}?cursor={far}")
    _same(fast, _operation(api, f"{BASE}?cursor={far}", monkeypatch))
    assert fast.json() == {"items": [], "next_cursor": None} and lane.pages == 2


def test_remembered_readers_are_bounded(api_as, circle, member, moderator, admin, post_as, monkeypatch):
    post_as(member, "hello")
    monkeypatch.setattr(fastfeed, "REMEMBERED_READERS", 2)
    for user in (member, moderator, admin):
        assert api_as(user).get(BASE).status_code == 200
    assert len(fastfeed._last_readers) == 1  # the third forgot the first two
    assert api_as(member).get(BASE).json() == api_as(member).get(BASE).json()


def test_a_stale_guess_of_another_circle_is_not_used(api_as, circle, member, post_as, lane, monkeypatch):
    """A remembered (circle, reader) that does not match the token's circle is only a guess: the page is read again."""
    post_as(member, "hello")
    api = api_as(member)
    api.get(BASE)
    key = next(iter(fastfeed._last_readers))
    circle_id, reader = fastfeed._last_readers[key]
    fastfeed._last_readers[key] = (circle_id + 1000, reader)
    _same(api.get(BASE), _operation(api, BASE, monkeypatch))
    fastfeed._last_readers[key] = (circle_id, reader._replace(moderator=True))
    fast = api.get(BASE)
    _same(fast, _operation(api, BASE, monkeypatch))
    assert fastfeed._last_readers[key] == (circle_id, reader)
