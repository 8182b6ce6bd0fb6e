"""Every REST API operation × every kind of caller, with the answer written out by hand.

The table below has one row per (method, path, variant) and one column per actor. The
test fails when the API has an operation without a row, or a row names an operation that
no longer exists (Zulip-style coverage), so a new endpoint can't ship without deciding who
may call it.

What the table says, in short: anonymous callers get 401 (except the invite preview);
anyone without an active membership — outsiders, members of another circle, banned and
kicked users — gets the same 404 as for a missing circle, group or message, so ids can't
be probed; a public circle shows its detail page to everyone signed in and nothing more;
muted members read but can't post (403 ``muted``); members get 403 ``insufficient_role``
for moderator actions, moderators for admin actions, and nobody acts on an equal or
higher role (403 ``higher_role``).

Each actor's request runs in a savepoint that is rolled back, so every cell starts from
the same world (and side effects such as a kick or a deletion don't leak into the next).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.test import Client, override_settings
from PIL import Image

from quanzi.api.api import api

from .conftest import ACTORS, World, build_world, make_plain_user

# --- what an answer may be ----------------------------------------------------------------

OK, NEW = "200", "201"
U401 = "401 not_authenticated"
C404 = "404 circle_not_found"
G404 = "404 group_not_found"
M404 = "404 message_not_found"
T404 = "404 token_not_found"
ANY404 = "404 not_found"
ROLE = "403 insufficient_role"
HIGH = "403 higher_role"
SELF = "403 self_action"
MUTED = "403 muted"
NOTAU = "403 not_author"
BAN = "403 banned"
CHAN = "403 channel_admins_only"
SEAT = "403 not_group_member"
STAY = "403 owner_cannot_leave"
DUP = "409 already_member"
MAIN = "400 cannot_leave_main"
N404 = "404 member_not_found"
NOTM = "403 not_member"

# One column per actor, in this order:
#      anon  outsider other_circle banned kicked member muted moderator admin owner
assert ACTORS == ("anon", "outsider", "other_circle", "banned", "kicked", "member", "muted", "moderator", "admin",
                  "owner")

Params = Callable[[World, str], dict[str, Any]]


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # as the router spells it
    variant: str
    expect: tuple[str, ...]
    params: Params  # path parameters, plus "?" for a query string
    body: Callable[[World, str], Any] | None = None
    public: tuple[str, ...] | None = None  # the answers when the circle is public, if they differ
    headers: dict[str, str] | None = None  # extra request headers (e.g. Idempotency-Key)

    @property
    def key(self) -> str:
        return f"{self.method} {self.path} [{self.variant}]"


def none(w: World, actor: str) -> dict:
    return {}


def slug(w: World, actor: str) -> dict:
    return {"slug": w.circle.slug}


def member_of(target: str) -> Params:
    return lambda w, actor: {"slug": w.circle.slug, "user_id": w.uid(target)}


def group(attr: str) -> Params:
    return lambda w, actor: {"group_id": getattr(w, attr)}


def message(which: Callable[[World, str], int]) -> Params:
    return lambda w, actor: {"message_id": which(w, actor)}


def body(data: Any) -> Callable[[World, str], Any]:
    return lambda w, actor: data


ROWS: list[Row] = [
    # --- tokens and profile: about yourself only ----------------------------------------------------------------
    #                                 anon  outs  other banned kicked member muted  mod   admin owner
    Row("POST", "/auth/tokens", "new", (U401, NEW, NEW, NEW, NEW, NEW, NEW, NEW, NEW, NEW), none,
        body({"name": "laptop"})),
    Row("GET", "/auth/tokens", "", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK), none),
    Row("DELETE", "/auth/tokens/{token_id}", "own", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK),
        lambda w, a: {"token_id": w.token_ids.get(a, w.spare_token_id)}),
    Row("DELETE", "/auth/tokens/{token_id}", "the owner's",
        (U401, T404, T404, T404, T404, T404, T404, T404, T404, OK), lambda w, a: {"token_id": w.spare_token_id}),
    Row("GET", "/me", "", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK), none),
    Row("PATCH", "/me", "", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK), none, body({"display_name": "New Name"})),
    Row("POST", "/me/avatar", "", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK), none, body("avatar")),
    Row("DELETE", "/me/avatar", "", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK), none),
    Row("GET", "/unread", "", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK), none),
    Row("GET", "/unread", "this circle", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK),
        lambda w, a: {"?": f"circle_id={w.circle.id}"}),
    Row("GET", "/notices", "", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK), none),
    Row("POST", "/notices/read", "", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK), none),
    # --- circles -------------------------------------------------------------------------------------------------
    Row("GET", "/circles", "mine", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK), none),
    Row("GET", "/circles", "public", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK), lambda w, a: {"?": "scope=public"}),
    Row("POST", "/circles", "", (U401, NEW, NEW, NEW, NEW, NEW, NEW, NEW, NEW, NEW), none,
        body({"name": "Fresh", "slug": "fresh-circle"})),
    #                                 anon  outs  other banned kicked member muted  mod   admin owner
    Row("GET", "/circles/{slug}", "", (U401, C404, C404, C404, C404, OK, OK, OK, OK, OK), slug,
        public=(U401, OK, OK, OK, OK, OK, OK, OK, OK, OK)),
    Row("PATCH", "/circles/{slug}", "", (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, OK, OK), slug,
        body({"description": "Changed"})),
    Row("GET", "/circles/{slug}/stats", "", (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, OK, OK), slug),
    Row("POST", "/circles/{slug}/avatar", "", (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, OK, OK), slug,
        body("avatar")),
    Row("DELETE", "/circles/{slug}/avatar", "", (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, OK, OK), slug),
    Row("POST", "/circles/{slug}/join", "", (U401, C404, C404, C404, C404, DUP, DUP, DUP, DUP, DUP), slug,
        public=(U401, OK, OK, BAN, OK, DUP, DUP, DUP, DUP, DUP)),
    Row("POST", "/circles/{slug}/leave", "", (U401, C404, C404, C404, C404, OK, OK, OK, OK, STAY), slug),
    Row("POST", "/circles/{slug}/transfer-ownership", "to the admin",
        (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, ROLE, OK), slug, lambda w, a: {"user_id": w.uid("admin")}),
    Row("GET", "/circles/{slug}/audit", "", (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, OK, OK), slug),
    Row("POST", "/circles/{slug}/channel/follow", "", (U401, C404, C404, C404, C404, OK, OK, OK, OK, OK), slug),
    Row("DELETE", "/circles/{slug}/channel/follow", "", (U401, C404, C404, C404, C404, OK, OK, OK, OK, OK), slug),
    Row("POST", "/circles/{slug}/onboarding/finish", "", (U401, C404, C404, C404, C404, OK, OK, OK, OK, OK), slug),
    # --- invites: the preview is public by design (it is what an invite link opens) -------------------------------
    Row("GET", "/invites/{code}", "", (OK, OK, OK, OK, OK, OK, OK, OK, OK, OK), lambda w, a: {"code": w.invite_code}),
    Row("POST", "/invites/{code}/accept", "", (U401, OK, OK, BAN, OK, DUP, DUP, DUP, DUP, DUP),
        lambda w, a: {"code": w.invite_code}),
    Row("GET", "/circles/{slug}/invites", "", (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, OK, OK), slug),
    Row("POST", "/circles/{slug}/invites", "", (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, NEW, NEW), slug,
        body({"max_uses": 5})),
    Row("DELETE", "/circles/{slug}/invites/{invite_id}", "",
        (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, OK, OK),
        lambda w, a: {"slug": w.circle.slug, "invite_id": w.invite_id}),
    # --- join requests -------------------------------------------------------------------------------------------
    #                                 anon  outs  other banned kicked member muted  mod   admin owner
    Row("GET", "/circles/{slug}/join-requests", "", (U401, C404, C404, C404, C404, ROLE, ROLE, OK, OK, OK), slug),
    Row("POST", "/circles/{slug}/join-requests/{request_id}/approve", "",
        (U401, C404, C404, C404, C404, ROLE, ROLE, OK, OK, OK),
        lambda w, a: {"slug": w.circle.slug, "request_id": w.request_id}),
    Row("POST", "/circles/{slug}/join-requests/{request_id}/reject", "",
        (U401, C404, C404, C404, C404, ROLE, ROLE, OK, OK, OK),
        lambda w, a: {"slug": w.circle.slug, "request_id": w.request_id}),
    # --- members and moderation ----------------------------------------------------------------------------------
    Row("GET", "/circles/{slug}/members", "active", (U401, C404, C404, C404, C404, OK, OK, OK, OK, OK), slug),
    Row("GET", "/circles/{slug}/members", "banned", (U401, C404, C404, C404, C404, ROLE, ROLE, OK, OK, OK),
        lambda w, a: {"slug": w.circle.slug, "?": "status=banned"}),
    Row("POST", "/circles/{slug}/members/{user_id}/role", "member → moderator",
        (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, OK, OK), member_of("victim"), body({"role": "moderator"})),
    Row("POST", "/circles/{slug}/members/{user_id}/role", "admin → member",
        (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, SELF, OK), member_of("admin"), body({"role": "member"})),
    Row("POST", "/circles/{slug}/members/{user_id}/role", "moderator → admin",
        (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, HIGH, OK), member_of("moderator"), body({"role": "admin"})),
    Row("POST", "/circles/{slug}/members/{user_id}/mute", "a member",
        (U401, C404, C404, C404, C404, ROLE, ROLE, OK, OK, OK), member_of("victim"), body({"minutes": 10})),
    Row("POST", "/circles/{slug}/members/{user_id}/mute", "the moderator",
        (U401, C404, C404, C404, C404, ROLE, ROLE, SELF, OK, OK), member_of("moderator"), body({"minutes": 10})),
    Row("POST", "/circles/{slug}/members/{user_id}/mute", "the admin",
        (U401, C404, C404, C404, C404, ROLE, ROLE, HIGH, SELF, OK), member_of("admin"), body({"minutes": 10})),
    Row("POST", "/circles/{slug}/members/{user_id}/mute", "the owner",
        (U401, C404, C404, C404, C404, ROLE, ROLE, HIGH, HIGH, SELF), member_of("owner"), body({"minutes": 10})),
    Row("POST", "/circles/{slug}/members/{user_id}/unmute", "the muted member",
        (U401, C404, C404, C404, C404, ROLE, ROLE, OK, OK, OK), member_of("muted")),
    Row("POST", "/circles/{slug}/members/{user_id}/kick", "a member",
        (U401, C404, C404, C404, C404, ROLE, ROLE, OK, OK, OK), member_of("victim")),
    Row("POST", "/circles/{slug}/members/{user_id}/kick", "the admin",
        (U401, C404, C404, C404, C404, ROLE, ROLE, HIGH, SELF, OK), member_of("admin")),
    Row("POST", "/circles/{slug}/members/{user_id}/ban", "a member",
        (U401, C404, C404, C404, C404, ROLE, ROLE, OK, OK, OK), member_of("victim")),
    Row("POST", "/circles/{slug}/members/{user_id}/ban", "the moderator",
        (U401, C404, C404, C404, C404, ROLE, ROLE, SELF, OK, OK), member_of("moderator")),
    Row("POST", "/circles/{slug}/members/{user_id}/ban", "the owner",
        (U401, C404, C404, C404, C404, ROLE, ROLE, HIGH, HIGH, SELF), member_of("owner")),
    Row("POST", "/circles/{slug}/members/{user_id}/unban", "the banned user",
        (U401, C404, C404, C404, C404, ROLE, ROLE, OK, OK, OK), member_of("banned")),
    # Targets that are not active members: the role check comes first, so a member without the right can't
    # tell a former member from someone who never joined (the member list of former members is for moderators).
    Row("POST", "/circles/{slug}/members/{user_id}/kick", "the kicked user",
        (U401, C404, C404, C404, C404, ROLE, ROLE, N404, N404, N404), member_of("kicked")),
    Row("POST", "/circles/{slug}/members/{user_id}/mute", "the banned user",
        (U401, C404, C404, C404, C404, ROLE, ROLE, N404, N404, N404), member_of("banned"), body({"minutes": 10})),
    Row("POST", "/circles/{slug}/members/{user_id}/unmute", "someone who never joined",
        (U401, C404, C404, C404, C404, ROLE, ROLE, N404, N404, N404), member_of("outsider")),
    Row("POST", "/circles/{slug}/members/{user_id}/ban", "the kicked user",
        (U401, C404, C404, C404, C404, ROLE, ROLE, OK, OK, OK), member_of("kicked")),
    Row("POST", "/circles/{slug}/members/{user_id}/ban", "someone who never joined",
        (U401, C404, C404, C404, C404, ROLE, ROLE, N404, N404, N404), member_of("outsider")),
    Row("POST", "/circles/{slug}/members/{user_id}/unban", "someone who never joined",
        (U401, C404, C404, C404, C404, ROLE, ROLE, N404, N404, N404), member_of("outsider")),
    Row("POST", "/circles/{slug}/members/{user_id}/role", "someone who never joined",
        (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, N404, N404), member_of("outsider"),
        body({"role": "moderator"})),
    Row("POST", "/circles/{slug}/transfer-ownership", "to the banned user",
        (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, ROLE, NOTM), slug, lambda w, a: {"user_id": w.uid("banned")}),
    Row("POST", "/circles/{slug}/transfer-ownership", "to someone who never joined",
        (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, ROLE, N404), slug,
        lambda w, a: {"user_id": w.uid("outsider")}),
    # Ids of this circle through the address of another: the owner there gets nothing of ours.
    Row("POST", "/circles/{slug}/members/{user_id}/kick", "our member via another circle",
        (U401, C404, N404, C404, C404, C404, C404, C404, C404, C404),
        lambda w, a: {"slug": "elsewhere", "user_id": w.uid("member")}),
    Row("DELETE", "/circles/{slug}/invites/{invite_id}", "our invite via another circle",
        (U401, C404, "404 invite_not_found", C404, C404, C404, C404, C404, C404, C404),
        lambda w, a: {"slug": "elsewhere", "invite_id": w.invite_id}),
    Row("POST", "/circles/{slug}/join-requests/{request_id}/approve", "our request via another circle",
        (U401, C404, "404 join_request_not_found", C404, C404, C404, C404, C404, C404, C404),
        lambda w, a: {"slug": "elsewhere", "request_id": w.request_id}),
    # --- groups --------------------------------------------------------------------------------------------------
    #                                 anon  outs  other banned kicked member muted  mod   admin owner
    Row("GET", "/circles/{slug}/groups", "", (U401, C404, C404, C404, C404, OK, OK, OK, OK, OK), slug),
    Row("POST", "/circles/{slug}/groups", "", (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, NEW, NEW), slug,
        body({"name": "New room"})),
    Row("GET", "/groups/{group_id}", "main", (U401, G404, G404, G404, G404, OK, OK, OK, OK, OK), group("main")),
    Row("GET", "/groups/{group_id}", "side", (U401, G404, G404, G404, G404, OK, OK, OK, OK, OK), group("side")),
    Row("PATCH", "/groups/{group_id}", "topic", (U401, G404, G404, G404, G404, ROLE, ROLE, ROLE, OK, OK),
        group("main"), body({"topic": "New topic"})),
    Row("PATCH", "/groups/{group_id}", "slow mode", (U401, G404, G404, G404, G404, ROLE, ROLE, OK, OK, OK),
        group("main"), body({"slow_mode_seconds": 30})),
    Row("POST", "/groups/{group_id}/join", "side", (U401, G404, G404, G404, G404, OK, OK, OK, OK, OK), group("side")),
    Row("POST", "/groups/{group_id}/leave", "side", (U401, G404, G404, G404, G404, OK, OK, OK, OK, OK),
        group("side")),
    Row("POST", "/groups/{group_id}/leave", "main", (U401, G404, G404, G404, G404, MAIN, MAIN, MAIN, MAIN, MAIN),
        group("main")),
    # --- messages: reading -------------------------------------------------------------------------------------
    Row("GET", "/groups/{group_id}/messages", "main", (U401, G404, G404, G404, G404, OK, OK, OK, OK, OK),
        group("main")),
    Row("GET", "/groups/{group_id}/messages", "side (not seated)",
        (U401, G404, G404, G404, G404, G404, G404, G404, OK, OK), group("side")),
    Row("GET", "/groups/{group_id}/messages", "catch up",
        (U401, G404, G404, G404, G404, OK, OK, OK, OK, OK), lambda w, a: {"group_id": w.main, "?": "after=1"}),
    Row("GET", "/groups/{group_id}/pins", "main", (U401, G404, G404, G404, G404, OK, OK, OK, OK, OK),
        group("main")),
    Row("POST", "/groups/{group_id}/read", "main", (U401, G404, G404, G404, G404, OK, OK, OK, OK, OK),
        group("main"), lambda w, a: {"message_id": w.last_message}),
    Row("POST", "/groups/{group_id}/read", "side (not seated)",
        (U401, G404, G404, G404, G404, G404, G404, G404, OK, OK), group("side"),
        lambda w, a: {"message_id": w.last_message}),
    # --- messages: writing ---------------------------------------------------------------------------------------
    #                                 anon  outs  other banned kicked member muted  mod   admin owner
    Row("POST", "/groups/{group_id}/messages", "main", (U401, G404, G404, G404, G404, NEW, MUTED, NEW, NEW, NEW),
        group("main"), body({"body": "hello"})),
    Row("POST", "/groups/{group_id}/messages", "channel",
        (U401, G404, G404, G404, G404, CHAN, CHAN, CHAN, NEW, NEW), group("channel"), body({"body": "news"})),
    Row("POST", "/groups/{group_id}/messages", "side (not seated)",
        (U401, G404, G404, G404, G404, SEAT, MUTED, SEAT, NEW, NEW), group("side"), body({"body": "hi"})),
    Row("PATCH", "/messages/{message_id}", "own",
        (U401, M404, M404, M404, M404, OK, MUTED, OK, OK, OK), message(World.message_of), body({"body": "edited"})),
    Row("PATCH", "/messages/{message_id}", "the member's",
        (U401, M404, M404, M404, M404, OK, NOTAU, NOTAU, NOTAU, NOTAU),
        message(lambda w, a: w.own_message["member"]), body({"body": "edited"})),
    Row("DELETE", "/messages/{message_id}", "own",
        (U401, M404, M404, M404, M404, OK, OK, OK, OK, OK), message(World.message_of)),
    Row("DELETE", "/messages/{message_id}", "the member's",
        (U401, M404, M404, M404, M404, OK, NOTAU, OK, OK, OK), message(lambda w, a: w.own_message["member"])),
    Row("DELETE", "/messages/{message_id}", "the moderator's",
        (U401, M404, M404, M404, M404, NOTAU, NOTAU, OK, OK, OK), message(lambda w, a: w.own_message["moderator"])),
    Row("DELETE", "/messages/{message_id}", "the admin's",
        (U401, M404, M404, M404, M404, NOTAU, NOTAU, HIGH, OK, OK), message(lambda w, a: w.own_message["admin"])),
    Row("DELETE", "/messages/{message_id}", "the owner's",
        (U401, M404, M404, M404, M404, NOTAU, NOTAU, HIGH, HIGH, OK), message(lambda w, a: w.own_message["owner"])),
    Row("POST", "/messages/{message_id}/pin", "the member's",
        (U401, M404, M404, M404, M404, ROLE, ROLE, OK, OK, OK), message(lambda w, a: w.own_message["member"])),
    Row("DELETE", "/messages/{message_id}/pin", "the pinned one",
        (U401, M404, M404, M404, M404, ROLE, ROLE, OK, OK, OK), message(lambda w, a: w.pinned)),
]



# --- money: plans, orders, refunds, wallet, revenue, payouts ---------------------------------------------------
# Objects are made inside each actor's savepoint (rolled back), so the world itself stays free of charge.


def _plan(w: World):
    from quanzi.payments.models import PricePlan

    return PricePlan.objects.create(circle=w.circle, name="Monthly", kind="monthly", amount=1999, currency="CNY")


def _order(w: World, owner: str, *, provider: str = "sandbox", paid: bool = False):
    from quanzi.payments import actions as payment_actions
    from quanzi.payments.models import Order

    order = Order.objects.create(user=w.users[owner], circle=w.circle, plan=_plan(w), amount=1999, currency="CNY",
                                 provider=provider, idempotency_key=f"matrix-{owner}")
    return payment_actions.do_mark_order_paid(order=order) if paid else order


def _own(actor: str) -> str:
    return "victim" if actor == "anon" else actor


def _funded_payout(w: World) -> int:
    """The circle has 10.00 available and the owner asked for 1.00 of it."""
    from quanzi.ledger import services as ledger
    from quanzi.payments import actions as payment_actions

    ledger.post_transaction(
        kind="test.funding", idempotency_key=f"matrix-funding-{w.circle.id}", legs=[
            (ledger.get_account("provider_clearing", currency="CNY", provider="sandbox"), -1000),
            (ledger.get_account("circle_available", currency="CNY", circle=w.circle), 1000),
        ])
    return payment_actions.do_request_payout(actor=w.users["owner"], circle=w.circle, amount=100).id


def _as_staff(w: World, actor: str) -> None:
    from quanzi.accounts.models import User

    if actor != "anon":
        User.objects.filter(id=w.uid(actor)).update(is_staff=True)


def _fund(w: World) -> dict:
    from quanzi.ledger import services as ledger

    ledger.post_transaction(
        kind="test.funding", idempotency_key=f"matrix-funding-{w.circle.id}", legs=[
            (ledger.get_account("provider_clearing", currency="CNY", provider="sandbox"), -1000),
            (ledger.get_account("circle_available", currency="CNY", circle=w.circle), 1000),
        ])
    return {"slug": w.circle.slug}


KEY = {"Idempotency-Key": "matrix-key-1"}
O404 = "404 order_not_found"
STAFF = "403 staff_only"
NOKEY = "400 idempotency_key_required"
MEMB = "409 already_member"

ROWS += [
    #                                 anon  outs  other banned kicked member muted  mod   admin owner
    Row("GET", "/circles/{slug}/plans", "", (U401, C404, C404, C404, C404, OK, OK, OK, OK, OK), slug,
        public=(U401, OK, OK, OK, OK, OK, OK, OK, OK, OK)),
    Row("GET", "/circles/{slug}/plans", "with archived", (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, OK, OK),
        lambda w, a: {"slug": w.circle.slug, "?": "include_archived=true"},
        public=(U401, NOTM, NOTM, NOTM, NOTM, ROLE, ROLE, ROLE, OK, OK)),
    Row("POST", "/circles/{slug}/plans", "", (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, NEW, NEW), slug,
        body({"name": "Monthly", "kind": "monthly", "amount": 1999})),
    Row("PATCH", "/circles/{slug}/plans/{plan_id}", "", (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, OK, OK),
        lambda w, a: {"slug": w.circle.slug, "plan_id": _plan(w).id}, body({"amount": 2999})),
    Row("DELETE", "/circles/{slug}/plans/{plan_id}", "", (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, OK, OK),
        lambda w, a: {"slug": w.circle.slug, "plan_id": _plan(w).id}),
    Row("GET", "/circles/{slug}/payment-settings", "", (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, OK, OK),
        slug),
    Row("PATCH", "/circles/{slug}/payment-settings", "",
        (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, OK, OK), slug, body({"refund_window_hours": 48})),
    # Paying: members already belong (free access, no paid_until); outsiders may pay for a public circle.
    Row("POST", "/circles/{slug}/orders", "", (U401, C404, C404, C404, C404, MEMB, MEMB, MEMB, MEMB, MEMB),
        lambda w, a: {"slug": w.circle.slug, "_": _plan(w)}, lambda w, a: {"plan_id": w.circle.price_plans.get().id},
        public=(U401, NEW, NEW, BAN, NEW, MEMB, MEMB, MEMB, MEMB, MEMB), headers=KEY),
    Row("POST", "/circles/{slug}/orders", "no Idempotency-Key",
        (U401, C404, C404, C404, C404, NOKEY, NOKEY, NOKEY, NOKEY, NOKEY),
        lambda w, a: {"slug": w.circle.slug, "_": _plan(w)}, lambda w, a: {"plan_id": w.circle.price_plans.get().id},
        public=(U401, NOKEY, NOKEY, NOKEY, NOKEY, NOKEY, NOKEY, NOKEY, NOKEY, NOKEY)),
    Row("GET", "/orders", "", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK), none),
    Row("GET", "/orders/{public_id}", "own", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK),
        lambda w, a: {"public_id": _order(w, _own(a)).public_id}),
    Row("GET", "/orders/{public_id}", "a member's", (U401, O404, O404, O404, O404, O404, O404, O404, OK, OK),
        lambda w, a: {"public_id": _order(w, "victim").public_id}),
    Row("POST", "/orders/{public_id}/refund", "own, paid", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK),
        lambda w, a: {"public_id": _order(w, _own(a), paid=True).public_id}, headers=KEY),
    Row("POST", "/orders/{public_id}/refund", "a member's, paid",
        (U401, O404, O404, O404, O404, O404, O404, O404, OK, OK),
        lambda w, a: {"public_id": _order(w, "victim", paid=True).public_id}, headers=KEY),
    Row("POST", "/orders/{public_id}/confirm", "a member's manual order",
        (U401, O404, O404, O404, O404, O404, O404, O404, OK, OK),
        lambda w, a: {"public_id": _order(w, "victim", provider="manual").public_id}, headers=KEY),
    Row("GET", "/me/wallet", "", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK), none),
    Row("GET", "/circles/{slug}/revenue", "", (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, OK, OK), slug),
    Row("GET", "/circles/{slug}/payouts", "", (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, OK, OK), slug),
    Row("POST", "/circles/{slug}/payouts", "", (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, ROLE, NEW),
        lambda w, a: _fund(w), body({"amount": 500}), headers=KEY),
    # Instance staff decide payouts; no circle role is enough (and non-staff can't probe payout ids).
    Row("POST", "/payouts/{payout_id}/paid", "", (U401, STAFF, STAFF, STAFF, STAFF, STAFF, STAFF, STAFF, STAFF,
                                                  STAFF), lambda w, a: {"payout_id": _funded_payout(w)}, headers=KEY),
    Row("POST", "/payouts/{payout_id}/paid", "by staff", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK),
        lambda w, a: {"payout_id": _funded_payout(w), "_": _as_staff(w, a)}, headers=KEY),
    Row("POST", "/payouts/{payout_id}/reject", "", (U401, STAFF, STAFF, STAFF, STAFF, STAFF, STAFF, STAFF, STAFF,
                                                    STAFF), lambda w, a: {"payout_id": _funded_payout(w)},
        headers=KEY),
    Row("POST", "/payouts/{payout_id}/reject", "by staff", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK),
        lambda w, a: {"payout_id": _funded_payout(w), "_": _as_staff(w, a)}, headers=KEY),
]

# --- feed (rows owned by the feed work) ---
# Posts and comments are made inside each actor's savepoint: "member's" by the member, "admin's" by the admin.
P404 = "404 post_not_found"


def _feed_post(author: str, **fields) -> Params:
    def params(w: World, actor: str) -> dict:
        from quanzi.feed import actions as feed_actions

        post = feed_actions.do_create_post(actor=w.users[author], circle=w.circle, body=f"by {author}", **fields)
        return {"slug": w.circle.slug, "post_id": post.id}

    return params


def _feed_comment(author: str) -> Params:
    def params(w: World, actor: str) -> dict:
        from quanzi.feed import actions as feed_actions

        post = feed_actions.do_create_post(actor=w.users["admin"], circle=w.circle, body="post")
        comment = feed_actions.do_create_comment(actor=w.users[author], circle=w.circle, post_id=post.id, body="c")
        return {"slug": w.circle.slug, "comment_id": comment.id}

    return params


MEMBERS_OK = (U401, C404, C404, C404, C404, OK, OK, OK, OK, OK)
ADMINS_OK = (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, OK, OK)
ROWS += [
    #                                            anon  outs  other banned kicked member muted  mod   admin owner
    Row("GET", "/circles/{slug}/posts", "", MEMBERS_OK, slug),
    Row("GET", "/circles/{slug}/posts", "featured, tag", MEMBERS_OK, lambda w, a: {"slug": w.circle.slug,
                                                                                    "?": "featured=true&tag=x"}),
    Row("POST", "/circles/{slug}/posts", "", (U401, C404, C404, C404, C404, NEW, MUTED, NEW, NEW, NEW), slug,
        body({"body": "hello", "tags": ["t"]})),
    Row("GET", "/circles/{slug}/posts/{post_id}", "member's", MEMBERS_OK, _feed_post("member")),
    Row("GET", "/circles/{slug}/posts/{post_id}", "moderators only",
        (U401, C404, C404, C404, C404, P404, P404, OK, OK, OK), _feed_post("admin", visibility="moderators")),
    Row("PATCH", "/circles/{slug}/posts/{post_id}", "member's",
        (U401, C404, C404, C404, C404, OK, MUTED, NOTAU, NOTAU, NOTAU), _feed_post("member"), body({"body": "new"})),
    Row("DELETE", "/circles/{slug}/posts/{post_id}", "member's",
        (U401, C404, C404, C404, C404, OK, NOTAU, OK, OK, OK), _feed_post("member")),
    Row("DELETE", "/circles/{slug}/posts/{post_id}", "admin's",
        (U401, C404, C404, C404, C404, NOTAU, NOTAU, HIGH, OK, OK), _feed_post("admin")),
    Row("POST", "/circles/{slug}/posts/{post_id}/like", "", MEMBERS_OK, _feed_post("admin")),
    Row("DELETE", "/circles/{slug}/posts/{post_id}/like", "", MEMBERS_OK, _feed_post("admin")),
    Row("POST", "/circles/{slug}/posts/{post_id}/pin", "", ADMINS_OK, _feed_post("member")),
    Row("DELETE", "/circles/{slug}/posts/{post_id}/pin", "", ADMINS_OK, _feed_post("member")),
    Row("POST", "/circles/{slug}/posts/{post_id}/feature", "", ADMINS_OK, _feed_post("member")),
    Row("DELETE", "/circles/{slug}/posts/{post_id}/feature", "", ADMINS_OK, _feed_post("member")),
    Row("GET", "/circles/{slug}/posts/{post_id}/comments", "", MEMBERS_OK, _feed_post("member")),
    Row("POST", "/circles/{slug}/posts/{post_id}/comments", "",
        (U401, C404, C404, C404, C404, NEW, MUTED, NEW, NEW, NEW), _feed_post("member"), body({"body": "nice"})),
    Row("DELETE", "/circles/{slug}/comments/{comment_id}", "member's",
        (U401, C404, C404, C404, C404, OK, NOTAU, OK, OK, OK), _feed_comment("member")),
    Row("POST", "/circles/{slug}/comments/{comment_id}/like", "", MEMBERS_OK, _feed_comment("member")),
    Row("DELETE", "/circles/{slug}/comments/{comment_id}/like", "", MEMBERS_OK, _feed_comment("member")),
]

# --- archive (rows owned by the archive work) ---
F404 = "404 file_not_found"
NOTUP = "403 not_uploader"


def _cfile(w: World, uploader: str = "member", *, image: bool = False, attached: str = "") -> str:
    """A file the member uploaded (made inside the actor's savepoint); optionally attached to a kind nobody sees."""
    from quanzi.archive import actions as archive_actions
    from quanzi.archive.models import CircleFile

    data = io.BytesIO(_png() if image else b"%PDF-1.4\n%%EOF\n")
    data.name = "pic.png" if image else "doc.pdf"
    f = archive_actions.do_upload_file(actor=w.users[uploader], circle=w.circle, upload=data)
    if attached:
        CircleFile.objects.filter(id=f.id).update(attached_kind=attached, attached_id=1)
    return f.public_id


ROWS += [
    #                                 anon  outs  other banned kicked member muted  mod   admin owner
    Row("POST", "/circles/{slug}/files", "png", (U401, C404, C404, C404, C404, NEW, MUTED, NEW, NEW, NEW), slug,
        body("avatar")),
    Row("GET", "/circles/{slug}/files", "", (U401, C404, C404, C404, C404, OK, OK, OK, OK, OK), slug),
    Row("GET", "/files/{public_id}", "member's file", (U401, F404, F404, F404, F404, OK, OK, OK, OK, OK),
        lambda w, a: {"public_id": _cfile(w)}),
    Row("GET", "/files/{public_id}", "attached to something nobody may see", (U401, *(F404,) * 9),
        lambda w, a: {"public_id": _cfile(w, attached="nothing_registered")}),
    Row("GET", "/files/{public_id}/download", "member's file", (U401, F404, F404, F404, F404, OK, OK, OK, OK, OK),
        lambda w, a: {"public_id": _cfile(w)}),
    Row("GET", "/files/{public_id}/thumbnail", "member's image",
        (U401, F404, F404, F404, F404, OK, OK, OK, OK, OK), lambda w, a: {"public_id": _cfile(w, image=True)}),
    Row("GET", "/files/{public_id}/thumbnail", "a PDF has none",
        (U401, F404, F404, F404, F404, F404, F404, F404, F404, F404), lambda w, a: {"public_id": _cfile(w)}),
    Row("DELETE", "/files/{public_id}", "member's file", (U401, F404, F404, F404, F404, OK, NOTUP, NOTUP, OK, OK),
        lambda w, a: {"public_id": _cfile(w)}),
]


def _circle_export(w: World, *, done: bool = True) -> dict:
    """An export of the circle (made inside the actor's savepoint): a finished zip in storage, or one still running."""
    from django.core.files.base import ContentFile

    from quanzi.archive.models import CircleExport
    from quanzi.archive.storage import archive_storage

    key = archive_storage().save("exports/matrix.zip", ContentFile(b"PK\x05\x06" + b"\0" * 18)) if done else ""
    export = CircleExport.objects.create(circle=w.circle, status="done" if done else "running",
                                         progress=100 if done else 40, storage_key=key, size=22 if done else 0)
    return {"slug": w.circle.slug, "export_id": export.public_id}


OWNER = "403 owner_only"
E404 = "404 export_not_found"
ROWS += [
    #                                 anon  outs  other banned kicked member muted  mod   admin owner
    Row("POST", "/circles/{slug}/exports", "", (U401, C404, C404, C404, C404, OWNER, OWNER, OWNER, OWNER, NEW), slug),
    Row("GET", "/circles/{slug}/exports", "", (U401, C404, C404, C404, C404, OWNER, OWNER, OWNER, OWNER, OK), slug),
    Row("GET", "/circles/{slug}/exports/{export_id}", "",
        (U401, C404, C404, C404, C404, OWNER, OWNER, OWNER, OWNER, OK), lambda w, a: _circle_export(w)),
    Row("GET", "/circles/{slug}/exports/{export_id}/download", "done",
        (U401, C404, C404, C404, C404, OWNER, OWNER, OWNER, OWNER, OK), lambda w, a: _circle_export(w)),
    Row("GET", "/circles/{slug}/exports/{export_id}/download", "still running",
        (U401, C404, C404, C404, C404, OWNER, OWNER, OWNER, OWNER, E404),
        lambda w, a: _circle_export(w, done=False)),
]

# --- search (rows owned by the search work) ---
ROWS += [
    #                                 anon  outs  other banned kicked member muted  mod   admin owner
    Row("GET", "/circles/{slug}/search", "q=run", (U401, C404, C404, C404, C404, OK, OK, OK, OK, OK),
        lambda w, a: {"slug": w.circle.slug, "?": "q=run&kind=message,post"}),
    Row("GET", "/circles/{slug}/search", "empty q",
        (U401, C404, C404, C404, C404, *("400 empty_query",) * 5), lambda w, a: {"slug": w.circle.slug, "?": "q="}),
    Row("GET", "/circles/{slug}/links/{snapshot_id}", "cited in the main group",
        (U401, C404, C404, C404, C404, OK, OK, OK, OK, OK),
        lambda w, a: {"slug": w.circle.slug, "snapshot_id": _snapshot(w)}),
    Row("GET", "/circles/{slug}/links", "cards of main-group messages",
        (U401, C404, C404, C404, C404, OK, OK, OK, OK, OK),
        lambda w, a: {"slug": w.circle.slug, "?": f"kind=message&ids={_snapshot(w, message_id=True)}"}),
]


def _snapshot(w: World, *, message_id: bool = False) -> int:
    """An archived link cited by a member's message in the main group (made inside the actor's savepoint)."""
    from quanzi.archive.models import LinkSnapshot, SnapshotCitation
    from quanzi.chat.models import Message

    message = Message.objects.create(group_id=w.circle.main_group_id, author=w.users["member"],
                                     body="https://example.org/", body_html="")
    snap = LinkSnapshot.objects.create(circle=w.circle, url_key=f"{message.id:064d}", url="https://example.org/",
                                       status="ok", title="Example")
    SnapshotCitation.objects.create(snapshot=snap, kind="message", object_id=message.id)
    return message.id if message_id else snap.id

# --- chat DMs (rows owned by the chat DMs work) ---
# Conversations are made inside each actor's savepoint; "victim" is a plain active member.


def _dm_member_victim(w: World):
    """The member's conversation with the victim. Both joined moments ago, and the moderation app makes
    newcomers wait before writing to plain members: they are made a month older first (rolled back)."""
    from datetime import timedelta

    from django.utils import timezone

    from quanzi.chat import dms
    from quanzi.circles.models import Membership

    Membership.objects.filter(circle=w.circle, user_id__in=[w.uid("member"), w.uid("victim")]).update(
        joined_at=timezone.now() - timedelta(days=30))
    return dms.do_start_dm(actor=w.users["member"], circle=w.circle, user_id=w.uid("victim"))


def _self_or_victim(w: World, actor: str) -> int:
    return w.uid("victim" if actor == "anon" else actor)


DMSELF = "403 dm_self"
DMNOTM = "403 dm_not_member"
DM404 = "404 dm_not_found"
NEWBIE = "403 trust_level_too_low"
ROWS += [
    #                                 anon  outs  other banned kicked member muted  mod   admin owner
    Row("GET", "/circles/{slug}/dms", "", (U401, C404, C404, C404, C404, OK, OK, OK, OK, OK), slug),
    # Newcomers (the member and the muted one joined moments ago) may write to staff only (quanzi.moderation).
    Row("POST", "/circles/{slug}/dms", "to a member", (U401, C404, C404, C404, C404, NEWBIE, NEWBIE, OK, OK, OK),
        slug, lambda w, a: {"user_id": w.uid("victim")}),
    Row("POST", "/circles/{slug}/dms", "to the moderator", (U401, C404, C404, C404, C404, OK, OK, DMSELF, OK, OK),
        slug, lambda w, a: {"user_id": w.uid("moderator")}),
    Row("POST", "/circles/{slug}/dms", "to yourself",
        (U401, C404, C404, C404, C404, DMSELF, DMSELF, DMSELF, DMSELF, DMSELF), slug,
        lambda w, a: {"user_id": _self_or_victim(w, a)}),
    Row("POST", "/circles/{slug}/dms", "to the banned user",
        (U401, C404, C404, C404, C404, DMNOTM, DMNOTM, DMNOTM, DMNOTM, DMNOTM), slug,
        lambda w, a: {"user_id": w.uid("banned")}),
    Row("GET", "/circles/{slug}/dms/{user_id}", "the member's with the victim",
        (U401, C404, C404, C404, C404, OK, DM404, DM404, DM404, DM404),
        lambda w, a: {"slug": w.circle.slug, "user_id": w.uid("victim"), "_": _dm_member_victim(w)}),
    Row("GET", "/me/blocks", "", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK), none),
    Row("PUT", "/me/blocks/{user_id}", "someone", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK),
        lambda w, a: {"user_id": w.uid("victim")}),
    Row("PUT", "/me/blocks/{user_id}", "yourself",
        (U401, *["400 block_self"] * 9), lambda w, a: {"user_id": _self_or_victim(w, a)}),
    Row("DELETE", "/me/blocks/{user_id}", "", (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK),
        lambda w, a: {"user_id": w.uid("victim")}),
    # A DM through the group and message endpoints: only its two people, whatever the role.
    Row("GET", "/groups/{group_id}", "a DM (member ↔ victim)",
        (U401, G404, G404, G404, G404, OK, G404, G404, G404, G404),
        lambda w, a: {"group_id": _dm_member_victim(w).id}),
    Row("GET", "/groups/{group_id}/messages", "a DM (member ↔ victim)",
        (U401, G404, G404, G404, G404, OK, G404, G404, G404, G404),
        lambda w, a: {"group_id": _dm_member_victim(w).id}),
    Row("POST", "/groups/{group_id}/messages", "a DM (member ↔ victim)",
        (U401, G404, G404, G404, G404, NEW, G404, G404, G404, G404),
        lambda w, a: {"group_id": _dm_member_victim(w).id}, body({"body": "psst"})),
    Row("POST", "/groups/{group_id}/join", "a DM (member ↔ victim)",
        (U401, G404, G404, G404, G404, G404, G404, G404, G404, G404),
        lambda w, a: {"group_id": _dm_member_victim(w).id}),
]

