"""REST operations of the feed: posts (cursor pages), comments, likes, pins and features.

The same rules as the web pages (``quanzi.feed.rules``), through the same actions and selectors.
Anyone without an active membership gets the circle's 404; posts a member may not see answer
like missing ones (404 ``post_not_found``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from quanzi.circles.models import Circle
from quanzi.feed import actions, fastsql, selectors
from quanzi.feed.rules import Viewer, held_plans

from .auth import current_user
from .circles import member_circle
from .schemas import Id, UserBrief, errors_for

router = Router(tags=["feed"])


# --- shapes -------------------------------------------------------------------------------


class AttachmentOut(Schema):
    id: str = Field(description="The archive file's public id.")
    name: str
    kind: str = Field(description="`image`, `file` or `voice`.")
    size: int | None = None
    content_type: str | None = None
    url: str | None = None
    thumbnail_url: str | None = None


class PostOut(Schema):
    """Mirrors ``feed.selectors._post_dict``."""

    id: int
    circle_id: int
    author: UserBrief | None = None
    title: str
    body: str
    html: str = Field(description="Sanitised HTML of the markdown body.")
    tags: list[str]
    visibility: str = Field(description="`members`, `moderators` or `plan`.")
    plan_id: int | None = None
    moderation_state: str = Field(description="`visible`, or `held` (awaiting review; author and moderators).")
    pinned: bool
    featured: bool
    like_count: int
    comment_count: int
    liked: bool
    created_at: datetime
    edited_at: datetime | None = None
    attachments: list[AttachmentOut]
    can_edit: bool
    can_delete: bool


class PostPage(Schema):
    items: list[PostOut]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; null at the end.")


class PostCreate(Schema):
    body: str
    title: str = ""
    tags: list[str] = Field(default_factory=list, description="Up to 10 tags (letters, digits, `_`, `-`).")
    visibility: str = Field("members", description="`members`, `moderators` or `plan` (with `plan_id`).")
    plan_id: Id | None = None
    attachments: list[str] = Field(default_factory=list, description="Public ids of your uploaded archive files.")


class PostPatch(Schema):
    body: str | None = None
    title: str | None = None
    tags: list[str] | None = None
    visibility: str | None = None
    plan_id: Id | None = None
    attachments: list[str] | None = None


class CommentOut(Schema):
    id: int
    post_id: int
    parent_id: int | None = Field(None, description="The top-level comment this reply hangs under.")
    author: UserBrief | None = None
    reply_to_user: str | None = Field(None, description="Username the reply answers.")
    body: str
    html: str
    moderation_state: str
    like_count: int
    liked: bool
    created_at: datetime
    edited_at: datetime | None = None
    can_delete: bool


class CommentPage(Schema):
    items: list[CommentOut]
    next_cursor: str | None = None


class CommentCreate(Schema):
    body: str
    reply_to: Id | None = Field(None, description="Reply to this comment (replies to replies join its thread).")


class LikeOut(Schema):
    liked: bool
    like_count: int


class DeletedOut(Schema):
    id: int
    deleted: bool = True


class FlagOut(Schema):
    id: int
    pinned: bool
    featured: bool


# --- helpers ------------------------------------------------------------------------------


def _viewer(request: HttpRequest, slug: str) -> tuple[Any, Viewer]:
    circle, membership = member_circle(request, slug)
    return circle, Viewer(membership)


def _post(circle, viewer: Viewer, post_id: int) -> dict:
    return selectors.post_detail(circle, viewer, post_id)


# --- posts --------------------------------------------------------------------------------


_ENCODER = DjangoJSONEncoder()


def _json_datetime(value: datetime | None) -> str | None:
    """``DjangoJSONEncoder``'s text for a datetime (milliseconds, ``Z`` for UTC); a test compares the two."""
    if value is None:
        return None
    text = value.isoformat()
    if value.microsecond:
        text = text[:23] + text[26:]
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@router.get("/circles/{slug}/posts", response=errors_for({200: PostPage}))
def list_posts(request: HttpRequest, slug: str, cursor: str | None = None,
               limit: int = Query(selectors.DEFAULT_PAGE, ge=1, le=selectors.MAX_PAGE),
               featured: bool = False, tag: str | None = None):
    """The feed: pinned posts first, then newest first. Page with `next_cursor`; `featured=true` keeps
    featured (精华) posts; `tag` keeps posts with that tag."""
    user = current_user(request)
    # The hottest read: one statement finds circle, membership and the plans the member paid for;
    # anything unusual takes the standard path.
    now = timezone.now()
    found = fastsql.membership_by_slug(slug, user.id, now)
    if found is not None and found[1].is_active:
        circle, membership = Circle(id=found[0], slug=slug), found[1]
        viewer = Viewer(membership, plan_ids=held_plans(membership, found[2], now))  # moderators see all anyway
    else:
        circle, membership = member_circle(request, slug)
        viewer = Viewer(membership)
    page = selectors.feed_page(circle, viewer, cursor=cursor, limit=limit, featured=featured, tag=tag)
    # Rows are built by the selector in the documented shape (PostPage); skipping the schema round trip
    # halves the page's cost. Datetimes are written as DjangoJSONEncoder (what ninja renders with) writes
    # them, up front, so the C encoder never calls back into Python for the 40 timestamps of a page.
    for item in page.items:
        item["created_at"] = _json_datetime(item["created_at"])
        item["edited_at"] = _json_datetime(item["edited_at"])
    body = json.dumps({"items": page.items, "next_cursor": page.next_cursor}, default=_ENCODER.default,
                      ensure_ascii=False)
    return HttpResponse(body, content_type="application/json; charset=utf-8")


