"""Circles: listing, creating, editing, joining (open, approval, invite), leaving, channel, stats."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Circle, Invite, JoinRequest, Membership, MembershipStatus
from quanzi.core.models import AuditEntry

from .helpers import assert_error


@pytest.fixture
def private_circle(owner):
    return circle_actions.do_create_circle(owner=owner, name="Inner", slug="inner", visibility="private",
                                           join_mode="invite")


def test_list_mine_and_public(owner, circle, private_circle, member, outsider, api_as):
    r = api_as(member).get("/api/circles")
    assert r.status_code == 200
    assert [c["slug"] for c in r.data["items"]] == ["runners"] and r.data["total"] == 1
    assert r.data["items"][0]["membership"]["role"] == "member"

    r = api_as(outsider).get("/api/circles", scope="public")
    assert [c["slug"] for c in r.data["items"]] == ["runners"]  # the private circle is unlisted
    assert r.data["items"][0]["membership"] is None
    assert api_as(outsider).get("/api/circles").data["total"] == 0

    r = api_as(owner).get("/api/circles", q="inn")
    assert [c["slug"] for c in r.data["items"]] == ["inner"]
    r = api_as(owner).get("/api/circles", limit=1, offset=1)
    assert r.data["total"] == 2 and len(r.data["items"]) == 1
    assert_error(api_as(owner).get("/api/circles", scope="everything"), 422, "validation_error")


def test_create_circle(make_user, api_as):
    alice = make_user("alice")
    r = api_as(alice).post("/api/circles", {"name": "Book Club", "description": "We read.", "with_channel": True,
                                            "timezone": "Europe/Berlin"})
    assert r.status_code == 201, r.data
    assert r.data["slug"] == "book-club" and r.data["membership"]["role"] == "owner"
    assert r.data["main_group_id"] and r.data["channel_group_id"] and r.data["member_count"] == 1
    assert r.data["timezone"] == "Europe/Berlin"
    assert AuditEntry.objects.filter(circle_id=r.data["id"], action="circle.create").exists()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": ""}, 400, "invalid_name"),
        ({"name": "X", "slug": "Bad Slug!"}, 400, "invalid_slug"),
        ({"name": "X", "slug": "runners"}, 409, "slug_taken"),
        ({"name": "X", "visibility": "secret"}, 400, "invalid_visibility"),
        ({"name": "X", "join_mode": "whenever"}, 400, "invalid_join_mode"),
        ({"name": "X", "timezone": "Nowhere/Land"}, 400, "invalid_timezone"),
        ({"name": "X", "welcome_template": "Hi {nope}"}, 400, "invalid_welcome_template"),
        ({"description": "no name"}, 422, "validation_error"),
    ],
)
def test_create_circle_bad_input_writes_nothing(circle, outsider, api_as, body, status, code):
    before = Circle.objects.count()
    assert_error(api_as(outsider).post("/api/circles", body), status, code)
    assert Circle.objects.count() == before


def test_get_circle_detail_and_visibility(circle, private_circle, member, outsider, api_as):
    r = api_as(outsider).get("/api/circles/runners")
    assert r.status_code == 200 and r.data["rules_text"] == "Be kind." and r.data["membership"] is None
    assert api_as(outsider).get(f"/api/circles/{circle.id}").data["slug"] == "runners"
    # A private circle and a missing one answer the same.
    a = assert_error(api_as(outsider).get("/api/circles/inner"), 404, "circle_not_found")
    b = assert_error(api_as(outsider).get("/api/circles/no-such-circle"), 404, "circle_not_found")
    assert a == b


def test_patch_circle(circle, owner, admin, member, api_as):
    r = api_as(admin).patch("/api/circles/runners", {"description": "Early miles", "join_mode": "approval"})
    assert r.status_code == 200, r.data
    assert r.data["description"] == "Early miles" and r.data["join_mode"] == "approval"
    assert r.data["name"] == "Morning Runners"
    assert_error(api_as(member).patch("/api/circles/runners", {"name": "Mine"}), 403, "insufficient_role")
    assert_error(api_as(admin).patch("/api/circles/runners", {"timezone": "Bad/Zone"}), 400, "invalid_timezone")
    circle.refresh_from_db()
    assert circle.name == "Morning Runners" and circle.timezone == "UTC"


def test_patch_circle_not_member_is_404(circle, outsider, api_as):
    assert_error(api_as(outsider).patch("/api/circles/runners", {"name": "Ours"}), 404, "circle_not_found")


def test_join_open_circle_and_leave(circle, outsider, api_as):
    client = api_as(outsider)
    r = client.post("/api/circles/runners/join")
    assert r.status_code == 200, r.data
    assert r.data["status"] == "joined" and r.data["circle"]["membership"]["role"] == "member"
    assert r.data["circle"]["member_count"] == 2
    assert_error(client.post("/api/circles/runners/join"), 409, "already_member")

    r = client.post("/api/circles/runners/leave")
    assert r.status_code == 200 and r.data["membership"]["status"] == "left" and r.data["member_count"] == 1
    assert_error(client.post("/api/circles/runners/leave"), 404, "circle_not_found")


def test_owner_cannot_leave(circle, owner, api_as):
    assert_error(api_as(owner).post("/api/circles/runners/leave"), 403, "owner_cannot_leave")


def test_join_private_circle_without_invite_is_404(private_circle, outsider, api_as):
    assert_error(api_as(outsider).post("/api/circles/inner/join"), 404, "circle_not_found")


def test_join_invite_only_circle_needs_invite(circle, owner, outsider, api_as):
    circle_actions.do_update_circle(actor=owner, circle=circle, join_mode="invite")
    assert_error(api_as(outsider).post("/api/circles/runners/join"), 403, "invite_required")


def test_join_request_flow(circle, owner, moderator, member, make_user, api_as):
    circle_actions.do_update_circle(actor=owner, circle=circle, join_mode="approval")
    carol, dave = make_user("carol"), make_user("dave")
    r = api_as(carol).post("/api/circles/runners/join", {"message": "I run 10k"})
    assert r.status_code == 200 and r.data["status"] == "requested"
    assert r.data["join_request"]["message"] == "I run 10k" and r.data["circle"]["membership"] is None
    assert_error(api_as(carol).post("/api/circles/runners/join"), 409, "request_pending")
    api_as(dave).post("/api/circles/runners/join")

    mod = api_as(moderator)
    listed = mod.get("/api/circles/runners/join-requests")
    assert listed.status_code == 200
    assert [i["user"]["username"] for i in listed.data["items"]] == ["carol", "dave"]
    assert_error(api_as(member).get("/api/circles/runners/join-requests"), 403, "insufficient_role")

    carol_req, dave_req = (i["id"] for i in listed.data["items"])
    r = mod.post(f"/api/circles/runners/join-requests/{carol_req}/approve")
    assert r.status_code == 200 and r.data["status"] == "approved"
    assert Membership.objects.get(circle=circle, user=carol).status == MembershipStatus.ACTIVE
    r = mod.post(f"/api/circles/runners/join-requests/{dave_req}/reject", {"reason": "spam"})
    assert r.status_code == 200 and r.data["status"] == "rejected"
    assert not Membership.objects.filter(circle=circle, user=dave).exists()
    assert_error(mod.post(f"/api/circles/runners/join-requests/{dave_req}/approve"), 409, "request_decided")
    assert mod.get("/api/circles/runners/join-requests", status="rejected").data["total"] == 1
    assert_error(mod.post("/api/circles/runners/join-requests/999999/approve"), 404, "join_request_not_found")


def test_join_request_of_another_circle_is_404(circle, owner, moderator, make_user, api_as):
    """A moderator of both circles still cannot decide "other"'s request through "runners"' URL."""
    other_owner, applicant = make_user("other-owner"), make_user("applicant")
    other = circle_actions.do_create_circle(owner=other_owner, name="Other", slug="other")
    circle_actions.do_join_circle(user=moderator, circle=other)
    circle_actions.do_set_role(actor=other_owner, circle=other, user_id=moderator.id, role="moderator")
    circle_actions.do_update_circle(actor=other_owner, circle=other, join_mode="approval")
    circle_actions.do_join_circle(user=applicant, circle=other)  # files a request
    pending = JoinRequest.objects.get(circle=other)
    assert_error(
        api_as(moderator).post(f"/api/circles/runners/join-requests/{pending.id}/approve"), 404,
        "join_request_not_found",
    )
    pending.refresh_from_db()
    assert pending.status == "pending"
    # ...while the right URL works.
    assert api_as(moderator).post(f"/api/circles/other/join-requests/{pending.id}/approve").status_code == 200


# --- invites ------------------------------------------------------------------------------


def test_invite_lifecycle(circle, owner, admin, member, outsider, api_as):
    r = api_as(admin).post("/api/circles/runners/invites", {"max_uses": 2, "expires_in_hours": 24, "note": "flyer"})
    assert r.status_code == 201, r.data
    code, invite_id = r.data["code"], r.data["id"]
    assert r.data["usable"] and r.data["max_uses"] == 2 and r.data["note"] == "flyer"
    assert_error(api_as(member).post("/api/circles/runners/invites", {}), 403, "insufficient_role")
    assert_error(api_as(admin).post("/api/circles/runners/invites", {"max_uses": 0}), 400, "invalid_max_uses")
    assert_error(api_as(admin).post("/api/circles/runners/invites", {"expires_in_hours": 0}), 400, "invalid_expiry")

    listed = api_as(admin).get("/api/circles/runners/invites")
    assert [i["code"] for i in listed.data["items"]] == [code]
    assert_error(api_as(member).get("/api/circles/runners/invites"), 403, "insufficient_role")

    preview = api_as().get(f"/api/invites/{code}")  # no auth needed
    assert preview.status_code == 200
    assert preview.data["circle"]["name"] == "Morning Runners" and preview.data["usable"] is True

    r = api_as(outsider).post(f"/api/invites/{code}/accept")
    assert r.status_code == 200 and r.data["status"] == "joined"
    assert Invite.objects.get(id=invite_id).uses == 1

    r = api_as(admin).delete(f"/api/circles/runners/invites/{invite_id}")
    assert r.status_code == 200 and r.data["usable"] is False and r.data["revoked_at"]
    preview = api_as().get(f"/api/invites/{code}")
    assert preview.data["usable"] is False and preview.data["reason"] == "invite_revoked"
    assert_error(api_as(admin).delete("/api/circles/runners/invites/999999"), 404, "invite_not_found")
    assert_error(api_as().get("/api/invites/nope"), 404, "invite_not_found")


def test_private_circle_joined_through_invite(private_circle, owner, outsider, api_as):
    invite = circle_actions.do_create_invite(actor=owner, circle=private_circle)
    r = api_as(outsider).post(f"/api/invites/{invite.code}/accept")
    assert r.status_code == 200 and r.data["circle"]["slug"] == "inner"
    assert api_as(outsider).get("/api/circles/inner").status_code == 200


def test_expired_and_used_up_invites(circle, owner, make_user, api_as):
    expired = circle_actions.do_create_invite(actor=owner, circle=circle, expires_in_hours=1)
    Invite.objects.filter(id=expired.id).update(expires_at=timezone.now() - timedelta(minutes=1))
    once = circle_actions.do_create_invite(actor=owner, circle=circle, max_uses=1)
    a, b = make_user("a"), make_user("b")

    assert_error(api_as(a).post(f"/api/invites/{expired.code}/accept"), 403, "invite_expired")
    assert api_as().get(f"/api/invites/{expired.code}").data["reason"] == "invite_expired"
    assert api_as(a).post(f"/api/invites/{once.code}/accept").status_code == 200
    assert_error(api_as(b).post(f"/api/invites/{once.code}/accept"), 403, "invite_used_up")
    assert not Membership.objects.filter(circle=circle, user=b).exists()
    assert Invite.objects.get(id=once.id).uses == 1


def test_banned_user_cannot_reuse_invite(circle, owner, member, api_as):
    invite = circle_actions.do_create_invite(actor=owner, circle=circle)
    circle_actions.do_ban_member(actor=owner, circle=circle, user_id=member.id, reason="spam")
    assert_error(api_as(member).post(f"/api/invites/{invite.code}/accept"), 403, "banned")
    assert_error(api_as(member).post("/api/circles/runners/join"), 403, "banned")
    assert Membership.objects.get(circle=circle, user=member).status == MembershipStatus.BANNED
    assert Invite.objects.get(id=invite.id).uses == 0


# --- channel, onboarding, stats -----------------------------------------------------------


def test_follow_unfollow_channel_and_onboarding(circle, member, api_as):
    client = api_as(member)
    detail = client.get("/api/circles/runners").data
    assert detail["membership"]["onboarding_done"] is False
    r = client.post("/api/circles/runners/channel/follow")
    assert r.status_code == 200 and r.data["follows_channel"] is True and r.data["onboarding_done"] is True
    r = client.delete("/api/circles/runners/channel/follow")
    assert r.status_code == 200 and r.data["follows_channel"] is False


def test_finish_onboarding(circle, member, api_as):
    r = api_as(member).post("/api/circles/runners/onboarding/finish")
    assert r.status_code == 200 and r.data["onboarding_done"] is True and r.data["follows_channel"] is False


def test_channel_follow_without_channel_is_404(owner, api_as):
    circle_actions.do_create_circle(owner=owner, name="Quiet", slug="quiet")
    assert_error(api_as(owner).post("/api/circles/quiet/channel/follow"), 404, "no_channel")


def test_channel_follow_by_non_member_is_404(circle, outsider, api_as):
    assert_error(api_as(outsider).post("/api/circles/runners/channel/follow"), 404, "circle_not_found")


def test_stats_for_admins(circle, owner, admin, moderator, member, api_as):
    api_as(member).post("/api/circles/runners/channel/follow")
    r = api_as(admin).get("/api/circles/runners/stats")
    assert r.status_code == 200, r.data
    # owner follows from creation; admin/moderator joined without following; member followed.
    assert r.data == {
        "member_count": 4,
        "followers": 2,
        "follow_rate": 0.5,
        "by_role": {"member": 1, "moderator": 1, "admin": 1, "owner": 1},
    }
    assert_error(api_as(moderator).get("/api/circles/runners/stats"), 403, "insufficient_role")


def test_all_digit_slug_is_reachable_and_ids_still_work(owner, circle, api_as):
    numbered = circle_actions.do_create_circle(owner=owner, name="Class of 2024", slug="2024")
    client = api_as(owner)
    assert client.get("/api/circles/2024").data["id"] == numbered.id
    assert client.get(f"/api/circles/{circle.id}").data["slug"] == "runners"
    for odd in ("9" * 30, "²", "١"):
        assert_error(client.get(f"/api/circles/{odd}"), 404, "circle_not_found")
