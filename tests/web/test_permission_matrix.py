"""Every web URL × every kind of visitor, against a private circle.

The test fails when a URL pattern of ``quanzi.web.urls`` has no row (Zulip-style URL
coverage), so a new page can't ship without deciding who may see it. 302 to the login
page for anonymous visitors, 404 for people outside a private circle (as if it did not
exist), 403 for members without the role.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, reverse

from quanzi.accounts import actions as account_actions
from quanzi.circles import actions as circle_actions
from quanzi.web import urls as web_urls

ROLES = ["anon", "outsider", "member", "moderator", "admin", "owner"]
LOGIN = "login"  # expected: a redirect to the login page

ALL_MEMBERS = {"member": 200, "moderator": 200, "admin": 200, "owner": 200}
ADMINS_ONLY = {"member": 403, "moderator": 403, "admin": 200, "owner": 200}
MODS_UP = {"member": 403, "moderator": 200, "admin": 200, "owner": 200}
MEMBERS_REDIRECT = {"member": 302, "moderator": 302, "admin": 302, "owner": 302}

# name: (method, htmx, args, {role: status}); missing roles in the dict default below.
MATRIX = {
    "home": ("get", False, lambda w: [], {"anon": 200, "outsider": 200, **ALL_MEMBERS}),
    "circle_create": ("get", False, lambda w: [], {"anon": LOGIN, "outsider": 200, **ALL_MEMBERS}),
    "circle": ("get", False, lambda w: [w.slug], {"anon": 404, "outsider": 404, **ALL_MEMBERS}),
    "members": ("get", False, lambda w: [w.slug], {"anon": 404, "outsider": 404, **ALL_MEMBERS}),
    "welcome": ("get", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **ALL_MEMBERS}),
    "room": ("get", False, lambda w: [w.slug, w.main], {"anon": LOGIN, "outsider": 404, **ALL_MEMBERS}),
    "circle_settings": ("get", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **ADMINS_ONLY}),
    "audit": ("get", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **ADMINS_ONLY}),
    "invites": ("get", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **ADMINS_ONLY}),
    "join_requests": ("get", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **MODS_UP}),
    "join": ("get", False, lambda w: [w.invite_code], {"anon": 200, "outsider": 200, **ALL_MEMBERS}),
    "notices": ("get", False, lambda w: [], {"anon": LOGIN, "outsider": 200, **ALL_MEMBERS}),
    "profile": ("get", False, lambda w: [], {"anon": LOGIN, "outsider": 200, **ALL_MEMBERS}),
    "tokens": ("get", False, lambda w: [], {"anon": LOGIN, "outsider": 200, **ALL_MEMBERS}),
    "circle_join": ("post", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **MEMBERS_REDIRECT}),
    "circle_leave": ("post", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **MEMBERS_REDIRECT}),
    "channel_follow": ("post", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **MEMBERS_REDIRECT}),
    "welcome_done": ("post", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **MEMBERS_REDIRECT}),
    "member_action": (
        "post", True, lambda w: [w.slug, w.victim, "mute"],
        {"anon": LOGIN, "outsider": 404, "member": 403, "moderator": 200, "admin": 200, "owner": 200},
    ),
    "group_create": (
        "post", False, lambda w: [w.slug],
        {"anon": LOGIN, "outsider": 404, "member": 403, "moderator": 403, "admin": 302, "owner": 302},
    ),
    "circle_avatar": (
        "post", False, lambda w: [w.slug],
        {"anon": LOGIN, "outsider": 404, "member": 403, "moderator": 403, "admin": 302, "owner": 302},
    ),
    "join_request_decide": (
        "post", True, lambda w: [w.slug, w.request_id], {"anon": LOGIN, "outsider": 404, **MODS_UP},
    ),
    "invite_revoke": ("post", True, lambda w: [w.slug, w.invite_id], {"anon": LOGIN, "outsider": 404, **ADMINS_ONLY}),
    "group_join": ("post", False, lambda w: [w.slug, w.side], {"anon": LOGIN, "outsider": 404, **MEMBERS_REDIRECT}),
    "group_leave": ("post", False, lambda w: [w.slug, w.side], {"anon": LOGIN, "outsider": 404, **MEMBERS_REDIRECT}),
    "group_settings": (
        "post", False, lambda w: [w.slug, w.main], {"anon": LOGIN, "outsider": 404, **MEMBERS_REDIRECT},
    ),
    "notices_read": ("post", False, lambda w: [], {"anon": LOGIN, "outsider": 302, **MEMBERS_REDIRECT}),
    "token_revoke": (
        "post", False, lambda w: [w.token_id],
        {"anon": LOGIN, "outsider": 404, "member": 404, "moderator": 404, "admin": 404, "owner": 302},
    ),
    # Paid circles (web/payment_views.py). The world's circle has a yearly plan and the applicant's
    # pending manual order; the posted data is incomplete, so forms answer 400 / a redirect with an error.
    "order_create": ("post", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **MEMBERS_REDIRECT}),
    "payment_settings": ("get", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **ADMINS_ONLY}),
    "revenue": ("get", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **ADMINS_ONLY}),
    "plan_create": (
        "post", False, lambda w: [w.slug],
        {"anon": LOGIN, "outsider": 404, "member": 403, "moderator": 403, "admin": 400, "owner": 400},
    ),
    "plan_update": (
        "post", False, lambda w: [w.slug, w.plan_id],
        {"anon": LOGIN, "outsider": 404, "member": 403, "moderator": 403, "admin": 400, "owner": 400},
    ),
    "plan_archive": (
        "post", False, lambda w: [w.slug, w.plan_id],
        {"anon": LOGIN, "outsider": 404, "member": 403, "moderator": 403, "admin": 302, "owner": 302},
    ),
    "manual_confirm": (
        "post", False, lambda w: [w.slug, w.order_id],
        {"anon": LOGIN, "outsider": 404, "member": 403, "moderator": 403, "admin": 302, "owner": 302},
    ),
    "payout_request": (
        "post", False, lambda w: [w.slug],
        {"anon": LOGIN, "outsider": 404, "member": 403, "moderator": 403, "admin": 403, "owner": 400},
    ),
    "my_orders": ("get", False, lambda w: [], {"anon": LOGIN, "outsider": 200, **ALL_MEMBERS}),
    "wallet": ("get", False, lambda w: [], {"anon": LOGIN, "outsider": 200, **ALL_MEMBERS}),
    "my_order": (
        "get", False, lambda w: [w.order_id],
        {"anon": LOGIN, "outsider": 404, "member": 404, "moderator": 404, "admin": 200, "owner": 200},
    ),
    "order_refund": (
        "post", False, lambda w: [w.order_id],
        {"anon": LOGIN, "outsider": 404, "member": 404, "moderator": 404, "admin": 302, "owner": 302},
    ),
    "staff_payouts": (
        "get", False, lambda w: [], {"anon": LOGIN, "outsider": 403, "member": 403, "moderator": 403, "admin": 403,
                                     "owner": 403},
    ),
    "staff_payout_decide": (
        "post", False, lambda w: [1], {"anon": LOGIN, "outsider": 403, "member": 403, "moderator": 403,
                                       "admin": 403, "owner": 403},
    ),
}
# --- feed (rows owned by the feed work) ---
# Posts and comments are written by the admin unless said otherwise (created inside the row's args).


def _feed_post(w, author="admin"):
    from quanzi.circles.models import Circle
    from quanzi.feed import actions as feed_actions

    circle = Circle.objects.get(slug=w.slug)
    return feed_actions.do_create_post(actor=w.users[author], circle=circle, body="matrix post").id


def _feed_comment(w, author="admin"):
    from quanzi.circles.models import Circle
    from quanzi.feed import actions as feed_actions

    circle = Circle.objects.get(slug=w.slug)
    return feed_actions.do_create_comment(actor=w.users[author], circle=circle, post_id=_feed_post(w),
                                          body="matrix comment").id


MATRIX.update({
    "feed": ("get", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **ALL_MEMBERS}),
    "feed_post_create": ("post", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **MEMBERS_REDIRECT}),
    "feed_post": ("get", False, lambda w: [w.slug, _feed_post(w)], {"anon": LOGIN, "outsider": 404, **ALL_MEMBERS}),
    "feed_post_edit": (
        "get", False, lambda w: [w.slug, _feed_post(w, "owner")],
        {"anon": LOGIN, "outsider": 404, "member": 403, "moderator": 403, "admin": 403, "owner": 200},
    ),
    "feed_post_delete": ("post", True, lambda w: [w.slug, _feed_post(w)], {"anon": LOGIN, "outsider": 404,
                                                                          **ADMINS_ONLY}),
    "feed_post_like": ("post", True, lambda w: [w.slug, _feed_post(w)], {"anon": LOGIN, "outsider": 404,
                                                                        **ALL_MEMBERS}),
    "feed_post_flag": ("post", True, lambda w: [w.slug, _feed_post(w, "member"), "pin"],
                       {"anon": LOGIN, "outsider": 404, **ADMINS_ONLY}),
    "feed_comment_create": ("post", False, lambda w: [w.slug, _feed_post(w)],
                            {"anon": LOGIN, "outsider": 404, **MEMBERS_REDIRECT}),
    "feed_comment_delete": ("post", True, lambda w: [w.slug, _feed_comment(w)],
                            {"anon": LOGIN, "outsider": 404, **ADMINS_ONLY}),
    "feed_comment_like": ("post", True, lambda w: [w.slug, _feed_comment(w)],
                          {"anon": LOGIN, "outsider": 404, **ALL_MEMBERS}),
})
# --- archive (rows owned by the archive work) ---


def _web_file(w, *, image: bool = False) -> str:
    import io as _io

    from PIL import Image as _Image

    from quanzi.archive import actions as archive_actions
    from quanzi.circles.models import Circle

    data = _io.BytesIO()
    if image:
        _Image.new("RGB", (8, 8), "blue").save(data, format="PNG")
    else:
        data.write(b"%PDF-1.4\n%%EOF\n")
    data.name = "pic.png" if image else "doc.pdf"
    circle = Circle.objects.get(slug=w.slug)
    return archive_actions.do_upload_file(actor=w.users["member"], circle=circle, upload=data).public_id


def _web_export(w, *, done: bool = False) -> str:
    from django.core.files.base import ContentFile

    from quanzi.archive.models import CircleExport
    from quanzi.archive.storage import archive_storage
    from quanzi.circles.models import Circle

    export = CircleExport.objects.create(circle=Circle.objects.get(slug=w.slug), requested_by=w.users["owner"])
    if done:
        key = archive_storage().save(f"exports/test/{export.public_id}.zip", ContentFile(b"PK\x05\x06" + b"\0" * 18))
        CircleExport.objects.filter(id=export.id).update(status="done", storage_key=key, size=22)
    return export.public_id


OWNER_ONLY = {"member": 403, "moderator": 403, "admin": 403, "owner": 200}
MATRIX.update({
    "archive_files": ("get", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **ALL_MEMBERS}),
    "archive_file_upload": ("post", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **MEMBERS_REDIRECT}),
    "archive_file_delete": (
        "post", False, lambda w: [w.slug, _web_file(w)],
        {"anon": LOGIN, "outsider": 404, "member": 302, "moderator": 403, "admin": 302, "owner": 302},
    ),
    "archive_file_download": ("get", False, lambda w: [_web_file(w)], {"anon": 404, "outsider": 404, **ALL_MEMBERS}),
    "archive_file_thumbnail": (
        "get", False, lambda w: [_web_file(w, image=True)], {"anon": 404, "outsider": 404, **ALL_MEMBERS},
    ),
    "archive_export": ("get", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **OWNER_ONLY}),
    "archive_export_status": (
        "get", False, lambda w: [w.slug, _web_export(w)], {"anon": LOGIN, "outsider": 404, **OWNER_ONLY},
    ),
    "archive_export_download": (
        "get", False, lambda w: [w.slug, _web_export(w, done=True)], {"anon": LOGIN, "outsider": 404, **OWNER_ONLY},
    ),
})
# --- search (rows owned by the search work) ---


def _web_snapshot(w) -> int:
    """An archived link (with one stored image) cited by a message in the main group."""
    import io as _io

    from PIL import Image as _Image

    from quanzi.archive.models import LinkSnapshot, SnapshotCitation, SnapshotImage
    from quanzi.archive.storage import store_blob
    from quanzi.chat.models import Message

    data = _io.BytesIO()
    _Image.new("RGB", (8, 8), "green").save(data, format="PNG")
    blob = store_blob(data, content_type="image/png", width=8, height=8)
    message = Message.objects.create(group_id=w.main, author=w.users["member"], body="https://example.org/",
                                     body_html="")
    snap = LinkSnapshot.objects.create(circle_id=message.group.circle_id, url_key=f"{message.id:064d}",
                                       url="https://example.org/", status="ok", title="Example", image=blob)
    SnapshotImage.objects.create(snapshot=snap, blob=blob, position=0)
    SnapshotCitation.objects.create(snapshot=snap, kind="message", object_id=message.id)
    return snap.id


MATRIX.update({
    "search": ("get", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **ALL_MEMBERS}),
    "archive_snapshot": ("get", False, lambda w: [w.slug, _web_snapshot(w)],
                         {"anon": LOGIN, "outsider": 404, **ALL_MEMBERS}),
    "archive_snapshot_image": ("get", False, lambda w: [w.slug, _web_snapshot(w), 0],
                               {"anon": LOGIN, "outsider": 404, **ALL_MEMBERS}),
})
# --- chat DMs (rows owned by the chat DMs work) ---
MATRIX.update({
    "chat_dms": ("get", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **ALL_MEMBERS}),
    # Members are sent to the conversation (or back with the reason); people outside see no circle.
    "chat_dm_start": ("post", False, lambda w: [w.slug, w.victim], {"anon": LOGIN, "outsider": 404,
                                                                     **MEMBERS_REDIRECT}),
    # Blocking is about oneself, in no circle: anyone signed in.
    "chat_block": ("post", False, lambda w: [w.victim], {"anon": LOGIN, "outsider": 302, **MEMBERS_REDIRECT}),
    "chat_unblock": ("post", False, lambda w: [w.victim], {"anon": LOGIN, "outsider": 302, **MEMBERS_REDIRECT}),
})
# --- moderation (rows owned by the moderation work) ---


def _review_item(w) -> int:
    """The victim's message, reported by the owner: one pending item in the review queue."""
    from quanzi.chat import actions as chat_actions
    from quanzi.chat.models import Group
    from quanzi.circles.models import Circle
    from quanzi.moderation import actions as moderation_actions

    victim = Circle.objects.get(slug=w.slug).memberships.get(user_id=w.victim).user
    message = chat_actions.do_send_message(sender=victim, group=Group.objects.get(id=w.main), body="cheap shoes")
    return moderation_actions.do_report(reporter=w.users["owner"], circle=Circle.objects.get(slug=w.slug),
                                        kind="message", object_id=message.id).id


