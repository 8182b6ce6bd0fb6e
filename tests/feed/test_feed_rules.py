"""Visibility by paid plan, moderation states, content signals, events and the archive's visibility hook."""

from __future__ import annotations

import pytest

from quanzi.archive.access import visible_attached
from quanzi.chat.models import ModerationState
from quanzi.circles.access import get_membership
from quanzi.core.content import content_removed, content_saved
from quanzi.feed import actions, selectors
from quanzi.feed.models import Comment, Post
from quanzi.feed.rules import Viewer, held_plan_ids
from quanzi.payments import actions as payment_actions

pytestmark = pytest.mark.django_db


def _paid(circle, user, plan):
    order = payment_actions.do_create_order(user=user, circle=circle, plan_id=plan.id, provider="manual",
                                            idempotency_key=f"k-{user.id}-{plan.id}").order
    return payment_actions.do_mark_order_paid(order=order)


def _ids(circle, user, **kw):
    return [p["id"] for p in selectors.feed_page(circle, Viewer(get_membership(circle, user)), **kw).items]


def test_plan_visibility(circle, owner, admin, member, moderator, make_user, post_as, api_as):
    yearly = payment_actions.do_create_plan(actor=owner, circle=circle, name="Yearly", kind="yearly", amount=9900)
    monthly = payment_actions.do_create_plan(actor=owner, circle=circle, name="Monthly", kind="monthly", amount=990)
    payer = make_user("payer")
    _paid(circle, payer, yearly)
    assert held_plan_ids(get_membership(circle, payer)) == {yearly.id}
    for_yearly = post_as(admin, "yearly only", visibility="plan", plan_id=yearly.id)
    for_monthly = post_as(admin, "monthly only", visibility="plan", plan_id=monthly.id)
    everyone = post_as(admin, "all")
    assert _ids(circle, payer) == [everyone.id, for_yearly.id]
    assert _ids(circle, member) == [everyone.id]
    assert _ids(circle, moderator) == [everyone.id, for_monthly.id, for_yearly.id]
    assert selectors.can_view_post(payer, for_yearly) and not selectors.can_view_post(payer, for_monthly)
    r = api_as(payer).get(f"/api/circles/runners/posts/{for_monthly.id}")
    assert r.status_code == 404
    # a refund ends holding the plan
    order = payer.orders.get()
    payment_actions.do_refund_order(actor=owner, order=order)
    assert _ids(circle, payer) in ([everyone.id], [])
    # free plans can't be chosen
    free = payment_actions.do_create_plan(actor=owner, circle=circle, name="Free", kind="free", amount=0)
    with pytest.raises(Exception) as info:
        post_as(admin, "x", visibility="plan", plan_id=free.id)
    assert getattr(info.value, "code", "") == "invalid_plan"


def test_held_and_removed_posts(circle, member, moderator, admin, make_user, post_as, api_as):
    held = post_as(member, "waiting")
    removed = post_as(member, "gone")
    shown = post_as(admin, "fine")
    Post.objects.filter(id=held.id).update(moderation_state=ModerationState.HELD)
    Post.objects.filter(id=removed.id).update(moderation_state=ModerationState.REMOVED)
    other = make_user("other")
    from quanzi.circles import actions as circle_actions

    circle_actions.do_join_circle(user=other, circle=circle)
    assert _ids(circle, other) == [shown.id]
    assert _ids(circle, member) == [shown.id, held.id]  # the author sees their held post (marked)
    items = api_as(member).get("/api/circles/runners/posts").data["items"]
    assert [p["moderation_state"] for p in items] == ["visible", "held"]
    assert _ids(circle, moderator) == [shown.id, removed.id, held.id]
    c = actions.do_create_comment(actor=member, circle=circle, post_id=shown.id, body="held comment")
    Comment.objects.filter(id=c.id).update(moderation_state=ModerationState.HELD)
    post = Post.objects.get(id=shown.id)
    assert selectors.comment_page(post, Viewer(get_membership(circle, other))).items == []
    assert len(selectors.comment_page(post, Viewer(get_membership(circle, member))).items) == 1
    assert len(selectors.comment_page(post, Viewer(get_membership(circle, moderator))).items) == 1
    assert not selectors.can_view_post(other, Post.objects.get(id=held.id))
    assert selectors.can_view_post(member, Post.objects.get(id=held.id))