@router.post("/circles/{slug}/posts", response=errors_for({201: PostOut}))
def create_post(request: HttpRequest, slug: str, payload: PostCreate):
    """Publish a post (members, if the circle lets them; moderators and up always)."""
    user = current_user(request)
    circle, viewer = _viewer(request, slug)
    post = actions.do_create_post(actor=user, circle=circle, body=payload.body, title=payload.title,
                                  tags=payload.tags, visibility=payload.visibility, plan_id=payload.plan_id,
                                  attachment_ids=payload.attachments)
    return Status(201, _post(circle, viewer, post.id))


@router.get("/circles/{slug}/posts/{post_id}", response=errors_for({200: PostOut}))
def get_post(request: HttpRequest, slug: str, post_id: Id):
    circle, viewer = _viewer(request, slug)
    return _post(circle, viewer, post_id)


@router.patch("/circles/{slug}/posts/{post_id}", response=errors_for({200: PostOut}))
def edit_post(request: HttpRequest, slug: str, post_id: Id, payload: PostPatch):
    """The author edits the fields given."""
    user = current_user(request)
    circle, viewer = _viewer(request, slug)
    fields = payload.dict(exclude_unset=True)
    actions.do_edit_post(actor=user, circle=circle, post_id=post_id, body=fields.get("body"),
                         title=fields.get("title"), tags=fields.get("tags"), visibility=fields.get("visibility"),
                         plan_id=fields.get("plan_id"), attachment_ids=fields.get("attachments"))
    return _post(circle, viewer, post_id)


@router.delete("/circles/{slug}/posts/{post_id}", response=errors_for({200: DeletedOut}))
def delete_post(request: HttpRequest, slug: str, post_id: Id, reason: str = ""):
    """The author, or a moderator on a lower role's post (audited)."""
    circle, _viewer_ = _viewer(request, slug)
    post = actions.do_delete_post(actor=current_user(request), circle=circle, post_id=post_id, reason=reason)
    return {"id": post.id, "deleted": True}


def _like(request: HttpRequest, slug: str, post_id: int, liked: bool) -> dict:
    circle, _v = _viewer(request, slug)
    post = actions.do_like_post(actor=current_user(request), circle=circle, post_id=post_id, liked=liked)
    return {"liked": liked, "like_count": post.like_count}


@router.post("/circles/{slug}/posts/{post_id}/like", response=errors_for({200: LikeOut}))
def like_post(request: HttpRequest, slug: str, post_id: Id):
    return _like(request, slug, post_id, True)