MATRIX.update({
    "moderation_queue": ("get", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **MODS_UP}),
    "moderation_decide": ("post", True, lambda w: [w.slug, _review_item(w)],
                          {"anon": LOGIN, "outsider": 404, **MODS_UP}),
    "moderation_settings": ("get", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **ADMINS_ONLY}),
    "moderation_trust": ("post", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, "member": 403,
                                                             "moderator": 403, "admin": 302, "owner": 302}),
    "moderation_report": ("post", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **MEMBERS_REDIRECT}),
})
# --- deposit settlement (rows owned by the settlement work) ---


def _web_deposit_challenge(w) -> int:
    from datetime import date, time

    from quanzi.checkins.models import Challenge
    from quanzi.circles.models import Circle

    circle = Circle.objects.get(slug=w.slug)
    return Challenge.objects.create(circle=circle, title="Deposits", start_date=date(2026, 3, 2),
                                    end_date=date(2026, 3, 8), window_start=time(6), window_end=time(9),
                                    days_to_complete=5, deposit_amount=1000).id


MATRIX.update({
    "checkins_settlement": (
        "get", False, lambda w: [w.slug, _web_deposit_challenge(w)], {"anon": LOGIN, "outsider": 404, **ALL_MEMBERS},
    ),
    # Members are sent back to the challenge page (with the reason when they can't leave).
    "checkins_leave": (
        "post", False, lambda w: [w.slug, _web_deposit_challenge(w)],
        {"anon": LOGIN, "outsider": 404, **MEMBERS_REDIRECT},
    ),
})
# --- checkins (rows owned by the checkins work) ---