# --- moderation (rows owned by the moderation work) ---
OWNC = "400 own_content"


def _review_item(w: World) -> int:
    """The victim's message, reported by the owner (inside the actor's savepoint): a pending queue item."""
    from quanzi.moderation import actions as moderation_actions

    return moderation_actions.do_report(reporter=w.users["owner"], circle=w.circle, kind="message",
                                        object_id=w.own_message["victim"]).id


ROWS += [
    #                                 anon  outs  other banned kicked member muted  mod   admin owner
    Row("GET", "/circles/{slug}/moderation/policy", "", (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, OK, OK),
        slug),
    Row("PATCH", "/circles/{slug}/moderation/policy", "", (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, OK, OK),
        slug, body({"hold_threshold": 0.4})),
    Row("GET", "/circles/{slug}/moderation/queue", "", (U401, C404, C404, C404, C404, ROLE, ROLE, OK, OK, OK),
        slug),
    Row("POST", "/circles/{slug}/moderation/queue/{item_id}/decide", "approve a report",
        (U401, C404, C404, C404, C404, ROLE, ROLE, OK, OK, OK),
        lambda w, a: {"slug": w.circle.slug, "item_id": _review_item(w)}, body({"decision": "approve"})),
    Row("POST", "/circles/{slug}/moderation/reports", "the admin's message",
        (U401, C404, C404, C404, C404, NEW, NEW, NEW, OWNC, NEW), slug,
        lambda w, a: {"kind": "message", "object_id": w.own_message["admin"], "reason": "ad"}),
    Row("GET", "/circles/{slug}/members/{user_id}/trust", "the member's",
        (U401, C404, C404, C404, C404, OK, ROLE, OK, OK, OK), member_of("member")),
    Row("PUT", "/circles/{slug}/members/{user_id}/trust", "the victim's",
        (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, OK, OK), member_of("victim"), body({"level": 1})),
]

