"""The only writers of posts, comments, likes, pins and features.

Each action is atomic: it loads (and on PostgreSQL locks) the actor's membership, checks the
rule in ``feed.rules``, writes, records audit rows for moderation and management, emits a
domain event, and after commit sends ``quanzi.core.content`` signals so search and link
snapshots follow every change.

Content screening (the moderation app) hooks into ``do_create_post``, ``do_create_comment`` and
``do_edit_post``: each decides ``moderation_state`` in one place, marked ``screening``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from quanzi.chat import markdown
from quanzi.chat.models import ModerationState
from quanzi.circles.models import Circle, Membership
from quanzi.core import audit
from quanzi.core.content import content_removed, content_saved
from quanzi.core.errors import InvalidInput, NotFound
from quanzi.core.events import emit
from quanzi.core.ids import as_db_id
from quanzi.moderation import gate as moderation_gate

from . import rules
from .models import Comment, CommentLike, Post, PostAttachment, PostLike, PostTag, PostVisibility

TITLE_MAX = 200
POST_MAX = 20_000
COMMENT_MAX = 5_000
TAGS_MAX = 10
TAG_MAX = 30
ATTACHMENTS_MAX = 9
_TAG_RE = re.compile(r"^[\w\-·]+$")


class FeedEvent(StrEnum):
    """Domain events of the feed (stored in ``core.DomainEvent`` like ``core.events.EventType``)."""

    POST_CREATED = "post.created"
    POST_EDITED = "post.edited"
    POST_DELETED = "post.deleted"
    POST_PINNED = "post.pinned"
    POST_UNPINNED = "post.unpinned"
    POST_FEATURED = "post.featured"
    POST_UNFEATURED = "post.unfeatured"
    POST_LIKED = "post.liked"
    COMMENT_CREATED = "comment.created"
    COMMENT_DELETED = "comment.deleted"


# --- input --------------------------------------------------------------------------------


def _locked_membership(circle_id: int, user) -> Membership | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return Membership.objects.select_for_update().filter(circle_id=circle_id, user=user).first()


def _clean_text(value: object, *, limit: int, empty_code: str, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(_("The %(what)s must be text.") % {"what": what}, code="invalid_body")
    value = value.strip()
    if not value:
        raise InvalidInput(_("The %(what)s is empty.") % {"what": what}, code=empty_code)
    if "\x00" in value:
        raise InvalidInput(_("The text contains a NUL character."), code="invalid_body")
    if len(value) > limit:
        raise InvalidInput(
            _("The %(what)s is %(n)d characters long; the limit is %(limit)d.")
            % {"what": what, "n": len(value), "limit": limit},
            code="too_long",
        )
    return value


def _clean_title(title: object) -> str:
    if title is None:
        return ""
    if not isinstance(title, str) or "\x00" in title:
        raise InvalidInput(_("The title must be text."), code="invalid_title")
    title = " ".join(title.split())
    if len(title) > TITLE_MAX:
        raise InvalidInput(_("The title can be at most %(limit)d characters.") % {"limit": TITLE_MAX},
                           code="invalid_title")
    return title


def clean_tag(tag: object) -> str:
    """A tag as stored: without a leading ``#``, lower case; letters (any script), digits, ``_``, ``-``."""
    if not isinstance(tag, str):
        raise InvalidInput(_("Tags must be text."), code="invalid_tag")
    name = tag.strip().lstrip("#").strip().lower()
    if not name or len(name) > TAG_MAX or not _TAG_RE.fullmatch(name):
        raise InvalidInput(
            _("“%(tag)s” is not a valid tag: use up to %(limit)d letters, digits, “_” or “-”.")
            % {"tag": tag[:40], "limit": TAG_MAX},
            code="invalid_tag",
        )
    return name


def clean_tags(tags: object) -> list[str]:
    """A list of tags or one string of tags separated by spaces or commas; duplicates dropped."""
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = [t for t in re.split(r"[\s,，、]+", tags) if t]
    if not isinstance(tags, list | tuple):
        raise InvalidInput(_("Tags must be a list."), code="invalid_tag")
    out: list[str] = []
    for tag in tags:
        name = clean_tag(tag)
        if name not in out:
            out.append(name)
    if len(out) > TAGS_MAX:
        raise InvalidInput(_("A post can have at most %(limit)d tags.") % {"limit": TAGS_MAX}, code="too_many_tags")
    return out