def _web_challenge(w) -> int:
    """A running challenge (window open now) of the world's circle, the owner taking part; its id."""
    from datetime import UTC, timedelta

    from django.utils import timezone

    from quanzi.checkins.models import Challenge, Participant
    from quanzi.circles.models import Circle

    if not hasattr(w, "challenge_id"):
        now = timezone.now().astimezone(UTC)
        opens, closes = now - timedelta(hours=1), now + timedelta(hours=2)
        challenge = Challenge.objects.create(
            circle=Circle.objects.get(slug=w.slug), title="Matrix", start_date=opens.date() - timedelta(days=2),
            end_date=opens.date() + timedelta(days=5), window_start=opens.time().replace(second=0, microsecond=0),
            window_end=closes.time().replace(second=0, microsecond=0), days_to_complete=3,
            created_by=w.users["owner"])
        Participant.objects.create(challenge=challenge, user=w.users["owner"], joined_at=now - timedelta(days=5))
        w.challenge_id = challenge.id
    return w.challenge_id


def _web_checkin(w) -> int:
    from quanzi.checkins.models import CheckIn, CheckInComment, Participant

    if not hasattr(w, "checkin_id"):
        participant = Participant.objects.get(challenge_id=_web_challenge(w), user=w.users["owner"])
        checkin = CheckIn.objects.create(challenge_id=w.challenge_id, participant=participant,
                                         user=w.users["owner"], day=participant.challenge.start_date,
                                         comment_count=1)
        w.checkin_id = checkin.id
        w.comment_id = CheckInComment.objects.create(checkin=checkin, user=w.users["owner"], text="hi").id
    return w.checkin_id