# --- checkins (rows owned by the checkins work) ---
CH404 = "404 challenge_not_found"
CI404 = "404 checkin_not_found"
CM404 = "404 comment_not_found"


def _challenge(w: World, actor: str, *, join: bool = False, **extra):
    """A running challenge whose window is open now (two days old); ``join`` makes the actor a participant."""
    from datetime import UTC, timedelta

    from django.utils import timezone

    from quanzi.checkins.models import Challenge, Participant

    now = timezone.now().astimezone(UTC)
    opens, closes = now - timedelta(hours=1), now + timedelta(hours=2)
    challenge = Challenge.objects.create(
        circle=w.circle, title="Matrix", start_date=opens.date() - timedelta(days=2),
        end_date=opens.date() + timedelta(days=5), window_start=opens.time().replace(second=0, microsecond=0),
        window_end=closes.time().replace(second=0, microsecond=0), days_to_complete=3,
        created_by=w.users["owner"], **extra)
    if join and w.users.get(actor) is not None:
        Participant.objects.create(challenge=challenge, user=w.users[actor], joined_at=now - timedelta(days=5))
    return challenge


def _open_for_joining(w: World, actor: str):
    from datetime import timedelta

    from django.utils import timezone

    return _challenge(w, actor, join_deadline=timezone.now() + timedelta(days=1))


