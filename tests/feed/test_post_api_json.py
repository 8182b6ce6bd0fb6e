"""``Post.api_json``, the post's JSON object kept by database triggers (migration feed 0002).

Whatever writes a post — an action, ``QuerySet.update``, ``Model.save`` with a stale copy, a cascade,
``bulk_create`` — the stored object must equal the API's answer for the post's own fields. A future
migration that makes SQLite rebuild the table would drop its triggers: the last test catches that.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from quanzi.chat.models import ModerationState
from quanzi.circles.models import Membership
from quanzi.feed import actions, fastsql, selectors
from quanzi.feed.models import Post
from quanzi.feed.rules import Viewer

pytestmark = pytest.mark.django_db

READER_KEYS = {"liked", "author", "attachments", "can_edit", "can_delete"}  # not the post's own fields


def _expected(post_id: int, owner) -> dict:
    """The API's object of the post (read the ORM way, encoded as the API encodes), minus the reader's keys."""
    post = Post.objects.get(id=post_id)
    viewer = Viewer(Membership.objects.get(circle_id=post.circle_id, user=owner))
    rows = fastsql.post_rows(post.circle_id, viewer, limit=1, post_id=post.id)
    (item,) = selectors.post_dicts(rows, viewer, post.circle_id)
    return {k: v for k, v in json.loads(json.dumps(item, cls=DjangoJSONEncoder)).items() if k not in READER_KEYS}


def _stored(post_id: int) -> dict:
    return json.loads(Post.objects.values_list("api_json", flat=True).get(id=post_id))


def _check(post_id: int, owner) -> None:
    assert _stored(post_id) == _expected(post_id, owner)


def test_every_kind_of_write_keeps_the_object_current(circle, owner, member, paid_plans):
    _plan, other, _payer = paid_plans()
    post = actions.do_create_post(actor=member, circle=circle, body='**早起** "q" \\ <b>', title="标题",
                                  tags=["晨跑", "Notes"])
    _check(post.id, owner)

    actions.do_edit_post(actor=member, circle=circle, post_id=post.id, body="edited 编辑", title="", tags=[])
    _check(post.id, owner)
    assert _stored(post.id)["body"] == "edited 编辑" and _stored(post.id)["edited_at"] is not None

    actions.do_like_post(actor=owner, circle=circle, post_id=post.id)
    actions.do_create_comment(actor=owner, circle=circle, post_id=post.id, body="nice")
    actions.do_set_pinned(actor=owner, circle=circle, post_id=post.id, pinned=True)
    actions.do_set_featured(actor=owner, circle=circle, post_id=post.id, featured=True)
    stored = _stored(post.id)
    assert (stored["like_count"], stored["comment_count"], stored["pinned"], stored["featured"]) == (1, 1, True, True)
    _check(post.id, owner)

    # QuerySet.update, as moderation and the fixtures do; odd timestamps (whole seconds, microseconds).
    Post.objects.filter(id=post.id).update(moderation_state=ModerationState.HELD,
                                           created_at=datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
                                           edited_at=datetime(2026, 3, 1, 8, 5, 0, 999_999, tzinfo=UTC))
    assert _stored(post.id)["moderation_state"] == "held"
    assert (_stored(post.id)["created_at"], _stored(post.id)["edited_at"]) == (
        "2026-03-01T08:00:00Z", "2026-03-01T08:05:00.999Z")
    _check(post.id, owner)

    # Model.save() writes every column, api_json included, from a copy read before the update above.
    stale = Post.objects.get(id=post.id)
    Post.objects.filter(id=post.id).update(like_count=7)
    stale.title = "saved"
    stale.like_count = 9
    stale.save()
    assert (_stored(post.id)["title"], _stored(post.id)["like_count"]) == ("saved", 9)
    _check(post.id, owner)

    # A cascade the application does not run: deleting a plan sets its posts' plan_id to NULL.
    planned = actions.do_create_post(actor=owner, circle=circle, body="plan only", visibility="plan",
                                     plan_id=other.id)
    assert _stored(planned.id)["plan_id"] == other.id
    other.delete()
    assert _stored(planned.id)["plan_id"] is None
    _check(planned.id, owner)


def test_bulk_created_posts_get_their_object(circle, owner):
    made = Post.objects.bulk_create([
        Post(circle=circle, author=owner, body=f"b{i}", body_html=f"<p>b{i}</p>", tags=["t"] if i else [],
             created_at=timezone.now()) for i in range(3)
    ])
    ids = [p.id for p in made] if made[0].id else list(Post.objects.order_by("id").values_list("id", flat=True))
    for post_id in ids:
        _check(post_id, owner)
    assert _stored(ids[0])["tags"] == []


def test_the_triggers_are_installed():
    if connection.vendor == "postgresql":
        sql = "SELECT tgname FROM pg_trigger WHERE tgrelid = 'feed_post'::regclass AND NOT tgisinternal"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'feed_post'"
    with connection.cursor() as cursor:
        cursor.execute(sql)
        names = {row[0] for row in cursor.fetchall()}
    expected = ({"feed_post_api_json"} if connection.vendor == "postgresql"
                else {"feed_post_api_json_insert", "feed_post_api_json_update"})
    assert expected <= names, f"the triggers that keep Post.api_json are gone (a table rebuild?): {names}"