def _clean_visibility(circle: Circle, visibility: object, plan_id: object) -> tuple[str, int | None]:
    if visibility not in PostVisibility.values:
        raise InvalidInput(_("Unknown visibility."), code="invalid_visibility")
    if visibility != PostVisibility.PLAN:
        return str(visibility), None
    from quanzi.payments.models import PlanKind, PricePlan

    pid = as_db_id(plan_id)
    plan = (PricePlan.objects.filter(id=pid, circle_id=circle.id, active=True).exclude(kind=PlanKind.FREE).first()
            if pid else None)
    if plan is None:
        raise InvalidInput(_("Choose one of this circle's paid plans."), code="invalid_plan")
    return str(visibility), plan.id


def _clean_attachment_ids(file_ids: Iterable[object] | None) -> list[str]:
    """Public ids of archive files, in order, without duplicates; the archive checks ownership when attaching."""
    ids = list(dict.fromkeys(file_ids or []))
    if not all(isinstance(f, str) and 0 < len(f) <= 32 for f in ids):
        raise InvalidInput(_("Unknown attachment."), code="invalid_attachment")
    if len(ids) > ATTACHMENTS_MAX:
        raise InvalidInput(_("A post can have at most %(limit)d attachments.") % {"limit": ATTACHMENTS_MAX},
                           code="too_many_attachments")
    return ids


def _set_attachments(actor, circle: Circle, post: Post, public_ids: list[str]) -> None:
    """Show exactly these files with the post, in this order.

    New files are claimed through the archive (``do_attach_files``: the actor's own, live, unattached
    files of this circle). A file taken off the post stays attached to it, so it keeps the post's
    visibility instead of becoming a plain circle file every member sees.
    """
    from quanzi.archive.actions import do_attach_files
    from quanzi.archive.models import CircleFile

    current = dict(CircleFile.objects.filter(attached_kind="post", attached_id=post.id, deleted_at__isnull=True)
                   .values_list("public_id", "id"))
    new = [p for p in public_ids if p not in current]
    if new:
        for f in do_attach_files(actor=actor, circle=circle, public_ids=new, kind="post", object_id=post.id):
            current[f.public_id] = f.id
    PostAttachment.objects.filter(post=post).delete()
    PostAttachment.objects.bulk_create(
        [PostAttachment(post=post, file_id=current[p], position=i) for i, p in enumerate(public_ids)]
    )


def clean_post_input(circle: Circle, *, body: object, title: object = "", tags: object = None,
                     visibility: object = PostVisibility.MEMBERS, plan_id: object = None,
                     attachment_ids: Iterable[object] | None = ()) -> dict:
    """Check a new post's fields without writing anything (the web form runs it before uploading files)."""
    clean: dict = {"body": _clean_text(body, limit=POST_MAX, empty_code="empty_post", what=_("post")),
                   "title": _clean_title(title), "tags": clean_tags(tags)}
    clean["visibility"], clean["plan_id"] = _clean_visibility(circle, visibility, plan_id)
    clean["attachment_ids"] = _clean_attachment_ids(attachment_ids)
    return clean


def _screen(kind: str, *, circle: Circle, actor, text: str, membership=None, has_images: bool = False):
    """screening: the anti-ad gate (quanzi.moderation) decides the state new or edited content starts in;
    ``.state`` is visible, held or removed, and ``moderation_gate.settle`` records it once the row exists."""
    return moderation_gate.screen(actor=actor, circle=circle, kind=kind, text=text, membership=membership,
                                  has_images=has_images)


def _post_text(post: Post) -> str:
    return f"{post.title}\n\n{post.body}" if post.title else post.body


def _after_commit_saved(kind: str, object_id: int, circle_id: int, text: str, created: bool) -> None:
    sender = Post if kind == "post" else Comment
    transaction.on_commit(lambda: content_saved.send(
        sender=sender, kind=kind, object_id=object_id, circle_id=circle_id, text=text, created=created), robust=True)


def _after_commit_removed(kind: str, object_id: int, circle_id: int) -> None:
    sender = Post if kind == "post" else Comment
    transaction.on_commit(lambda: content_removed.send(
        sender=sender, kind=kind, object_id=object_id, circle_id=circle_id), robust=True)


def _post_payload(post: Post) -> dict:
    """What the circle's sockets learn: ids only (a restricted post's text never goes to everyone)."""
    return {"post_id": post.id}


def _locked_post(circle: Circle, post_id: object) -> Post:
    pid = as_db_id(post_id)
    post = Post.objects.select_for_update().filter(id=pid, circle_id=circle.id, deleted_at__isnull=True).first() \
        if pid else None
    if post is None:
        raise NotFound(_("No such post."), code="post_not_found")
    return post