def _owners_checkin(w: World):
    from datetime import timedelta

    from django.utils import timezone

    from quanzi.checkins.models import CheckIn, Participant

    challenge = _challenge(w, "owner")
    participant = Participant.objects.create(challenge=challenge, user=w.users["owner"],
                                             joined_at=timezone.now() - timedelta(days=5))
    return CheckIn.objects.create(challenge=challenge, participant=participant, user=w.users["owner"],
                                  day=challenge.start_date, text="up")


def _owners_comment(w: World) -> int:
    from quanzi.checkins.models import CheckInComment

    checkin = _owners_checkin(w)
    type(checkin).objects.filter(id=checkin.id).update(comment_count=1)
    return CheckInComment.objects.create(checkin=checkin, user=w.users["owner"], text="hi").id


def _future_challenge_body(w: World, actor: str) -> dict:
    return {"title": "Next month", "start_date": "2099-01-05", "end_date": "2099-01-18", "window_start": "05:00",
            "window_end": "08:00", "weekdays": [0, 1, 2, 3, 4]}


ROWS += [
    #                                 anon  outs  other banned kicked member muted  mod   admin owner
    Row("GET", "/circles/{slug}/challenges", "", (U401, C404, C404, C404, C404, OK, OK, OK, OK, OK), slug),
    Row("POST", "/circles/{slug}/challenges", "", (U401, C404, C404, C404, C404, ROLE, ROLE, ROLE, NEW, NEW), slug,
        _future_challenge_body),
    Row("GET", "/challenges/{challenge_id}", "", (U401, CH404, CH404, CH404, CH404, OK, OK, OK, OK, OK),
        lambda w, a: {"challenge_id": _challenge(w, a).id}),
    Row("PATCH", "/challenges/{challenge_id}", "wording",
        (U401, CH404, CH404, CH404, CH404, ROLE, ROLE, ROLE, OK, OK),
        lambda w, a: {"challenge_id": _challenge(w, a).id}, body({"title": "Renamed"})),
    Row("POST", "/challenges/{challenge_id}/join", "before the join deadline",
        (U401, CH404, CH404, CH404, CH404, OK, OK, OK, OK, OK),
        lambda w, a: {"challenge_id": _open_for_joining(w, a).id}),
    Row("POST", "/challenges/{challenge_id}/checkins", "as a participant",
        (U401, CH404, CH404, CH404, CH404, NEW, NEW, NEW, NEW, NEW),
        lambda w, a: {"challenge_id": _challenge(w, a, join=True).id}, body({"text": "早起"})),
    Row("POST", "/challenges/{challenge_id}/checkins", "not joined",
        (U401, CH404, CH404, CH404, CH404, *("403 not_participant",) * 5),
        lambda w, a: {"challenge_id": _challenge(w, a).id}, body({"text": "早起"})),
    Row("POST", "/challenges/{challenge_id}/makeups", "as a participant",
        (U401, CH404, CH404, CH404, CH404, NEW, NEW, NEW, NEW, NEW),
        lambda w, a: {"challenge_id": _challenge(w, a, join=True, makeups_allowed=1).id},
        lambda w, a: {"day": _challenge(w, "owner").start_date.isoformat(), "text": "补卡"}),
    Row("GET", "/challenges/{challenge_id}/board", "", (U401, CH404, CH404, CH404, CH404, OK, OK, OK, OK, OK),
        lambda w, a: {"challenge_id": _challenge(w, a, join=True).id}),
    Row("GET", "/challenges/{challenge_id}/calendar", "own", (U401, CH404, CH404, CH404, CH404, OK, OK, OK, OK, OK),
        lambda w, a: {"challenge_id": _challenge(w, a, join=True).id}),
    Row("GET", "/challenges/{challenge_id}/feed", "", (U401, CH404, CH404, CH404, CH404, OK, OK, OK, OK, OK),
        lambda w, a: {"challenge_id": _challenge(w, a).id}),
    Row("POST", "/checkins/{checkin_id}/like", "the owner's",
        (U401, CI404, CI404, CI404, CI404, OK, OK, OK, OK, OK),
        lambda w, a: {"checkin_id": _owners_checkin(w).id}),
    Row("DELETE", "/checkins/{checkin_id}/like", "the owner's",
        (U401, CI404, CI404, CI404, CI404, OK, OK, OK, OK, OK),
        lambda w, a: {"checkin_id": _owners_checkin(w).id}),
    Row("POST", "/checkins/{checkin_id}/comments", "the owner's",
        (U401, CI404, CI404, CI404, CI404, NEW, MUTED, NEW, NEW, NEW),
        lambda w, a: {"checkin_id": _owners_checkin(w).id}, body({"text": "加油"})),
    Row("DELETE", "/checkin-comments/{comment_id}", "the owner's",
        (U401, CM404, CM404, CM404, CM404, NOTAU, NOTAU, OK, OK, OK),
        lambda w, a: {"comment_id": _owners_comment(w)}),
]