def _web_comment(w) -> int:
    _web_checkin(w)
    return w.comment_id


MATRIX.update({
    "checkins_list": ("get", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **ALL_MEMBERS}),
    "checkins_create": ("get", False, lambda w: [w.slug], {"anon": LOGIN, "outsider": 404, **ADMINS_ONLY}),
    "checkins_detail": ("get", False, lambda w: [w.slug, _web_challenge(w)],
                        {"anon": LOGIN, "outsider": 404, **ALL_MEMBERS}),
    "checkins_edit": ("get", False, lambda w: [w.slug, _web_challenge(w)],
                      {"anon": LOGIN, "outsider": 404, **ADMINS_ONLY}),
    "checkins_join": ("post", False, lambda w: [w.slug, _web_challenge(w)],
                      {"anon": LOGIN, "outsider": 404, **MEMBERS_REDIRECT}),
    "checkins_checkin": ("post", False, lambda w: [w.slug, _web_challenge(w)],
                         {"anon": LOGIN, "outsider": 404, **MEMBERS_REDIRECT}),
    "checkins_makeup": ("post", False, lambda w: [w.slug, _web_challenge(w)],
                        {"anon": LOGIN, "outsider": 404, **MEMBERS_REDIRECT}),
    "checkins_board": ("get", False, lambda w: [w.slug, _web_challenge(w)],
                       {"anon": LOGIN, "outsider": 404, **ALL_MEMBERS}),
    "checkins_calendar": ("get", False, lambda w: [w.slug, _web_challenge(w), w.users["owner"].id],
                          {"anon": LOGIN, "outsider": 404, **ALL_MEMBERS}),
    "checkins_feed": ("get", False, lambda w: [w.slug, _web_challenge(w)],
                      {"anon": LOGIN, "outsider": 404, **ALL_MEMBERS}),
    "checkins_like": ("post", True, lambda w: [w.slug, _web_checkin(w)],
                      {"anon": LOGIN, "outsider": 404, **ALL_MEMBERS}),
    "checkins_comment": ("post", False, lambda w: [w.slug, _web_checkin(w)],
                         {"anon": LOGIN, "outsider": 404, **MEMBERS_REDIRECT}),
    "checkins_comment_delete": (
        "post", False, lambda w: [w.slug, _web_comment(w)],
        {"anon": LOGIN, "outsider": 404, "member": 403, "moderator": 302, "admin": 302, "owner": 302},
    ),
})
# Django's own language switch (django.conf.urls.i18n), open to everyone by design.
NOT_OURS = {"set_language"}


