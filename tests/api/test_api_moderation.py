"""Members, roles, mute, kick, ban, ownership transfer and the audit log over the API."""

from __future__ import annotations

import pytest

from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Membership, MembershipStatus, Role
from quanzi.core.models import AuditEntry

from .helpers import assert_error


def _m(circle, user) -> Membership:
    return Membership.objects.get(circle=circle, user=user)


def test_members_list_filters(circle, owner, admin, moderator, member, api_as):
    client = api_as(member)
    r = client.get("/api/circles/runners/members")
    assert r.status_code == 200
    assert [i["role"] for i in r.data["items"]] == ["owner", "admin", "moderator", "member"]
    assert r.data["total"] == 4
    assert [i["user"]["username"] for i in client.get("/api/circles/runners/members", role="moderator").data[
        "items"]] == ["moderator"]
    assert [i["user"]["username"] for i in client.get("/api/circles/runners/members", q="ADM").data["items"]] == [
        "admin"
    ]
    assert_error(client.get("/api/circles/runners/members", role="king"), 422, "validation_error")


def test_banned_members_visible_to_moderators_only(circle, owner, moderator, member, make_user, api_as):
    circle_actions.do_ban_member(actor=owner, circle=circle, user_id=member.id)
    r = api_as(moderator).get("/api/circles/runners/members", status="banned")
    assert [i["user"]["username"] for i in r.data["items"]] == ["member"]
    pleb = make_user("pleb")
    circle_actions.do_join_circle(user=pleb, circle=circle)
    assert_error(api_as(pleb).get("/api/circles/runners/members", status="banned"), 403, "insufficient_role")


def test_members_of_a_circle_you_are_not_in_is_404(circle, outsider, api_as):
    assert_error(api_as(outsider).get("/api/circles/runners/members"), 404, "circle_not_found")


def test_set_role(circle, owner, admin, member, api_as):
    r = api_as(owner).post(f"/api/circles/runners/members/{member.id}/role", {"role": "moderator", "reason": "helps"})
    assert r.status_code == 200, r.data
    assert r.data["role"] == "moderator" and _m(circle, member).role == Role.MODERATOR
    entry = AuditEntry.objects.get(circle=circle, action="member.set_role", target_user=member)
    assert entry.reason == "helps"

    # An admin may appoint only below their own role.
    assert_error(
        api_as(admin).post(f"/api/circles/runners/members/{member.id}/role", {"role": "admin"}), 403, "higher_role"
    )
    assert_error(
        api_as(owner).post(f"/api/circles/runners/members/{member.id}/role", {"role": "owner"}), 403, "use_transfer"
    )
    assert_error(
        api_as(owner).post(f"/api/circles/runners/members/{member.id}/role", {"role": "king"}), 400, "invalid_role"
    )
    assert _m(circle, member).role == Role.MODERATOR


@pytest.mark.parametrize("verb", ["mute", "kick", "ban", "role"])
def test_acting_on_equal_or_higher_role_is_403(circle, owner, admin, moderator, api_as, make_user, verb):
    peers = {}
    for role in ("moderator", "admin"):
        peers[role] = make_user(f"{role}2")
        circle_actions.do_join_circle(user=peers[role], circle=circle)
        circle_actions.do_set_role(actor=owner, circle=circle, user_id=peers[role].id, role=role)
    audit_before = AuditEntry.objects.count()
    if verb == "role":  # role changes need admin; an admin may not touch another admin or the owner
        actor, targets, body = admin, (peers["admin"], owner), {"role": "member"}
    else:
        actor, targets = moderator, (peers["moderator"], admin, owner)
        body = {"minutes": 10} if verb == "mute" else {}
    roles_before = {t.id: _m(circle, t).role for t in targets}
    for target in targets:
        r = api_as(actor).post(f"/api/circles/runners/members/{target.id}/{verb}", body)
        assert_error(r, 403, "higher_role")
        target_m = _m(circle, target)
        assert target_m.status == MembershipStatus.ACTIVE and target_m.muted_until is None
        assert target_m.role == roles_before[target.id]
    assert AuditEntry.objects.count() == audit_before


def test_member_cannot_moderate(circle, member, moderator, api_as):
    r = api_as(member).post(f"/api/circles/runners/members/{moderator.id}/kick")
    assert_error(r, 403, "insufficient_role")


def test_outsider_acting_in_circle_is_404(circle, member, outsider, api_as):
    for verb, body in (("mute", {"minutes": 5}), ("kick", None), ("ban", None), ("unban", None),
                       ("role", {"role": "admin"}), ("unmute", None)):
        r = api_as(outsider).post(f"/api/circles/runners/members/{member.id}/{verb}", body)
        assert_error(r, 404, "circle_not_found")
    assert _m(circle, member).status == MembershipStatus.ACTIVE