@router.delete("/circles/{slug}/posts/{post_id}/like", response=errors_for({200: LikeOut}))
def unlike_post(request: HttpRequest, slug: str, post_id: Id):
    return _like(request, slug, post_id, False)


def _flag(request: HttpRequest, slug: str, post_id: int, *, pin: bool | None = None,
          feature: bool | None = None) -> dict:
    circle, _v = _viewer(request, slug)
    user = current_user(request)
    if pin is not None:
        post = actions.do_set_pinned(actor=user, circle=circle, post_id=post_id, pinned=pin)
    else:
        post = actions.do_set_featured(actor=user, circle=circle, post_id=post_id, featured=bool(feature))
    return {"id": post.id, "pinned": post.pinned, "featured": post.featured}


@router.post("/circles/{slug}/posts/{post_id}/pin", response=errors_for({200: FlagOut}))
def pin_post(request: HttpRequest, slug: str, post_id: Id):
    """Admins: pinned posts lead the feed."""
    return _flag(request, slug, post_id, pin=True)


@router.delete("/circles/{slug}/posts/{post_id}/pin", response=errors_for({200: FlagOut}))
def unpin_post(request: HttpRequest, slug: str, post_id: Id):
    return _flag(request, slug, post_id, pin=False)


@router.post("/circles/{slug}/posts/{post_id}/feature", response=errors_for({200: FlagOut}))
def feature_post(request: HttpRequest, slug: str, post_id: Id):
    """Admins: mark a post featured (精华)."""
    return _flag(request, slug, post_id, feature=True)


@router.delete("/circles/{slug}/posts/{post_id}/feature", response=errors_for({200: FlagOut}))
def unfeature_post(request: HttpRequest, slug: str, post_id: Id):
    return _flag(request, slug, post_id, feature=False)


# --- comments -----------------------------------------------------------------------------


@router.get("/circles/{slug}/posts/{post_id}/comments", response=errors_for({200: CommentPage}))
def list_comments(request: HttpRequest, slug: str, post_id: Id, cursor: str | None = None,
                  limit: int = Query(selectors.DEFAULT_PAGE, ge=1, le=100)):
    """Oldest first; each top-level comment is followed by its replies."""
    circle, viewer = _viewer(request, slug)
    post = selectors.access_post(circle, viewer, post_id)
    page = selectors.comment_page(post, viewer, cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/circles/{slug}/posts/{post_id}/comments", response=errors_for({201: CommentOut}))
def create_comment(request: HttpRequest, slug: str, post_id: Id, payload: CommentCreate):
    circle, viewer = _viewer(request, slug)
    comment = actions.do_create_comment(actor=current_user(request), circle=circle, post_id=post_id,
                                        body=payload.body, reply_to_id=payload.reply_to)
    return Status(201, selectors.comment_detail(comment, viewer))


@router.delete("/circles/{slug}/comments/{comment_id}", response=errors_for({200: DeletedOut}))
def delete_comment(request: HttpRequest, slug: str, comment_id: Id, reason: str = ""):
    """The author, or a moderator on a lower role's comment (audited)."""
    circle, _v = _viewer(request, slug)
    comment = actions.do_delete_comment(actor=current_user(request), circle=circle, comment_id=comment_id,
                                        reason=reason)
    return {"id": comment.id, "deleted": True}


def _like_comment(request: HttpRequest, slug: str, comment_id: int, liked: bool) -> dict:
    circle, _v = _viewer(request, slug)
    comment = actions.do_like_comment(actor=current_user(request), circle=circle, comment_id=comment_id, liked=liked)
    return {"liked": liked, "like_count": comment.like_count}


@router.post("/circles/{slug}/comments/{comment_id}/like", response=errors_for({200: LikeOut}))
def like_comment(request: HttpRequest, slug: str, comment_id: Id):
    return _like_comment(request, slug, comment_id, True)


@router.delete("/circles/{slug}/comments/{comment_id}/like", response=errors_for({200: LikeOut}))
def unlike_comment(request: HttpRequest, slug: str, comment_id: Id):
    return _like_comment(request, slug, comment_id, False)