def pattern_names(patterns) -> set[str]:
    names: set[str] = set()
    for entry in patterns:
        if isinstance(entry, URLResolver):
            names |= pattern_names(entry.url_patterns)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(entry.name)
    return names


def test_every_web_url_has_a_row():
    names = pattern_names(web_urls.urlpatterns) - NOT_OURS
    assert names - MATRIX.keys() == set(), "add these URLs to MATRIX"
    assert MATRIX.keys() - names == set(), "MATRIX lists URLs that no longer exist"


class World:
    pass


def _build_world() -> World:
    """The circle of ``tests/conftest.py`` (owner, admin, moderator, member, outsider), made private with
    approval, plus a muted-able victim, a pending join request, an invite, a token, a plan and an order."""
    from quanzi.accounts.models import User
    from quanzi.chat import actions as chat_actions
    from quanzi.circles.models import Role
    from quanzi.payments import actions as payment_actions

    def make_user(username):
        return User.objects.create_user(username=username, email=f"{username}@example.com",
                                        password="correct-horse-battery-9")

    owner = make_user("owner")
    circle = circle_actions.do_create_circle(
        owner=owner, name="Morning Runners", slug="runners", rules_text="Be kind.", with_channel=True
    )
    users = {"anon": None, "owner": owner}
    for key, role in (("admin", Role.ADMIN), ("moderator", Role.MODERATOR), ("member", Role.MEMBER)):
        users[key] = make_user(key)
        circle_actions.do_join_circle(user=users[key], circle=circle)
        if role != Role.MEMBER:
            circle_actions.do_set_role(actor=owner, circle=circle, user_id=users[key].id, role=role)
    users["outsider"] = make_user("outsider")
    for key in ("admin", "moderator", "member"):
        circle_actions.do_finish_onboarding(user=users[key], circle=circle)
    victim = make_user("victim")
    circle_actions.do_join_circle(user=victim, circle=circle)
    circle_actions.do_update_circle(actor=owner, circle=circle, visibility="private", join_mode="approval")
    applicant = make_user("applicant")
    request = circle_actions.do_join_circle(user=applicant, circle=circle).join_request
    invite = circle_actions.do_create_invite(actor=owner, circle=circle)
    token, _raw = account_actions.do_create_token(user=owner, name="t")
    plan = payment_actions.do_create_plan(actor=owner, circle=circle, name="Yearly", kind="yearly", amount=9900)
    order = payment_actions.do_create_order(user=applicant, circle=circle, plan_id=plan.id, provider="manual",
                                            idempotency_key="matrix").order
    w = World()
    w.slug, w.main = circle.slug, circle.main_group_id
    w.side = chat_actions.do_create_group(actor=owner, circle=circle, name="Side").id
    w.victim, w.request_id = victim.id, request.id
    w.invite_id, w.invite_code, w.token_id = invite.id, invite.code, token.id
    w.plan_id, w.order_id = plan.id, order.public_id
    w.users = users
    return w