def test_content_signals_after_commit(circle, member, moderator, django_capture_on_commit_callbacks):
    saved, removed = [], []

    def on_saved(sender, **kw):
        saved.append(kw)

    def on_removed(sender, **kw):
        removed.append(kw)

    content_saved.connect(on_saved)
    content_removed.connect(on_removed)
    try:
        with django_capture_on_commit_callbacks(execute=False) as pending:
            post = actions.do_create_post(actor=member, circle=circle, body="hello there", title="Hi")
        assert saved == []  # nothing before commit
        for callback in pending:
            callback()
        assert saved == [{"signal": content_saved, "kind": "post", "object_id": post.id, "circle_id": circle.id,
                          "text": "Hi\n\nhello there", "created": True}]
        with django_capture_on_commit_callbacks(execute=True):
            actions.do_edit_post(actor=member, circle=circle, post_id=post.id, body="edited")
            comment = actions.do_create_comment(actor=member, circle=circle, post_id=post.id, body="c")
            actions.do_delete_comment(actor=moderator, circle=circle, comment_id=comment.id)
            actions.do_delete_post(actor=member, circle=circle, post_id=post.id)
        assert [(s["kind"], s["created"]) for s in saved] == [("post", True), ("post", False), ("comment", True)]
        assert [(r["kind"], r["object_id"]) for r in removed] == [("comment", comment.id), ("post", post.id)]
    finally:
        content_saved.disconnect(on_saved)
        content_removed.disconnect(on_removed)


def test_domain_events(circle, member, admin, captured_events, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post = actions.do_create_post(actor=member, circle=circle, body="x", visibility="moderators")
        actions.do_set_featured(actor=admin, circle=circle, post_id=post.id, featured=True)
    types = [str(e.type) for e in captured_events]
    assert "post.created" in types and "post.featured" in types
    created = next(e for e in captured_events if e.type == "post.created")
    assert created.payload == {"post_id": post.id}  # no text in what every socket of the circle receives


def test_archive_asks_the_feed(circle, member, admin, make_user, post_as):
    open_post = post_as(admin, "open")
    mods = post_as(admin, "mods", visibility="moderators")
    assert visible_attached(member, "post", {open_post.id, mods.id, 999999}) == {open_post.id}
    assert visible_attached(admin, "post", {open_post.id, mods.id}) == {open_post.id, mods.id}
    assert visible_attached(make_user("stranger"), "post", {open_post.id}) == set()
    actions.do_delete_post(actor=admin, circle=circle, post_id=open_post.id)
    assert visible_attached(admin, "post", {open_post.id}) == set()
    assert selectors.can_view_post_ids(member, [mods.id, "x", -1]) == {mods.id: False}


def test_api_feed_fast_path_reads_plans_and_likes_like_the_rules(circle, owner, admin, member, make_user, post_as,
                                                                 api_as):
    """The API list reads membership + paid plans in one statement and likes with the posts: same answers."""
    from datetime import timedelta

    from django.utils import timezone

    from quanzi.payments.models import Order

    yearly = payment_actions.do_create_plan(actor=owner, circle=circle, name="Yearly", kind="yearly", amount=9900)
    monthly = payment_actions.do_create_plan(actor=owner, circle=circle, name="Monthly", kind="monthly", amount=990)
    payer = make_user("payer")
    _paid(circle, payer, yearly)
    _paid(circle, payer, monthly)
    for_yearly = post_as(admin, "yearly only", visibility="plan", plan_id=yearly.id)
    for_monthly = post_as(admin, "monthly only", visibility="plan", plan_id=monthly.id)
    everyone = post_as(admin, "all")
    actions.do_like_post(actor=payer, circle=circle, post_id=for_yearly.id)
    actions.do_like_post(actor=member, circle=circle, post_id=everyone.id)

    def listed(user):
        items = api_as(user).get("/api/circles/runners/posts").data["items"]
        return [(p["id"], p["liked"]) for p in items]

    assert held_plan_ids(get_membership(circle, payer)) == {yearly.id, monthly.id}
    assert listed(payer) == [(everyone.id, False), (for_monthly.id, False), (for_yearly.id, True)]
    assert listed(member) == [(everyone.id, True)]
    # the monthly order's granted period ended: that plan's posts go, in the rule and on the fast path
    Order.objects.filter(user=payer, plan=monthly).update(granted_until=timezone.now() - timedelta(seconds=1))
    assert held_plan_ids(get_membership(circle, payer)) == {yearly.id}
    assert listed(payer) == [(everyone.id, False), (for_yearly.id, True)]
    # a refund ends the other one
    payment_actions.do_refund_order(actor=owner, order=Order.objects.get(user=payer, plan=yearly))
    assert held_plan_ids(get_membership(circle, payer)) == frozenset()
    assert [pid for pid, _ in listed(payer)] == _ids(circle, payer) != []  # the refund may end a paid membership
    assert for_yearly.id not in _ids(circle, payer)