def _visible_or_404(post: Post, membership: Membership | None) -> None:
    viewer = rules.Viewer(membership)
    if not rules.can_view_post_fields(viewer, author_id=post.author_id, visibility=post.visibility,
                                      plan_id=post.plan_id, moderation_state=post.moderation_state, deleted=False):
        raise NotFound(_("No such post."), code="post_not_found")


# --- posts --------------------------------------------------------------------------------


@transaction.atomic
def do_create_post(*, actor, circle: Circle, body: object, title: object = "", tags: object = None,
                   visibility: object = PostVisibility.MEMBERS, plan_id: object = None,
                   attachment_ids: Iterable[object] = ()) -> Post:
    membership = _locked_membership(circle.id, actor)
    rules.check_create_post(membership, circle)
    clean = clean_post_input(circle, body=body, title=title, tags=tags, visibility=visibility, plan_id=plan_id,
                             attachment_ids=attachment_ids)
    rules.check_choose_visibility(membership, clean["visibility"])
    body, title, tag_names = clean["body"], clean["title"], clean["tags"]
    screening = _screen("post", circle=circle, actor=actor, text=f"{title}\n\n{body}", membership=membership,
                        has_images=bool(clean["attachment_ids"]))
    post = Post.objects.create(
        circle=circle, author=actor, title=title, body=body, body_html=markdown.render(body), tags=tag_names,
        visibility=clean["visibility"], plan_id=clean["plan_id"], moderation_state=screening.state,
        created_at=timezone.now(),
    )
    moderation_gate.settle(screening, object_id=post.id)  # queue item, audit, strike when held or removed
    PostTag.objects.bulk_create([PostTag(circle=circle, post=post, name=t) for t in tag_names])
    if clean["attachment_ids"]:
        _set_attachments(actor, circle, post, clean["attachment_ids"])
    emit(FeedEvent.POST_CREATED, circle=circle, actor_id=actor.id, data={"post_id": post.id},
         payload=_post_payload(post))
    _after_commit_saved("post", post.id, circle.id, _post_text(post), True)
    return post


@transaction.atomic
def do_edit_post(*, actor, circle: Circle, post_id: object, body: object = None, title: object = None,
                 tags: object = None, visibility: object = None, plan_id: object = None,
                 attachment_ids: Iterable[object] | None = None) -> Post:
    """The author changes text, title, tags, visibility or attachments (only the fields given)."""
    membership = _locked_membership(circle.id, actor)
    post = _locked_post(circle, post_id)
    _visible_or_404(post, membership)
    rules.check_edit(membership, is_author=post.author_id == actor.id)
    fields: list[str] = []
    if body is not None:
        post.body = _clean_text(body, limit=POST_MAX, empty_code="empty_post", what=_("post"))
        post.body_html = markdown.render(post.body)
        fields += ["body", "body_html"]
    if title is not None:
        post.title = _clean_title(title)
        fields.append("title")
    tag_names = None
    if tags is not None:
        tag_names = clean_tags(tags)
        post.tags = tag_names
        fields.append("tags")
    if visibility is not None:
        post.visibility, post.plan_id = _clean_visibility(circle, visibility, plan_id)
        fields += ["visibility", "plan"]
    files = _clean_attachment_ids(attachment_ids) if attachment_ids is not None else None
    if body is not None or title is not None:
        screening = _screen("post", circle=circle, actor=actor, text=_post_text(post), membership=membership,
                            has_images=bool(files))
        if post.moderation_state != ModerationState.REMOVED:
            if post.moderation_state == ModerationState.VISIBLE and not screening.visible:
                moderation_gate.settle(screening, object_id=post.id)  # queue item, audit, strike
            post.moderation_state = screening.state if post.moderation_state == ModerationState.VISIBLE \
                else post.moderation_state  # held stays held until a moderator decides
            fields.append("moderation_state")
    post.edited_at = timezone.now()
    post.save(update_fields=[*fields, "edited_at"])
    if tag_names is not None:
        PostTag.objects.filter(post=post).exclude(name__in=tag_names).delete()
        PostTag.objects.bulk_create([PostTag(circle=circle, post=post, name=t) for t in tag_names],
                                    ignore_conflicts=True)
    if files is not None:
        _set_attachments(actor, circle, post, files)
    emit(FeedEvent.POST_EDITED, circle=circle, actor_id=actor.id, data={"post_id": post.id},
         payload=_post_payload(post))
    _after_commit_saved("post", post.id, circle.id, _post_text(post), False)
    return post


