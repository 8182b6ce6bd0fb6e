"""Cursor pages: order, ties on equal timestamps, pinned first, and a fixed number of queries per page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from quanzi.circles import actions as circle_actions
from quanzi.circles.access import get_membership
from quanzi.feed import actions, selectors
from quanzi.feed.models import Comment, Post, PostLike
from quanzi.feed.rules import Viewer
from quanzi.moderation import actions as moderation_actions

pytestmark = pytest.mark.django_db


def _walk(circle, viewer, limit, **kw):
    ids, cursor, pages = [], None, 0
    while True:
        page = selectors.feed_page(circle, viewer, cursor=cursor, limit=limit, **kw)
        ids += [p["id"] for p in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            return ids, pages
        assert pages < 100


def test_equal_timestamps_pinned_first_no_duplicates_or_misses(circle, owner, member, admin, post_as):
    # Paging, not screening: filler texts like "post 18" must not be held by the spam model here.
    moderation_actions.do_update_policy(actor=owner, circle=circle, enabled=False)
    posts = [post_as(member, f"post {i}") for i in range(23)]
    same = timezone.now() - timedelta(hours=1)
    # Seven posts share one timestamp exactly: only the id breaks the tie.
    Post.objects.filter(id__in=[p.id for p in posts[5:12]]).update(created_at=same)
    for p in (posts[2], posts[20]):
        actions.do_set_pinned(actor=admin, circle=circle, post_id=p.id, pinned=True)
    viewer = Viewer(get_membership(circle, member))
    expected = list(
        Post.objects.filter(circle=circle).order_by("-pinned", "-created_at", "-id").values_list("id", flat=True)
    )
    assert expected[:2] == [posts[20].id, posts[2].id]
    for limit in (1, 2, 3, 5, 7, 23, 50):
        ids, pages = _walk(circle, viewer, limit)
        assert ids == expected, limit
        assert pages == -(-23 // limit) if limit < 23 else pages == 1


def test_posts_arriving_between_pages_do_not_shift_the_cursor(circle, member, post_as):
    for i in range(6):
        post_as(member, f"p{i}")
    viewer = Viewer(get_membership(circle, member))
    first = selectors.feed_page(circle, viewer, limit=3)
    post_as(member, "newer")  # lands on top, not in the next page
    second = selectors.feed_page(circle, viewer, limit=3, cursor=first.next_cursor)
    assert len({p["id"] for p in first.items} | {p["id"] for p in second.items}) == 6
    assert "newer" not in [p["body"] for p in second.items]


def test_featured_and_tag_pages(circle, member, admin, post_as):
    tagged = [post_as(member, f"t{i}", tags=["读书"]) for i in range(5)]
    for i in range(5):
        post_as(member, f"u{i}")
    for p in tagged[:3]:
        actions.do_set_featured(actor=admin, circle=circle, post_id=p.id, featured=True)
    viewer = Viewer(get_membership(circle, member))
    assert _walk(circle, viewer, 2, tag="读书")[0] == [p.id for p in reversed(tagged)]
    assert _walk(circle, viewer, 2, featured=True)[0] == [p.id for p in reversed(tagged[:3])]


def _rich_feed(circle, authors, post_as, n=12):
    for i in range(n):
        author = authors[i % len(authors)]
        post = post_as(author, f"**post** {i}", title=f"T{i}", tags=["a", "b", f"t{i}"])
        for liker in authors:
            actions.do_like_post(actor=liker, circle=circle, post_id=post.id)
        actions.do_create_comment(actor=authors[0], circle=circle, post_id=post.id, body="c")


@pytest.mark.parametrize("who", ["member", "moderator"])
def test_feed_page_query_count_is_fixed(circle, member, moderator, admin, post_as, api_as, who,
                                        django_assert_num_queries, make_attachment):
    _rich_feed(circle, [member, moderator, admin], post_as)
    for post in Post.objects.all()[:4]:
        make_attachment(post)
    user = {"member": member, "moderator": moderator}[who]
    api = api_as(user)
    api.get("/api/me")  # the token's first use writes last_used_at; measure the steady state
    # The fast lane (api/fastfeed.py): token + circle + membership + paid plans (one statement), then the
    # page as JSON (posts, authors, the reader's likes, attachments, authors' roles for moderators); from
    # the token's second page on, both in one statement.
    url = "/api/circles/runners/posts?limit=5"
    with django_assert_num_queries(2):
        first = api.get(url)
    assert len(first.data["items"]) == 5
    with django_assert_num_queries(1):
        second = api.get(url + f"&cursor={first.data['next_cursor']}")
    assert len(second.data["items"]) == 5
    # A repeated parameter goes to django-ninja's operation: token, then circle + membership + plans,
    # posts, attachments, author roles (moderators only).
    with django_assert_num_queries({"member": 4, "moderator": 5}[who]):
        last = api.get(url + f"&cursor={second.data['next_cursor']}&limit=50")
    assert len(last.data["items"]) == 2
    assert sum(len(p["attachments"]) for p in first.data["items"] + second.data["items"] + last.data["items"]) > 0


def test_comment_page_query_count_is_fixed(circle, member, admin, post_as, api_as, django_assert_num_queries):
    post = post_as(admin)
    top = [actions.do_create_comment(actor=member, circle=circle, post_id=post.id, body=f"c{i}") for i in range(6)]
    for c in top:
        actions.do_create_comment(actor=admin, circle=circle, post_id=post.id, body="r", reply_to_id=c.id)
        actions.do_like_comment(actor=admin, circle=circle, comment_id=c.id)
    api = api_as(member)
    api.get("/api/me")
    url = f"/api/circles/runners/posts/{post.id}/comments?limit=4"
    # token, circle, membership, plans, post, comments, likes
    with django_assert_num_queries(7):
        page = api.get(url)
    with django_assert_num_queries(7):
        api.get(url + f"&cursor={page.data['next_cursor']}")
    assert Comment.objects.count() == 12
    assert PostLike.objects.count() == 0


@pytest.mark.parametrize("who", ["member", "moderator", "author", "payer"])
def test_raw_sql_visibility_matches_the_orm_rule(circle, member, moderator, admin, make_user, post_as, paid_plans,
                                                who):
    from quanzi.chat.models import ModerationState

    author = make_user("author")
    circle_actions.do_join_circle(user=author, circle=circle)  # before the circle becomes paid
    plan, other, payer = paid_plans()
    for vis, plan_id in (("members", None), ("moderators", None), ("plan", plan.id), ("plan", other.id)):
        for state in ModerationState.values:
            for writer in (admin, author):
                p = post_as(writer, f"{vis} {state}", visibility=vis, plan_id=plan_id)
                Post.objects.filter(id=p.id).update(moderation_state=state)
    user = {"member": member, "moderator": moderator, "author": author, "payer": payer}[who]
    viewer = Viewer(get_membership(circle, user))
    orm = list(selectors.visible_posts(circle, viewer).order_by("-pinned", "-created_at", "-id")
               .values_list("id", flat=True))
    raw = _walk(circle, viewer, 50)[0]
    assert raw == orm and len(orm) > 0


def test_deep_page_is_an_index_range_scan(circle, member, post_as):
    """The page query walks the partial index in order (no sort, no scan of the circle's posts)."""
    from datetime import UTC, datetime

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from quanzi.feed import fastsql

    for i in range(5):
        post_as(member, f"p{i}")
    viewer = Viewer(get_membership(circle, member))
    with CaptureQueriesContext(connection) as ctx:
        fastsql.post_rows(circle.id, viewer, after=(False, datetime(2030, 1, 1, tzinfo=UTC), 10**9), limit=21)
    sql, params = ctx.captured_queries[0]["sql"], None
    # The page is cut inside a subquery before the authors are joined (the outer ORDER BY sorts the
    # page's 21 rows): the inner SELECT is what must walk the index without sorting the circle.
    assert ") p LEFT JOIN" in sql and sql.count("LIMIT") == 1
    sql = sql[sql.index("FROM (") + len("FROM ("):sql.rindex(") p LEFT JOIN")]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")  # a 5-row table would be scanned otherwise
            # and on 5 rows the planner may as well read the circle_id index and sort: with sorting
            # disabled, a plan without a Sort exists only if the stream index gives the feed's order.
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(r[0] for r in cursor.fetchall())
            assert "feed_post_stream" in plan and "Sort" not in plan, plan
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = "\n".join(str(r[-1]) for r in cursor.fetchall())
            assert "USING INDEX feed_post_stream" in plan and "TEMP B-TREE" not in plan, plan


@pytest.mark.parametrize("pinned", [False, True])
def test_postgresql_estimates_a_cursor_page_as_a_page(circle, member, post_as, pinned):
    """A deep page's custom plan must not be estimated at one row (see ``fastsql.page_where``).

    Estimated at one row, it looked far cheaper than the generic plan of the prepared statement, so
    PostgreSQL planned every execution anew; the estimate must be the page (the LIMIT), as the
    generic plan's is.
    """
    from datetime import UTC, datetime

    from django.db import connection

    from quanzi.feed import fastsql

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite prepares no generic plans")
    for i in range(60):
        post_as(member, f"p{i}")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE feed_post")
    viewer = Viewer(get_membership(circle, member))
    params: list = []
    after = (pinned, datetime(2030, 1, 1, tzinfo=UTC), 10**9)
    where = fastsql.page_where(circle.id, viewer, params, after=after)
    sql = fastsql.page_sql("p.id", where, 21)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    plan = plan[0]["Plan"] if isinstance(plan, list) else plan["Plan"]
    assert plan["Plan Rows"] >= 20, plan
