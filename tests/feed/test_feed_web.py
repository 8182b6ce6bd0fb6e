"""Feed pages: reading, composing, detail with comments and replies, htmx buttons, time zone, errors."""

from __future__ import annotations

import pytest
from django.urls import reverse

from quanzi.circles import actions as circle_actions
from quanzi.feed import actions
from quanzi.feed.models import Comment, Post
from quanzi.feed.selectors import encode_cursor

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(client, circle, admin, moderator, member):
    for user in (admin, moderator, member):
        circle_actions.do_finish_onboarding(user=user, circle=circle)

    def login(user):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return login


def test_feed_page_compose_and_read(web, circle, member, admin):
    c = web(member)
    page = c.get(reverse("feed", args=[circle.slug]))
    assert page.status_code == 200
    assert b'name="body"' in page.content and b'class="active"' in page.content
    r = c.post(reverse("feed_post_create", args=[circle.slug]),
               {"body": "Hello **world** <script>x</script>", "title": "Hi", "tags": "读书, running"})
    assert r.status_code == 302
    post = Post.objects.get()
    assert post.tags == ["读书", "running"]
    page = c.get(reverse("feed", args=[circle.slug])).content.decode()
    assert "<strong>world</strong>" in page and "<script>x" not in page
    assert f'id="post-{post.id}"' in page and "#读书" in page


def test_compose_error_keeps_text(web, circle, member):
    c = web(member)
    r = c.post(reverse("feed_post_create", args=[circle.slug]), {"body": "kept text", "tags": "bad tag!"})
    assert r.status_code == 302 and not Post.objects.exists()
    page = c.get(reverse("feed", args=[circle.slug])).content.decode()
    assert "kept text" in page and "not a valid tag" in page


def test_members_can_post_off_hides_compose(web, circle, member, moderator):
    circle.members_can_post = False
    circle.save(update_fields=["members_can_post"])
    assert b'name="body"' not in web(member).get(reverse("feed", args=[circle.slug])).content
    assert web(member).post(reverse("feed_post_create", args=[circle.slug]), {"body": "x"}).status_code == 403
    assert b'name="body"' in web(moderator).get(reverse("feed", args=[circle.slug])).content


def test_load_more_with_cursor_and_bad_cursor(web, circle, member):
    for i in range(25):
        actions.do_create_post(actor=member, circle=circle, body=f"post number {i}")
    c = web(member)
    first = c.get(reverse("feed", args=[circle.slug])).content.decode()
    assert "post number 24" in first and "post number 4<" not in first and 'id="feed-more"' in first
    cursor = first.split("cursor=")[1].split('"')[0]
    more = c.get(reverse("feed", args=[circle.slug]) + f"?cursor={cursor}", HTTP_HX_REQUEST="true").content.decode()
    assert "post number 4<" in more and "<html" not in more and "post number 24" not in more
    for nonsense in ("nonsense", encode_cursor(0, 10**18, 1)):  # the second: digits past year 9999
        bad = c.get(reverse("feed", args=[circle.slug]) + f"?cursor={nonsense}")
        assert bad.status_code == 400 and b"not valid" in bad.content


def test_featured_view_and_tag_filter(web, circle, member, admin):
    a = actions.do_create_post(actor=member, circle=circle, body="alpha", tags=["x"])
    actions.do_create_post(actor=member, circle=circle, body="beta")
    c = web(admin)
    r = c.post(reverse("feed_post_flag", args=[circle.slug, a.id, "feature"]), HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and b"Unfeature" in r.content
    featured = c.get(reverse("feed", args=[circle.slug]) + "?featured=1").content.decode()
    assert "alpha" in featured and "beta" not in featured
    tagged = c.get(reverse("feed", args=[circle.slug]) + "?tag=x").content.decode()
    assert "alpha" in tagged and "beta" not in tagged
    assert web(member).post(reverse("feed_post_flag", args=[circle.slug, a.id, "pin"]),
                            HTTP_HX_REQUEST="true").status_code == 403


def test_detail_comments_replies_and_likes(web, circle, member, admin):
    post = actions.do_create_post(actor=admin, circle=circle, body="read me")
    c = web(member)
    r = c.post(reverse("feed_comment_create", args=[circle.slug, post.id]), {"body": "first!"})
    top = Comment.objects.get()
    assert r.status_code == 302 and r["Location"].endswith(f"#comment-{top.id}")
    c.post(reverse("feed_comment_create", args=[circle.slug, post.id]), {"body": "a reply", "reply_to": top.id})
    page = c.get(reverse("feed_post", args=[circle.slug, post.id])).content.decode()
    assert "first!" in page and "a reply" in page and "comment-reply" in page
    like = c.post(reverse("feed_post_like", args=[circle.slug, post.id]), {"liked": "1"}, HTTP_HX_REQUEST="true")
    assert like.status_code == 200 and "1 like" in like.content.decode()
    assert 'aria-pressed="true"' in like.content.decode()
    unlike = c.post(reverse("feed_post_like", args=[circle.slug, post.id]), {"liked": "0"}, HTTP_HX_REQUEST="true")
    assert "0 likes" in unlike.content.decode()
    cl = c.post(reverse("feed_comment_like", args=[circle.slug, top.id]), HTTP_HX_REQUEST="true")
    assert cl.status_code == 200
    empty = c.post(reverse("feed_comment_create", args=[circle.slug, post.id]), {"body": " "}, HTTP_HX_REQUEST="true")
    assert empty.status_code == 400


def test_edit_and_delete(web, circle, member, moderator):
    post = actions.do_create_post(actor=member, circle=circle, body="draft")
    c = web(member)
    assert c.get(reverse("feed_post_edit", args=[circle.slug, post.id])).status_code == 200
    r = c.post(reverse("feed_post_edit", args=[circle.slug, post.id]), {"body": "final", "visibility": "members"})
    assert r.status_code == 302
    post.refresh_from_db()
    assert post.body == "final"
    bad = c.post(reverse("feed_post_edit", args=[circle.slug, post.id]), {"body": "", "visibility": "members"})
    assert bad.status_code == 400
    assert web(moderator).get(reverse("feed_post_edit", args=[circle.slug, post.id])).status_code == 403
    r = web(moderator).post(reverse("feed_post_delete", args=[circle.slug, post.id]), HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    post.refresh_from_db()
    assert post.deleted_at is not None
    assert web(member).get(reverse("feed_post", args=[circle.slug, post.id])).status_code == 404


def test_times_in_circle_time_zone(web, circle, owner, member):
    circle_actions.do_update_circle(actor=owner, circle=circle, timezone="Asia/Shanghai")
    post = actions.do_create_post(actor=member, circle=circle, body="tz")
    local = post.created_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    assert local in web(member).get(reverse("feed", args=[circle.slug])).content.decode()


def test_chinese_ui(web, circle, member):
    c = web(member)
    c.cookies["django_language"] = "zh-hans"
    page = c.get(reverse("feed", args=[circle.slug]), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "发布" in page


def test_outsider_and_anonymous(web, circle, outsider):
    assert web(outsider).get(reverse("feed", args=[circle.slug])).status_code == 404
    r = web(None).get(reverse("feed", args=[circle.slug]))
    assert r.status_code == 302 and "login" in r["Location"]