@transaction.atomic
def do_delete_post(*, actor, circle: Circle, post_id: object, reason: str = "") -> Post:
    """Soft delete by the author, or by a moderator (audited) on a lower role's post."""
    membership = _locked_membership(circle.id, actor)
    post = _locked_post(circle, post_id)
    _visible_or_404(post, membership)
    is_author = post.author_id == actor.id
    author_membership = Membership.objects.filter(circle_id=circle.id, user_id=post.author_id).first() \
        if post.author_id else None
    rules.check_delete(membership, is_author=is_author, author_membership=author_membership)
    post.deleted_at = timezone.now()
    post.deleted_by = actor
    post.save(update_fields=["deleted_at", "deleted_by"])
    if not is_author:
        audit.record(circle=circle, actor=actor, action="feed.post_delete", target_user=post.author,
                     target_repr=(post.title or post.body)[:80], reason=(reason or "")[:2000],
                     data={"post_id": post.id})
    emit(FeedEvent.POST_DELETED, circle=circle, actor_id=actor.id, target_user_id=post.author_id,
         data={"post_id": post.id}, payload=_post_payload(post))
    _after_commit_removed("post", post.id, circle.id)
    return post


@transaction.atomic
def do_set_pinned(*, actor, circle: Circle, post_id: object, pinned: bool) -> Post:
    membership = _locked_membership(circle.id, actor)
    post = _locked_post(circle, post_id)
    _visible_or_404(post, membership)
    rules.check_pin(membership)
    if post.pinned == bool(pinned):
        return post
    post.pinned, post.pinned_at = bool(pinned), (timezone.now() if pinned else None)
    post.save(update_fields=["pinned", "pinned_at"])
    audit.record(circle=circle, actor=actor, action="feed.post_pin" if pinned else "feed.post_unpin",
                 target_user=post.author, target_repr=(post.title or post.body)[:80], data={"post_id": post.id})
    emit(FeedEvent.POST_PINNED if pinned else FeedEvent.POST_UNPINNED, circle=circle, actor_id=actor.id,
         data={"post_id": post.id}, payload=_post_payload(post))
    return post


@transaction.atomic
def do_set_featured(*, actor, circle: Circle, post_id: object, featured: bool) -> Post:
    membership = _locked_membership(circle.id, actor)
    post = _locked_post(circle, post_id)
    _visible_or_404(post, membership)
    rules.check_feature(membership)
    if post.featured == bool(featured):
        return post
    post.featured, post.featured_at = bool(featured), (timezone.now() if featured else None)
    post.save(update_fields=["featured", "featured_at"])
    audit.record(circle=circle, actor=actor, action="feed.post_feature" if featured else "feed.post_unfeature",
                 target_user=post.author, target_repr=(post.title or post.body)[:80], data={"post_id": post.id})
    emit(FeedEvent.POST_FEATURED if featured else FeedEvent.POST_UNFEATURED, circle=circle, actor_id=actor.id,
         data={"post_id": post.id}, payload=_post_payload(post))
    return post


@transaction.atomic
def do_like_post(*, actor, circle: Circle, post_id: object, liked: bool = True) -> Post:
    """Like or unlike; doing it twice changes nothing. The post row lock orders concurrent likes."""
    membership = _locked_membership(circle.id, actor)
    post = _locked_post(circle, post_id)
    _visible_or_404(post, membership)
    rules.check_like(membership)
    if liked:
        if not PostLike.objects.filter(post=post, user=actor).exists():
            PostLike.objects.create(post=post, user=actor)
            Post.objects.filter(id=post.id).update(like_count=F("like_count") + 1)
            emit(FeedEvent.POST_LIKED, circle=circle, actor_id=actor.id, target_user_id=post.author_id,
                 data={"post_id": post.id}, payload=_post_payload(post), store=True)
    else:
        deleted, _rows = PostLike.objects.filter(post=post, user=actor).delete()
        if deleted:
            Post.objects.filter(id=post.id).update(like_count=F("like_count") - 1)
    post.refresh_from_db(fields=["like_count"])
    return post


# --- comments -----------------------------------------------------------------------------


