"""The built-in exporters: circles, chat, archive (files, link snapshots), feed and check-ins.

Specs of apps that are not installed (or whose models don't exist yet) are skipped.
Notices, invites, join requests, payments and the ledger are not part of a circle export:
they are either transient or money records that must never be duplicated elsewhere.
"""

from __future__ import annotations

from .export_registry import ExportSpec, register_exporter
from .models import new_public_id

ATTACHABLE = {"post": "feed.Post", "comment": "feed.Comment", "checkin": "checkins.CheckIn",
              "message": "chat.Message", "checkin_comment": "checkins.CheckInComment"}


def _ordered_pair(row: dict) -> dict | None:
    """A DM pair stores its users low < high; renumbering may swap them."""
    low, high = row.get("low_user_id"), row.get("high_user_id")
    if low is None or high is None or low == high:
        return None
    if low > high:
        row["low_user_id"], row["high_user_id"] = high, low
    return row


def _register() -> None:
    specs = [
        ExportSpec("circle", "circles.Circle", lambda c: type(c).objects.filter(id=c.id),
                   exclude=frozenset({"avatar"})),
        ExportSpec("memberships", "circles.Membership", lambda c: c.memberships.all()),
        ExportSpec("groups", "chat.Group", lambda c: c.groups.all()),
        ExportSpec("group_members", "chat.GroupMember", lambda c: _model("chat.GroupMember").objects.filter(
            group__circle=c)),
        ExportSpec("dm_pairs", "chat.DmPair", lambda c: _model("chat.DmPair").objects.filter(circle=c),
                   after_remap=_ordered_pair),
        ExportSpec("messages", "chat.Message", lambda c: _model("chat.Message").objects.filter(group__circle=c)),
        ExportSpec("files", "archive.CircleFile", lambda c: c.files.all(),
                   poly_refs={"attached_id": ("attached_kind", ATTACHABLE)},
                   regenerate_unique={"public_id": new_public_id}),
        ExportSpec("link_snapshots", "archive.LinkSnapshot", lambda c: _model("archive.LinkSnapshot").objects.filter(
            circle=c)),
        ExportSpec("snapshot_images", "archive.SnapshotImage", lambda c: _model(
            "archive.SnapshotImage").objects.filter(snapshot__circle=c)),
        ExportSpec("snapshot_citations", "archive.SnapshotCitation", lambda c: _model(
            "archive.SnapshotCitation").objects.filter(snapshot__circle=c),
            poly_refs={"object_id": ("kind", ATTACHABLE)}),
        ExportSpec("posts", "feed.Post", lambda c: _model("feed.Post").objects.filter(circle=c),
                   exclude=frozenset({"api_json"})),  # derived: the database renders it again on import
        ExportSpec("post_tags", "feed.PostTag", lambda c: _model("feed.PostTag").objects.filter(circle=c)),
        ExportSpec("comments", "feed.Comment", lambda c: _model("feed.Comment").objects.filter(circle=c),
                   id_refs={"thread_id": "feed.Comment"}),
        ExportSpec("post_likes", "feed.PostLike", lambda c: _model("feed.PostLike").objects.filter(post__circle=c)),
        ExportSpec("comment_likes", "feed.CommentLike", lambda c: _model("feed.CommentLike").objects.filter(
            comment__circle=c)),
        ExportSpec("post_attachments", "feed.PostAttachment", lambda c: _model(
            "feed.PostAttachment").objects.filter(post__circle=c)),
        ExportSpec("challenges", "checkins.Challenge", lambda c: _model("checkins.Challenge").objects.filter(
            circle=c)),
        ExportSpec("participants", "checkins.Participant", lambda c: _model(
            "checkins.Participant").objects.filter(challenge__circle=c)),
        ExportSpec("checkins", "checkins.CheckIn", lambda c: _model("checkins.CheckIn").objects.filter(
            challenge__circle=c)),
        ExportSpec("checkin_likes", "checkins.CheckInLike", lambda c: _model(
            "checkins.CheckInLike").objects.filter(checkin__challenge__circle=c)),
        ExportSpec("checkin_comments", "checkins.CheckInComment", lambda c: _model(
            "checkins.CheckInComment").objects.filter(checkin__challenge__circle=c)),
    ]
    for spec in specs:
        register_exporter(spec)


def _model(label: str):
    from django.apps import apps

    return apps.get_model(label)


_register()