# --- wallet top-ups and deposit settlement (rows owned by the settlement work) ---


def _topup(w: World, owner: str, *, provider: str = "manual"):
    from quanzi.payments import actions as payment_actions

    return payment_actions.do_create_topup_order(user=w.users[owner], amount=1000, currency="CNY",
                                                 provider=provider, idempotency_key=f"matrix-topup-{owner}").order


def _deposit_challenge(w: World):
    from datetime import date, time

    from quanzi.checkins.models import Challenge

    return Challenge.objects.create(circle=w.circle, title="Deposits", start_date=date(2026, 3, 2),
                                    end_date=date(2026, 3, 8), window_start=time(6), window_end=time(9),
                                    days_to_complete=5, deposit_amount=1000, created_by=w.users["owner"])


def _future_challenge(w: World, *, joined: str | None = None):
    """A challenge starting in ten days (joining and leaving are open); ``joined`` takes part already."""
    from datetime import time, timedelta

    from django.utils import timezone

    from quanzi.checkins.models import Challenge, Participant

    start = timezone.now().date() + timedelta(days=10)
    challenge = Challenge.objects.create(circle=w.circle, title="Later", start_date=start,
                                         end_date=start + timedelta(days=6), window_start=time(6),
                                         window_end=time(9), days_to_complete=5, created_by=w.users["owner"])
    if joined and w.users.get(joined) is not None:
        Participant.objects.create(challenge=challenge, user=w.users[joined])
    return challenge