@transaction.atomic
def do_create_comment(*, actor, circle: Circle, post_id: object, body: object,
                      reply_to_id: object = None) -> Comment:
    """A comment, or (``reply_to_id``) a reply: a reply to a reply hangs under the top-level comment."""
    membership = _locked_membership(circle.id, actor)
    post = _locked_post(circle, post_id)
    _visible_or_404(post, membership)
    rules.check_comment(membership)
    body = _clean_text(body, limit=COMMENT_MAX, empty_code="empty_comment", what=_("comment"))
    parent = reply_to_user = None
    if reply_to_id not in (None, "", 0):
        rid = as_db_id(reply_to_id)
        target = (Comment.objects.filter(id=rid, post=post, deleted_at__isnull=True)
                  .filter(rules.comment_filter(rules.Viewer(membership, frozenset()))).first() if rid else None)
        if target is None:
            raise NotFound(_("No such comment."), code="comment_not_found")
        parent = target if target.parent_id is None else Comment(id=target.parent_id)
        reply_to_user = target.author_id
    screening = _screen("comment", circle=circle, actor=actor, text=body, membership=membership)
    comment = Comment.objects.create(
        post=post, circle=circle, author=actor, parent_id=parent.id if parent else None,
        reply_to_user_id=reply_to_user if parent else None, thread_id=parent.id if parent else 0,
        body=body, body_html=markdown.render(body), moderation_state=screening.state, created_at=timezone.now(),
    )
    moderation_gate.settle(screening, object_id=comment.id)
    if parent is None:
        Comment.objects.filter(id=comment.id).update(thread_id=comment.id)
        comment.thread_id = comment.id
    Post.objects.filter(id=post.id).update(comment_count=F("comment_count") + 1)
    emit(FeedEvent.COMMENT_CREATED, circle=circle, actor_id=actor.id, target_user_id=post.author_id,
         data={"post_id": post.id, "comment_id": comment.id}, payload={"post_id": post.id, "comment_id": comment.id})
    _after_commit_saved("comment", comment.id, circle.id, body, True)
    return comment


def _locked_comment(circle: Circle, comment_id: object) -> Comment:
    cid = as_db_id(comment_id)
    comment = (Comment.objects.select_for_update().filter(id=cid, circle_id=circle.id, deleted_at__isnull=True)
               .select_related("post").first() if cid else None)
    if comment is None or comment.post.deleted_at is not None:
        raise NotFound(_("No such comment."), code="comment_not_found")
    return comment


def _comment_visible_or_404(comment: Comment, membership: Membership | None) -> None:
    viewer = rules.Viewer(membership)
    visible_comment = viewer.moderator or comment.moderation_state == ModerationState.VISIBLE or (
        comment.author_id == viewer.user_id and comment.moderation_state != ModerationState.REMOVED)
    post = comment.post
    if not visible_comment or not rules.can_view_post_fields(
        viewer, author_id=post.author_id, visibility=post.visibility, plan_id=post.plan_id,
        moderation_state=post.moderation_state, deleted=False,
    ):
        raise NotFound(_("No such comment."), code="comment_not_found")


@transaction.atomic
def do_delete_comment(*, actor, circle: Circle, comment_id: object, reason: str = "") -> Comment:
    membership = _locked_membership(circle.id, actor)
    comment = _locked_comment(circle, comment_id)
    _comment_visible_or_404(comment, membership)
    is_author = comment.author_id == actor.id
    author_membership = Membership.objects.filter(circle_id=circle.id, user_id=comment.author_id).first() \
        if comment.author_id else None
    rules.check_delete(membership, is_author=is_author, author_membership=author_membership)
    comment.deleted_at = timezone.now()
    comment.deleted_by = actor
    comment.save(update_fields=["deleted_at", "deleted_by"])
    Post.objects.filter(id=comment.post_id, comment_count__gt=0).update(comment_count=F("comment_count") - 1)
    if not is_author:
        audit.record(circle=circle, actor=actor, action="feed.comment_delete", target_user=comment.author,
                     target_repr=comment.body[:80], reason=(reason or "")[:2000],
                     data={"post_id": comment.post_id, "comment_id": comment.id})
    emit(FeedEvent.COMMENT_DELETED, circle=circle, actor_id=actor.id, target_user_id=comment.author_id,
         data={"post_id": comment.post_id, "comment_id": comment.id},
         payload={"post_id": comment.post_id, "comment_id": comment.id})
    _after_commit_removed("comment", comment.id, circle.id)
    return comment


@transaction.atomic
def do_like_comment(*, actor, circle: Circle, comment_id: object, liked: bool = True) -> Comment:
    membership = _locked_membership(circle.id, actor)
    comment = _locked_comment(circle, comment_id)
    _comment_visible_or_404(comment, membership)
    rules.check_like(membership)
    if liked:
        try:
            with transaction.atomic():
                CommentLike.objects.create(comment=comment, user=actor)
        except IntegrityError:
            pass
        else:
            Comment.objects.filter(id=comment.id).update(like_count=F("like_count") + 1)
    else:
        deleted, _rows = CommentLike.objects.filter(comment=comment, user=actor).delete()
        if deleted:
            Comment.objects.filter(id=comment.id).update(like_count=F("like_count") - 1)
    comment.refresh_from_db(fields=["like_count"])
    return comment
