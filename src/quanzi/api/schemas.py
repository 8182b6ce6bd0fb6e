"""Request and response shapes of the REST API.

Input schemas check types only; lengths, choices and every business rule are checked by
the actions (one place), which answer with a domain error code the client can act on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Field, Schema

MAX_PAGE = 100
MAX_ID = 2**63 - 1

# Database ids: bounded so an absurd number is a 422, not an integer overflow in the database.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Cursor = Annotated[int, Field(ge=0, le=MAX_ID)]

# The statuses any operation may answer with an ErrorOut body (ninja's own ``codes_4xx``
# leaves out 422, the validation error).
ERROR_STATUSES = frozenset({400, 401, 403, 404, 409, 413, 422, 429})

class ErrorOut(Schema):
    code: str = Field(description="Stable machine-readable error code, e.g. `higher_role`.")
    message: str = Field(description="Human-readable explanation, translated.")
    retry_after: float | None = Field(None, description="Seconds to wait (429 only).")
    errors: list[dict[str, Any]] | None = Field(None, description="Field errors (422 only).")


def errors_for(ok: dict[int, Any]) -> dict[Any, Any]:
    """Response map for an operation: its success shapes plus the shared error body for 4xx."""
    responses: dict[Any, Any] = dict(ok)
    responses[ERROR_STATUSES] = ErrorOut
    return responses


class OkOut(Schema):
    ok: bool = True


class PageParams(Schema):
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=10_000_000)


class UserBrief(Schema):
    id: int
    username: str
    name: str
    avatar: str | None = None


# --- accounts -----------------------------------------------------------------------------


class MeOut(Schema):
    id: int
    username: str
    email: str
    name: str
    display_name: str
    bio: str
    language: str
    timezone: str
    avatar: str | None = None


class MePatch(Schema):
    display_name: str | None = None
    bio: str | None = None
    language: str | None = None
    timezone: str | None = None


class TokenCreateIn(Schema):
    name: str = Field(description="A label such as the device or script using the token.")
    username: str | None = Field(None, description="With `password`: for clients that have no session.")
    password: str | None = None


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class TokenCreatedOut(TokenOut):
    token: str = Field(description="The raw bearer token. Shown only in this response; store it now.")


class TokenList(Schema):
    items: list[TokenOut]
    total: int


# --- circles ------------------------------------------------------------------------------


class MyMembershipOut(Schema):
    role: str
    status: str
    follows_channel: bool
    onboarding_done: bool
    muted_until: datetime | None = None
    paid_until: datetime | None = None
    joined_at: datetime


class CircleOut(Schema):
    id: int
    slug: str
    name: str
    description: str
    avatar: str | None = None
    visibility: str
    join_mode: str
    timezone: str
    language: str
    member_count: int
    created_at: datetime
    main_group_id: int | None = None
    channel_group_id: int | None = None
    membership: MyMembershipOut | None = Field(None, description="The caller's own membership, if any.")


class CircleDetailOut(CircleOut):
    rules_text: str
    welcome_template: str
    dm_policy: str = Field("members", description="Who may send direct messages: members, admins or off.")
    members_can_post: bool = Field(True, description="Members may publish feed posts (else moderators and up).")
    upload_limit_mb: int = Field(20, description="Largest file a member may upload, in MB.")


class CirclePage(Schema):
    items: list[CircleOut]
    total: int
    limit: int
    offset: int


class CircleCreate(Schema):
    name: str
    slug: str | None = Field(None, description="Address; derived from the name when omitted.")
    description: str = ""
    rules_text: str = ""
    visibility: str = "public"
    join_mode: str = "open"
    timezone: str = "UTC"
    language: str = "en"
    welcome_template: str | None = None
    with_channel: bool = Field(False, description="Also create the announcement channel.")


class CirclePatch(Schema):
    name: str | None = None
    description: str | None = None
    rules_text: str | None = None
    visibility: str | None = None
    join_mode: str | None = None
    timezone: str | None = None
    language: str | None = None
    welcome_template: str | None = None
    dm_policy: str | None = Field(None, description="Direct messages: members (anyone), admins (members may "
                                  "message moderators and up only) or off.")
    members_can_post: bool | None = Field(None, description="Members may publish feed posts.")
    upload_limit_mb: int | None = Field(None, description="Largest upload in MB (1 to the server's cap).")


class JoinIn(Schema):
    message: str = Field("", description="For circles that need approval: a note to the moderators.")


class JoinRequestOut(Schema):
    id: int
    circle_id: int
    user: UserBrief
    message: str
    status: str
    created_at: datetime
    decided_at: datetime | None = None
    decided_by_id: int | None = None


class JoinRequestPage(Schema):
    items: list[JoinRequestOut]
    total: int
    limit: int
    offset: int


class JoinResultOut(Schema):
    status: Literal["joined", "requested"]
    circle: CircleOut
    join_request: JoinRequestOut | None = None


class DecideIn(Schema):
    reason: str = ""


class MemberOut(Schema):
    user: UserBrief
    role: str
    status: str
    muted_until: datetime | None = None
    follows_channel: bool
    paid_until: datetime | None = None
    joined_at: datetime
    left_at: datetime | None = None


class MemberPage(Schema):
    items: list[MemberOut]
    total: int
    limit: int
    offset: int


class RoleIn(Schema):
    role: str
    reason: str = ""


class MuteIn(Schema):
    minutes: int = Field(description="From 1 minute to one year.")
    reason: str = ""


class ReasonIn(Schema):
    reason: str = ""


class TransferIn(Schema):
    user_id: Id
    reason: str = ""


class InviteOut(Schema):
    id: int
    code: str
    created_at: datetime
    created_by: UserBrief | None = None
    expires_at: datetime | None = None
    max_uses: int | None = None
    uses: int
    revoked_at: datetime | None = None
    note: str
    usable: bool


class InvitePage(Schema):
    items: list[InviteOut]
    total: int
    limit: int
    offset: int


class InviteCreate(Schema):
    expires_in_hours: int | None = Field(None, description="1 hour to 1 year; none for no expiry.")
    max_uses: int | None = Field(None, description="1 to 1,000,000; none for unlimited.")
    note: str = ""


class InviteCircleOut(Schema):
    slug: str
    name: str
    description: str
    member_count: int
    join_mode: str
    avatar: str | None = None


class InvitePreviewOut(Schema):
    code: str
    circle: InviteCircleOut
    usable: bool
    reason: str | None = Field(None, description="Why not usable: invite_revoked, invite_expired, invite_used_up.")


class AuditOut(Schema):
    id: int
    action: str
    actor: UserBrief | None = None
    target_user: UserBrief | None = None
    target_repr: str
    reason: str
    data: dict[str, Any]
    created_at: datetime


class AuditPage(Schema):
    items: list[AuditOut]
    total: int
    limit: int
    offset: int


class StatsOut(Schema):
    member_count: int
    followers: int
    follow_rate: float = Field(description="Channel followers / active members (0 to 1).")
    by_role: dict[str, int]


# --- chat ---------------------------------------------------------------------------------


class GroupOut(Schema):
    id: int
    circle_id: int
    name: str
    topic: str
    kind: str
    mute_all: bool
    slow_mode_seconds: int
    created_at: datetime
    joined: bool
    member_total: int


class GroupList(Schema):
    items: list[GroupOut]
    total: int


class GroupCreate(Schema):
    name: str
    topic: str = ""
    kind: str = Field("group", description="`group`, or `channel` for the announcement channel.")


class GroupPatch(Schema):
    name: str | None = None
    topic: str | None = None
    mute_all: bool | None = None
    slow_mode_seconds: int | None = None
    reason: str = ""


class ReplyRef(Schema):
    id: int
    author_id: int | None = None
    excerpt: str


class MessageOut(Schema):
    """Mirrors ``chat.selectors.message_to_dict`` — the one message shape everywhere."""

    id: int
    group_id: int
    kind: str
    author: UserBrief | None = None
    body: str
    html: str
    reply_to: ReplyRef | None = None
    mentions: list[int]
    mentions_all: bool
    created_at: str
    edited_at: str | None = None
    deleted: bool
    pinned: bool
    client_id: str | None = None
    moderation_state: str = Field("visible", description="visible; held (waiting for review, shown only to its "
                                  "author); removed (taken down as an ad)")


class MessagePage(Schema):
    items: list[MessageOut]
    has_more: bool = Field(description="More messages exist in the direction you paged.")
    next_before: int | None = Field(None, description="Pass as `before` for older messages.")
    next_after: int | None = Field(None, description="Pass as `after` for newer messages.")


class MessageList(Schema):
    items: list[MessageOut]


class MessageCreate(Schema):
    body: str
    reply_to: Id | None = None
    client_id: str = Field("", max_length=64, description="Retrying with the same id returns the same message.")


class MessagePatch(Schema):
    body: str


class ReadIn(Schema):
    message_id: Cursor


class ReadOut(Schema):
    group_id: int
    last_read_message_id: int


class UnreadGroup(Schema):
    group_id: int
    circle_id: int
    unread: int


class UnreadOut(Schema):
    groups: list[UnreadGroup]
    total: int
    notices: int


class NoticeOut(Schema):
    """Mirrors ``chat.selectors.notice_to_dict``."""

    id: int
    kind: str
    circle_id: int | None = None
    text: str
    message_id: int | None = None
    created_at: str
    read: bool


class NoticePage(Schema):
    items: list[NoticeOut]
    total: int
    unread: int
    limit: int
    offset: int


class NoticesReadIn(Schema):
    ids: list[Id] | None = Field(None, max_length=1000, description="Notice ids; omit to mark all as read.")


class CountOut(Schema):
    count: int