ROWS += [
    #                                 anon  outs  other banned kicked member muted  mod   admin owner
    Row("POST", "/me/wallet/topups", "", (U401, NEW, NEW, NEW, NEW, NEW, NEW, NEW, NEW, NEW), none,
        body({"amount": 1000, "currency": "CNY"}), headers=KEY),
    Row("POST", "/me/wallet/topups", "no Idempotency-Key", (U401, *(NOKEY,) * 9), none, body({"amount": 1000})),
    # A manual top-up has no circle: only instance staff confirm it, and nobody else can see it.
    Row("POST", "/orders/{public_id}/confirm", "a member's manual top-up",
        (U401, O404, O404, O404, O404, O404, O404, O404, O404, O404),
        lambda w, a: {"public_id": _topup(w, "victim").public_id}, headers=KEY),
    Row("POST", "/orders/{public_id}/confirm", "a member's manual top-up, by staff",
        (U401, OK, OK, OK, OK, OK, OK, OK, OK, OK),
        lambda w, a: {"public_id": _topup(w, "victim").public_id, "_": _as_staff(w, a)}, headers=KEY),
    # The settlement report: members of the circle (organisers see every row, members their own).
    Row("GET", "/challenges/{challenge_id}/settlement", "",
        (U401, "404 challenge_not_found", "404 challenge_not_found", "404 challenge_not_found",
         "404 challenge_not_found", OK, OK, OK, OK, OK),
        lambda w, a: {"challenge_id": _deposit_challenge(w).id}),
    # Leaving before the start: only participants (the actor joined in the "joined" variant).
    Row("POST", "/challenges/{challenge_id}/leave", "",
        (U401, "404 challenge_not_found", "404 challenge_not_found", "404 challenge_not_found",
         "404 challenge_not_found", *("409 not_participant",) * 5),
        lambda w, a: {"challenge_id": _future_challenge(w).id}),
    Row("POST", "/challenges/{challenge_id}/leave", "joined",
        (U401, "404 challenge_not_found", "404 challenge_not_found", "404 challenge_not_found",
         "404 challenge_not_found", OK, OK, OK, OK, OK),
        lambda w, a: {"challenge_id": _future_challenge(w, joined=a).id}),
]

