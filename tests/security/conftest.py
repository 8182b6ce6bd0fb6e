"""Fixtures for the permission matrices: a circle with one user per kind of actor."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.core.cache import cache
from django.utils import timezone, translation

from quanzi.accounts import actions as account_actions
from quanzi.accounts.models import User
from quanzi.chat import actions as chat_actions
from quanzi.chat.models import Group, Message
from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Circle, Role

# Who asks. "other_circle" owns a circle of their own (every right there, none here);
# "banned" and "kicked" were members, posted, and were removed by the owner.
ACTORS = ("anon", "outsider", "other_circle", "banned", "kicked", "member", "muted", "moderator", "admin", "owner")
# Actors with a membership row that once was active: each wrote one message in the main group.
AUTHORS = ("owner", "admin", "moderator", "member", "muted", "banned", "kicked", "victim")


@dataclass
class World:
    """Ids of everything a request in the matrix may name, built through the real actions."""

    circle: Circle
    visibility: str
    users: dict[str, User | None] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # actor → raw bearer token
    token_ids: dict[str, int] = field(default_factory=dict)  # actor → id of that token
    own_message: dict[str, int] = field(default_factory=dict)  # author → their message in the main group
    main: int = 0
    channel: int = 0
    side: int = 0  # a group only the owner and the admin sit in
    pinned: int = 0  # the admin's message, pinned
    last_message: int = 0
    invite_code: str = ""
    invite_id: int = 0
    request_id: int = 0  # the applicant's pending join request
    spare_token_id: int = 0  # a second token of the owner's

    def uid(self, key: str) -> int:
        user = self.users[key]
        assert user is not None
        return user.id

    def message_of(self, actor: str) -> int:
        """The actor's own message; people who never posted here get the member's."""
        return self.own_message.get(actor, self.own_message["member"])


def make_plain_user(username: str) -> User:
    """A user for module-scoped worlds (``make_user`` is per test); bearer tokens only, no password."""
    return User.objects.create_user(username=username, email=f"{username}@example.com", password=None)


def build_world(make_user, *, visibility: str) -> World:
    owner = make_user("owner")
    circle = circle_actions.do_create_circle(
        owner=owner, name="Quiet Garden", slug="garden", rules_text="Be kind.", with_channel=True,
        visibility="public", join_mode="open",
    )
    w = World(circle=circle, visibility=visibility, users={"anon": None, "owner": owner})
    for key in ("admin", "moderator", "member", "muted", "banned", "kicked", "victim"):
        user = make_user(key)
        circle_actions.do_join_circle(user=user, circle=circle)
        w.users[key] = user
    circle_actions.do_set_role(actor=owner, circle=circle, user_id=w.uid("admin"), role=Role.ADMIN)
    circle_actions.do_set_role(actor=owner, circle=circle, user_id=w.uid("moderator"), role=Role.MODERATOR)

    main = Group.objects.get(id=circle.main_group_id)
    for key in AUTHORS:
        message = chat_actions.do_send_message(sender=w.users[key], group=main, body=f"hello from {key}")
        w.own_message[key] = message.id
    chat_actions.do_set_pinned(actor=owner, message_id=w.own_message["admin"], pinned=True)
    circle_actions.do_mute_member(actor=owner, circle=circle, user_id=w.uid("muted"), minutes=60)
    circle_actions.do_ban_member(actor=owner, circle=circle, user_id=w.uid("banned"), reason="spam")
    circle_actions.do_kick_member(actor=owner, circle=circle, user_id=w.uid("kicked"), reason="rude")

    side = chat_actions.do_create_group(actor=owner, circle=circle, name="Side room")
    chat_actions.do_join_group(user=w.users["admin"], group=side)
    chat_actions.do_send_message(sender=owner, group=side, body="side talk")

    w.users["outsider"] = make_user("outsider")
    w.users["other_circle"] = make_user("elsewhere_owner")
    circle_actions.do_create_circle(owner=w.users["other_circle"], name="Elsewhere", slug="elsewhere")

    # From here on the circle takes requests: the applicant's is waiting.
    circle_actions.do_update_circle(actor=owner, circle=circle, visibility=visibility, join_mode="approval")
    applicant = make_user("applicant")
    w.request_id = circle_actions.do_join_circle(user=applicant, circle=circle).join_request.id
    invite = circle_actions.do_create_invite(actor=owner, circle=circle)
    w.invite_code, w.invite_id = invite.code, invite.id

    for key in ACTORS[1:]:
        token, raw = account_actions.do_create_token(user=w.users[key], name="matrix")
        w.tokens[key], w.token_ids[key] = raw, token.id
    w.spare_token_id = account_actions.do_create_token(user=owner, name="spare")[0].id

    w.main, w.channel, w.side = circle.main_group_id, circle.channel_group_id, side.id
    w.pinned = w.own_message["admin"]
    w.last_message = Message.objects.filter(group_id=w.main).order_by("-id").values_list("id", flat=True)[0]
    circle.refresh_from_db()
    return w


@pytest.fixture(autouse=True)
def _private_cache(settings, request):
    """Anything the API keeps in the cache stays in this test (never FLUSHDB a shared Redis)."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": request.node.nodeid}
    }
    cache.clear()


@pytest.fixture(autouse=True)
def _reset_thread_locale():
    """Bearer requests activate the user's language and zone on this thread; don't leak them."""
    yield
    translation.deactivate()
    timezone.deactivate()