def test_unknown_member_is_404(circle, owner, api_as):
    assert_error(api_as(owner).post("/api/circles/runners/members/999999/kick"), 404, "member_not_found")
    assert_error(api_as(owner).post("/api/circles/no-such/members/1/kick"), 404, "circle_not_found")


def test_mute_and_unmute(circle, moderator, member, api_as):
    client = api_as(moderator)
    r = client.post(f"/api/circles/runners/members/{member.id}/mute", {"minutes": 30, "reason": "flood"})
    assert r.status_code == 200 and r.data["muted_until"] is not None
    assert _m(circle, member).is_muted()
    assert_error(client.post(f"/api/circles/runners/members/{member.id}/mute", {"minutes": 0}), 400,
                 "invalid_duration")
    assert_error(client.post(f"/api/circles/runners/members/{member.id}/mute", {"minutes": 10**7}), 400,
                 "invalid_duration")
    assert_error(client.post(f"/api/circles/runners/members/{member.id}/mute", {"minutes": 10**13}), 400,
                 "invalid_duration")
    assert_error(client.post(f"/api/circles/runners/members/{member.id}/mute", {}), 422, "validation_error")

    r = client.post(f"/api/circles/runners/members/{member.id}/unmute", {"reason": "ok"})
    assert r.status_code == 200 and r.data["muted_until"] is None
    assert_error(client.post(f"/api/circles/runners/members/{member.id}/unmute"), 409, "not_muted")


def test_kick_then_rejoin(circle, moderator, member, api_as):
    r = api_as(moderator).post(f"/api/circles/runners/members/{member.id}/kick", {"reason": "rude"})
    assert r.status_code == 200 and r.data["status"] == "kicked"
    assert_error(api_as(member).get("/api/circles/runners/members"), 404, "circle_not_found")
    assert api_as(member).post("/api/circles/runners/join").data["status"] == "joined"


def test_ban_and_unban(circle, moderator, member, api_as):
    mod = api_as(moderator)
    r = mod.post(f"/api/circles/runners/members/{member.id}/ban", {"reason": "spam"})
    assert r.status_code == 200 and r.data["status"] == "banned"
    assert_error(mod.post(f"/api/circles/runners/members/{member.id}/ban"), 409, "already_banned")
    assert_error(api_as(member).post("/api/circles/runners/join"), 403, "banned")
    r = mod.post(f"/api/circles/runners/members/{member.id}/unban")
    assert r.status_code == 200 and r.data["status"] == "left"
    assert_error(mod.post(f"/api/circles/runners/members/{member.id}/unban"), 409, "not_banned")
    assert api_as(member).post("/api/circles/runners/join").data["status"] == "joined"


def test_transfer_ownership(circle, owner, admin, member, api_as):
    assert_error(api_as(admin).post("/api/circles/runners/transfer-ownership", {"user_id": member.id}), 403,
                 "insufficient_role")
    assert_error(api_as(owner).post("/api/circles/runners/transfer-ownership", {"user_id": 999999}), 404,
                 "member_not_found")
    r = api_as(owner).post("/api/circles/runners/transfer-ownership", {"user_id": member.id})
    assert r.status_code == 200 and r.data["role"] == "owner"
    assert _m(circle, owner).role == Role.ADMIN
    assert api_as(owner).post("/api/circles/runners/leave").status_code == 200


def test_audit_log(circle, owner, admin, moderator, member, api_as):
    mod = api_as(moderator)
    mod.post(f"/api/circles/runners/members/{member.id}/mute", {"minutes": 5, "reason": "calm down"})
    mod.post(f"/api/circles/runners/members/{member.id}/kick", {"reason": "again"})

    client = api_as(admin)
    r = client.get("/api/circles/runners/audit")
    assert r.status_code == 200, r.data
    assert [e["action"] for e in r.data["items"][:2]] == ["member.kick", "member.mute"]
    assert r.data["items"][1]["reason"] == "calm down"
    assert r.data["items"][0]["actor"]["username"] == "moderator"
    assert r.data["items"][0]["target_user"]["username"] == "member"

    assert [e["action"] for e in client.get("/api/circles/runners/audit", action="member.mute").data["items"]] == [
        "member.mute"
    ]
    prefixed = client.get("/api/circles/runners/audit", action="member.").data["items"]
    assert {e["action"] for e in prefixed} == {"member.kick", "member.mute", "member.set_role"}
    assert client.get("/api/circles/runners/audit", actor="moderator").data["total"] == 2
    assert client.get("/api/circles/runners/audit", actor=str(moderator.id)).data["total"] == 2
    by_target = client.get("/api/circles/runners/audit", target="member", limit=1)
    assert by_target.data["total"] == 2 and len(by_target.data["items"]) == 1

    assert_error(mod.get("/api/circles/runners/audit"), 403, "insufficient_role")
    assert_error(api_as(member).get("/api/circles/runners/audit"), 404, "circle_not_found")