# The catch-all that answers JSON for unknown /api/ paths: the same 404 for everyone.
ROWS += [
    Row(method, "/{path:unknown}", "", (ANY404,) * len(ACTORS), lambda w, a: {"path": "no/such/thing"})
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
]


def api_operations() -> set[tuple[str, str]]:
    """(method, path) of every operation the API object routes, including hidden ones."""
    found: set[tuple[str, str]] = set()
    for _prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                found |= {(method, path) for method in operation.methods}
    return found


def test_every_api_operation_has_a_row():
    rows = {(row.method, row.path) for row in ROWS}
    operations = api_operations()
    assert operations - rows == set(), "add rows for these operations"
    assert rows - operations == set(), "these rows name operations that no longer exist"
    assert len({row.key for row in ROWS}) == len(ROWS), "two rows with the same variant"
    # The router walk and the published schema agree (the catch-all is the only hidden route).
    schema = {(m.upper(), p.removeprefix("/api")) for p, ops in api.get_openapi_schema()["paths"].items() for m in ops}
    assert operations - schema == {(m, "/{path:unknown}") for m in ("GET", "POST", "PUT", "PATCH", "DELETE")}


def test_every_row_has_one_answer_per_actor():
    for row in ROWS:
        assert len(row.expect) == len(ACTORS), row.key
        assert row.public is None or len(row.public) == len(ACTORS), row.key