@pytest.fixture(scope="module")
def _module_world(django_db_setup, django_db_blocker):
    """The world, built once for the module inside a transaction rolled back at the end (as in
    ``tests/security``). Each test's own transaction is a savepoint inside it, so every cell still
    starts from exactly this state; building it once per test cost ~70 % of this module's time."""
    from django.core.cache import cache
    from django.db import transaction
    from django.test import override_settings

    private_cache = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                 "LOCATION": "web-permission-matrix-world"}}
    with django_db_blocker.unblock(), override_settings(CACHES=private_cache), transaction.atomic():
        cache.clear()
        yield _build_world()
        transaction.set_rollback(True)


@pytest.fixture
def world(db, _module_world):
    """A per-test copy: rows the matrix's args create (and remember on the world) go with the test's
    savepoint, and the users are fresh instances read from the database."""
    from quanzi.accounts.models import User

    w = World()
    w.__dict__.update(_module_world.__dict__)
    fresh = User.objects.in_bulk([u.id for u in _module_world.users.values() if u is not None])
    w.users = {key: (fresh[u.id] if u is not None else None) for key, u in _module_world.users.items()}
    return w


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_matrix(client_as, world, name, role):
    method, is_htmx, args, expected_by_role = MATRIX[name]
    expected = expected_by_role[role]
    client = client_as(world.users[role])
    url = reverse(name, args=args(world))
    data = {"minutes": "5", "decision": "approve", "slow_mode_seconds": "0", "name": "New"}
    extra = {"HTTP_HX_REQUEST": "true"} if is_htmx else {}
    response = client.get(url) if method == "get" else client.post(url, data, **extra)
    if expected == LOGIN:
        assert response.status_code == 302, response.status_code
        assert response["Location"].startswith(reverse("account_login"))
    else:
        assert response.status_code == expected
