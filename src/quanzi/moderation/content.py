"""One interface over the kinds of content the review queue handles: chat messages (DMs included),
feed posts and feed comments. Load a row, tell whether a member can see it, and change its
moderation state (telling open clients when a chat message appears or disappears)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from quanzi.chat.models import GroupKind, GroupMember, Message, ModerationState
from quanzi.core.content import content_removed, content_saved
from quanzi.core.errors import InvalidInput, NotFound
from quanzi.core.events import EventType, emit
from quanzi.core.ids import as_db_id

from .models import ContentKind


@dataclass
class ContentRef:
    kind: str
    object_id: int
    circle_id: int
    author_id: int | None
    text: str
    state: str
    group_id: int | None = None
    row: Any = None


def _feed_model(name: str):
    try:
        return apps.get_model("feed", name)
    except LookupError:  # pragma: no cover - the feed app is always installed
        return None


def load(kind: str, object_id: int | str, *, circle_id: int | None = None) -> ContentRef:
    """The content row (not deleted); a missing one, or one of another circle, is NotFound."""
    if kind not in ContentKind.values or kind == ContentKind.BIO:
        raise InvalidInput(_("You can report chat messages, posts and comments."), code="invalid_kind")
    oid = as_db_id(object_id)
    missing = NotFound(_("No such content."), code="content_not_found")
    if oid is None:
        raise missing
    if kind == ContentKind.MESSAGE:
        row = Message.objects.select_related("group").filter(id=oid, deleted_at__isnull=True).first()
        if row is None or row.author_id is None or (circle_id is not None and row.group.circle_id != circle_id):
            raise missing
        return ContentRef(kind, row.id, row.group.circle_id, row.author_id, row.body, row.moderation_state,
                          group_id=row.group_id, row=row)
    model = _feed_model("Post" if kind == ContentKind.POST else "Comment")
    row = model.objects.filter(id=oid, deleted_at__isnull=True).first() if model else None
    if row is None or (circle_id is not None and row.circle_id != circle_id):
        raise missing
    text = row.body if kind == ContentKind.COMMENT else "\n".join(p for p in (row.title, row.body) if p)
    return ContentRef(kind, row.id, row.circle_id, row.author_id, text, row.moderation_state, row=row)


def can_see(ref: ContentRef, user, membership) -> bool:
    """Whether a member sees this content now (what they may report)."""
    if ref.state != ModerationState.VISIBLE:
        return False
    if ref.kind == ContentKind.MESSAGE:
        if ref.row.group.kind == GroupKind.DM:  # only its two people see (and may report) a direct message
            from quanzi.chat.models import DmPair

            return DmPair.objects.filter(Q(low_user=user) | Q(high_user=user), group_id=ref.group_id).exists()
        return GroupMember.objects.filter(group_id=ref.group_id, user=user).exists()
    from quanzi.feed import rules as feed_rules

    post = ref.row if ref.kind == ContentKind.POST else ref.row.post
    if post.deleted_at is not None:
        return False
    return feed_rules.can_view_post_fields(
        feed_rules.Viewer(membership), author_id=post.author_id, visibility=post.visibility, plan_id=post.plan_id,
        moderation_state=post.moderation_state, deleted=False,
    )


def set_state(ref: ContentRef, state: str, *, actor_id: int | None) -> None:
    """Change the content's moderation state; chat clients learn of a message appearing or going away."""
    previous = ref.state
    if previous == state:
        return
    row = ref.row
    row.moderation_state = state
    row.save(update_fields=["moderation_state"])
    ref.state = state
    # Search and link snapshots follow what others can see.
    sender = type(row)
    kind, object_id, circle_id = ref.kind, ref.object_id, ref.circle_id
    if state == ModerationState.VISIBLE:
        text = ref.text
        transaction.on_commit(lambda: content_saved.send(sender=sender, kind=kind, object_id=object_id,
                                                         circle_id=circle_id, text=text, created=True), robust=True)
    elif previous == ModerationState.VISIBLE:
        transaction.on_commit(lambda: content_removed.send(sender=sender, kind=kind, object_id=object_id,
                                                           circle_id=circle_id), robust=True)
    if ref.kind != ContentKind.MESSAGE:
        return
    from quanzi.chat.selectors import message_to_dict

    if state == ModerationState.VISIBLE:
        # Approved: everyone in the group gets it now, as if it had just been sent.
        emit(EventType.MESSAGE_NEW, circle=ref.circle_id, actor_id=ref.author_id, group_id=ref.group_id,
             data={"message_id": row.id, "approved_by": actor_id},
             payload={"message": message_to_dict(row, mentioned_ids=[])})
    elif previous == ModerationState.VISIBLE:
        # Others saw it: their clients drop it (the same frame as a deletion).
        emit(EventType.MESSAGE_DELETED, circle=ref.circle_id, actor_id=actor_id, group_id=ref.group_id,
             data={"message_id": row.id, "by_moderation": True}, payload={"message_id": row.id})