# --- running a row --------------------------------------------------------------------------------------------


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, format="PNG")
    return out.getvalue()


def _url(row: Row, params: dict[str, Any]) -> str:
    query = params.pop("?", "")
    params.pop("_", None)  # a value computed only for its side effect (an object the row needs)
    path = re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", row.path).format(**params)
    return "/api" + path + (f"?{query}" if query else "")


def _call(client: Client, row: Row, world: World, actor: str):
    headers = {"Authorization": f"Bearer {world.tokens[actor]}"} if actor != "anon" else {}
    headers.update(row.headers or {})
    url = _url(row, row.params(world, actor))
    data = row.body(world, actor) if row.body else None
    method = getattr(client, row.method.lower())
    if data == "avatar":
        upload = io.BytesIO(_png())
        upload.name = "me.png"
        return method(url, {"file": upload}, headers=headers)
    if row.method == "GET":
        return method(url, headers=headers)
    payload = json.dumps(data) if data is not None else ""
    return method(url, payload, content_type="application/json", headers=headers)


def _answer(response) -> str:
    if response.status_code < 300:
        return str(response.status_code)
    try:
        code = response.json().get("code")
    except ValueError:
        code = f"<{response.get('Content-Type')}>"
    return f"{response.status_code} {code}"


@pytest.fixture(scope="module", params=["private", "public"])
def world(request, django_db_setup, django_db_blocker, tmp_path_factory):
    """One world per circle visibility for the whole module, inside a transaction rolled back at the end.

    Each test's own transaction and each actor's savepoint nest inside it, so every cell still
    starts from this exact state; building it once keeps ~1,600 requests near 15 seconds.
    """
    media = tmp_path_factory.mktemp("media")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media), transaction.atomic():
        yield build_world(make_plain_user, visibility=request.param)
        transaction.set_rollback(True)


@pytest.mark.django_db
@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.key)
def test_matrix(row: Row, world: World):
    expected = row.public if (world.visibility == "public" and row.public) else row.expect
    client = Client()
    wrong = []
    for actor, want in zip(ACTORS, expected, strict=True):
        with transaction.atomic():
            try:
                got = _answer(_call(client, row, world, actor))
            except Exception as error:  # a crash is a wrong answer too; keep checking the other actors
                got = f"crash {type(error).__name__}: {error}"
            transaction.set_rollback(True)
        if got != want:
            wrong.append(f"{actor:>12}: expected {want}, got {got}")
    assert not wrong, f"{row.key} ({world.visibility} circle)\n" + "\n".join(wrong)
