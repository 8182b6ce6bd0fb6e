"""The feed API: posts, comments, likes, pins, features, visibility and bad input."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from api.helpers import assert_error

from quanzi.circles import actions as circle_actions
from quanzi.core.models import AuditEntry
from quanzi.feed.models import Post
from quanzi.feed.selectors import encode_cursor

pytestmark = pytest.mark.django_db

BASE = "/api/circles/runners"


def test_member_publishes_and_reads_a_post(api_as, member, admin):
    api = api_as(member)
    r = api.post(f"{BASE}/posts", {"body": "**Run** at 6", "title": " Morning  run ", "tags": ["#Running", "晨跑"]})
    assert r.status_code == 201, r.data
    post = r.data
    assert post["title"] == "Morning run"
    assert post["html"] == "<p><strong>Run</strong> at 6</p>"
    assert post["tags"] == ["running", "晨跑"]
    assert post["author"]["username"] == "member"
    assert post["can_edit"] and post["can_delete"] and not post["liked"]
    feed = api_as(admin).get(f"{BASE}/posts")
    assert feed.status_code == 200
    assert [p["id"] for p in feed.data["items"]] == [post["id"]]
    assert feed.data["next_cursor"] is None
    got = api_as(admin).get(f"{BASE}/posts/{post['id']}")
    assert got.data["can_delete"] and not got.data["can_edit"]


def _unsafe_parts(html: str) -> list[str]:
    """Tags outside the allow-list, on* attributes and non-http(s) links found by a real HTML parser."""
    found: list[str] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag not in {"p", "br", "em", "strong", "code", "pre", "a", "ul", "ol", "li", "blockquote", "span"}:
                found.append(tag)
            for name, value in attrs:
                if name.startswith("on") or name in {"style", "src"}:
                    found.append(name)
                if name == "href" and not (value or "").startswith(("http://", "https://", "mailto:")):
                    found.append(f"href={value}")

    Parser().feed(html)
    return found


@pytest.mark.parametrize("body", [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    '<a href="#" onclick="steal()">x</a>',
    "<svg onload=alert(1)>",
])
def test_injection_is_stripped(api_as, member, body):
    r = api_as(member).post(f"{BASE}/posts", {"body": body, "title": body[:100]})
    assert r.status_code == 201
    assert _unsafe_parts(r.data["html"]) == []
    comment = api_as(member).post(f"{BASE}/posts/{r.data['id']}/comments", {"body": body})
    assert comment.status_code == 201
    assert _unsafe_parts(comment.data["html"]) == []
    assert _unsafe_parts('<p><a href="javascript:x" onclick="y">z</a><script></script></p>') != []  # it bites


@pytest.mark.parametrize(("payload", "code"), [
    ({"body": ""}, "empty_post"),
    ({"body": "   \n "}, "empty_post"),
    ({"body": "x" * 20_001}, "too_long"),
    ({"body": "ok", "title": "t" * 201}, "invalid_title"),
    ({"body": "ok", "tags": ["no spaces allowed"]}, "invalid_tag"),
    ({"body": "ok", "tags": ["bad!tag"]}, "invalid_tag"),
    ({"body": "ok", "tags": ["<b>"]}, "invalid_tag"),
    ({"body": "ok", "tags": ["x" * 31]}, "invalid_tag"),
    ({"body": "ok", "tags": [f"t{i}" for i in range(11)]}, "too_many_tags"),
    ({"body": "ok", "visibility": "everyone"}, "invalid_visibility"),
    ({"body": "ok", "visibility": "plan"}, "invalid_plan"),
    ({"body": "ok", "visibility": "plan", "plan_id": 999999}, "invalid_plan"),
    ({"body": "ok", "attachments": ["nope"]}, "invalid_attachment"),
])
def test_bad_post_input_is_refused_and_nothing_stored(api_as, member, payload, code):
    r = api_as(member).post(f"{BASE}/posts", payload)
    assert_error(r, 400, code)
    assert not Post.objects.exists()


def test_invalid_cursor_is_400(api_as, member, post_as):
    post_as(member)
    api = api_as(member)
    past_9999 = encode_cursor(0, 10**18, 1)  # decodes, but is no datetime (was a server error)
    for cursor in ("garbage!", "MTIz", "x" * 200, "LTEuMi4z", "Mi4xLjE", past_9999):
        assert_error(api.get(f"{BASE}/posts", cursor=cursor), 400, "invalid_cursor")
    assert_error(api.get(f"{BASE}/posts/999999/comments", cursor="MS4yLjM"), 404, "post_not_found")
    pid = Post.objects.get().id
    assert_error(api.get(f"{BASE}/posts/{pid}/comments", cursor="MS4yLjM"), 400, "invalid_cursor")
    assert api.get(f"{BASE}/posts", limit=0).status_code == 422
    assert api.get(f"{BASE}/posts", limit=51).status_code == 422


def test_members_can_post_off_restricts_to_moderators(api_as, owner, circle, member, moderator):
    circle.members_can_post = False
    circle.save(update_fields=["members_can_post"])
    assert_error(api_as(member).post(f"{BASE}/posts", {"body": "hi"}), 403, "posting_restricted")
    assert api_as(moderator).post(f"{BASE}/posts", {"body": "hi"}).status_code == 201
    # members still comment and like
    pid = Post.objects.get().id
    assert api_as(member).post(f"{BASE}/posts/{pid}/comments", {"body": "nice"}).status_code == 201
    assert api_as(member).post(f"{BASE}/posts/{pid}/like").status_code == 200


def test_outsider_and_banned_get_404(api_as, owner, circle, member, outsider, post_as):
    post = post_as(member)
    circle_actions.do_ban_member(actor=owner, circle=circle, user_id=member.id, reason="spam")
    for user in (outsider, member):
        api = api_as(user)
        assert_error(api.get(f"{BASE}/posts"), 404, "circle_not_found")
        assert_error(api.get(f"{BASE}/posts/{post.id}"), 404, "circle_not_found")
        assert_error(api.post(f"{BASE}/posts", {"body": "x"}), 404, "circle_not_found")
    assert_error(api_as(None).get(f"{BASE}/posts"), 401, "not_authenticated")


def test_muted_member_reads_but_cannot_write(api_as, owner, circle, member, admin, post_as):
    post = post_as(admin)
    circle_actions.do_mute_member(actor=owner, circle=circle, user_id=member.id, minutes=30)
    api = api_as(member)
    assert api.get(f"{BASE}/posts").status_code == 200
    assert_error(api.post(f"{BASE}/posts", {"body": "x"}), 403, "muted")
    assert_error(api.post(f"{BASE}/posts/{post.id}/comments", {"body": "x"}), 403, "muted")


def test_visibility_moderators_only(api_as, member, moderator, admin, post_as):
    secret = post_as(admin, "mods only", visibility="moderators")
    public = post_as(admin, "for all")
    ids = [p["id"] for p in api_as(member).get(f"{BASE}/posts").data["items"]]
    assert ids == [public.id]
    assert_error(api_as(member).get(f"{BASE}/posts/{secret.id}"), 404, "post_not_found")
    assert_error(api_as(member).post(f"{BASE}/posts/{secret.id}/like"), 404, "post_not_found")
    assert_error(api_as(member).post(f"{BASE}/posts/{secret.id}/comments", {"body": "hi"}), 404, "post_not_found")
    ids = [p["id"] for p in api_as(moderator).get(f"{BASE}/posts").data["items"]]
    assert ids == [public.id, secret.id]


def test_author_sees_own_restricted_post(api_as, member, post_as):
    own = post_as(member, "only mods and me", visibility="moderators")
    assert [p["id"] for p in api_as(member).get(f"{BASE}/posts").data["items"]] == [own.id]


def test_edit_and_soft_delete(api_as, member, moderator, admin, owner, post_as, circle):
    post = post_as(member, "first")
    api = api_as(member)
    r = api.patch(f"{BASE}/posts/{post.id}", {"body": "second *take*", "tags": ["a"]})
    assert r.status_code == 200 and r.data["html"] == "<p>second <em>take</em></p>" and r.data["tags"] == ["a"]
    assert r.data["edited_at"]
    assert_error(api_as(admin).patch(f"{BASE}/posts/{post.id}", {"body": "hijack"}), 403, "not_author")
    assert_error(api.patch(f"{BASE}/posts/{post.id}", {"body": ""}), 400, "empty_post")
    # a moderator may not delete an admin's post, but may delete a member's (audited)
    admins = post_as(admin, "admin's")
    assert_error(api_as(moderator).delete(f"{BASE}/posts/{admins.id}"), 403, "higher_role")
    assert_error(api.delete(f"{BASE}/posts/{admins.id}"), 403, "not_author")
    r = api_as(moderator).delete(f"{BASE}/posts/{post.id}", reason="off-topic")
    assert r.status_code == 200
    post.refresh_from_db()
    assert post.deleted_at is not None and post.deleted_by == moderator  # soft delete: the row stays
    entry = AuditEntry.objects.get(action="feed.post_delete")
    assert entry.actor == moderator and entry.target_user == member and entry.reason == "off-topic"
    assert_error(api.get(f"{BASE}/posts/{post.id}"), 404, "post_not_found")
    assert [p["id"] for p in api.get(f"{BASE}/posts").data["items"]] == [admins.id]
    # own deletion: no audit row
    mine = post_as(member, "mine")
    assert api.delete(f"{BASE}/posts/{mine.id}").status_code == 200
    assert AuditEntry.objects.filter(action="feed.post_delete").count() == 1
    assert api_as(owner).delete(f"{BASE}/posts/{admins.id}").status_code == 200


def test_like_is_idempotent(api_as, member, admin, post_as):
    post = post_as(admin)
    api = api_as(member)
    assert api.post(f"{BASE}/posts/{post.id}/like").data == {"liked": True, "like_count": 1}
    assert api.post(f"{BASE}/posts/{post.id}/like").data == {"liked": True, "like_count": 1}
    assert api.get(f"{BASE}/posts/{post.id}").data["liked"] is True
    assert api_as(admin).get(f"{BASE}/posts/{post.id}").data["liked"] is False
    assert api.delete(f"{BASE}/posts/{post.id}/like").data == {"liked": False, "like_count": 0}
    assert api.delete(f"{BASE}/posts/{post.id}/like").data == {"liked": False, "like_count": 0}


def test_pin_and_feature_by_admins(api_as, member, moderator, admin, post_as):
    old = post_as(member, "old")
    new = post_as(member, "new")
    assert_error(api_as(member).post(f"{BASE}/posts/{old.id}/pin"), 403, "insufficient_role")
    assert_error(api_as(moderator).post(f"{BASE}/posts/{old.id}/feature"), 403, "insufficient_role")
    assert api_as(admin).post(f"{BASE}/posts/{old.id}/pin").data["pinned"] is True
    assert [p["id"] for p in api_as(member).get(f"{BASE}/posts").data["items"]] == [old.id, new.id]
    assert api_as(admin).post(f"{BASE}/posts/{new.id}/feature").data["featured"] is True
    feat = api_as(member).get(f"{BASE}/posts", featured="true").data["items"]
    assert [p["id"] for p in feat] == [new.id]
    assert api_as(admin).delete(f"{BASE}/posts/{old.id}/pin").data["pinned"] is False
    assert [p["id"] for p in api_as(member).get(f"{BASE}/posts").data["items"]] == [new.id, old.id]
    assert AuditEntry.objects.filter(action__in=["feed.post_pin", "feed.post_unpin", "feed.post_feature"]).count() == 3


def test_tag_filter(api_as, member, post_as):
    a = post_as(member, "a", tags=["跑步", "morning"])
    post_as(member, "b", tags=["evening"])
    api = api_as(member)
    assert [p["id"] for p in api.get(f"{BASE}/posts", tag="跑步").data["items"]] == [a.id]
    assert [p["id"] for p in api.get(f"{BASE}/posts", tag="Morning").data["items"]] == [a.id]
    assert_error(api.get(f"{BASE}/posts", tag="bad tag!"), 400, "invalid_tag")


def test_comments_and_replies_thread(api_as, member, admin, moderator, post_as):
    post = post_as(admin)
    api = api_as(member)
    c1 = api.post(f"{BASE}/posts/{post.id}/comments", {"body": "first"}).data
    c2 = api_as(admin).post(f"{BASE}/posts/{post.id}/comments", {"body": "second"}).data
    r1 = api_as(admin).post(f"{BASE}/posts/{post.id}/comments", {"body": "reply", "reply_to": c1["id"]}).data
    r2 = api.post(f"{BASE}/posts/{post.id}/comments", {"body": "reply to reply", "reply_to": r1["id"]}).data
    assert r1["parent_id"] == c1["id"] and r2["parent_id"] == c1["id"] and r2["reply_to_user"] == "admin"
    items = api.get(f"{BASE}/posts/{post.id}/comments").data["items"]
    assert [c["id"] for c in items] == [c1["id"], r1["id"], r2["id"], c2["id"]]
    # paginated two at a time: same order, nothing missed or repeated
    seen, cursor = [], None
    while True:
        page = api.get(f"{BASE}/posts/{post.id}/comments", limit=2, **({"cursor": cursor} if cursor else {})).data
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [c1["id"], r1["id"], r2["id"], c2["id"]]
    assert api.get(f"{BASE}/posts/{post.id}").data["comment_count"] == 4
    assert_error(api.post(f"{BASE}/posts/{post.id}/comments", {"body": ""}), 400, "empty_comment")
    assert_error(api.post(f"{BASE}/posts/{post.id}/comments", {"body": "x" * 5001}), 400, "too_long")
    assert_error(api.post(f"{BASE}/posts/{post.id}/comments", {"body": "x", "reply_to": 999999}), 404,
                 "comment_not_found")
    # likes on comments
    assert api.post(f"{BASE}/comments/{c2['id']}/like").data == {"liked": True, "like_count": 1}
    # deletion: author yes, other member no, moderator on member yes (audited)
    assert_error(api_as(moderator).delete(f"{BASE}/comments/{c2['id']}"), 403, "higher_role")
    assert_error(api.delete(f"{BASE}/comments/{c2['id']}"), 403, "not_author")
    assert api_as(moderator).delete(f"{BASE}/comments/{r2['id']}").status_code == 200
    assert AuditEntry.objects.filter(action="feed.comment_delete").count() == 1
    assert api.delete(f"{BASE}/comments/{c1['id']}").status_code == 200
    items = api.get(f"{BASE}/posts/{post.id}/comments").data["items"]
    assert [c["id"] for c in items] == [r1["id"], c2["id"]]
    assert api.get(f"{BASE}/posts/{post.id}").data["comment_count"] == 2
