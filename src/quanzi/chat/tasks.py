"""Background work for chat: notices for channel posts and @all, which can reach 10k users."""

from __future__ import annotations

from django.db import transaction
from django.tasks import task

from .models import GroupKind, GroupMember, Message, Notice, NoticeKind


@task()
def fan_out_notices(*, message_id: int, kind: str) -> int:
    """Create one notice per recipient. Safe to retry: users already noticed are skipped."""
    from quanzi.circles.models import Membership, MembershipStatus

    from .actions import notify_many

    message = Message.objects.select_related("group", "author").filter(id=message_id).first()
    if message is None or message.deleted_at is not None:
        return 0
    group = message.group
    if group.kind == GroupKind.CHANNEL and kind == NoticeKind.CHANNEL_POST:
        recipients = Membership.objects.filter(
            circle_id=group.circle_id, status=MembershipStatus.ACTIVE, follows_channel=True
        ).values_list("user_id", flat=True)
    else:
        recipients = GroupMember.objects.filter(group=group).values_list("user_id", flat=True)
    already = set(Notice.objects.filter(message=message, kind=kind).values_list("user_id", flat=True))
    targets = [uid for uid in recipients if uid != message.author_id and uid not in already]
    author = message.author.name if message.author else group.name
    text = f"{group.name} · {author}: {message.body[:140]}"
    with transaction.atomic():
        notify_many(targets, circle_id=group.circle_id, kind=kind, text=text, message=message)
    return len(targets)
