"""A post that cites an archived link shows its card on the feed and the post page; pending ones don't."""

from __future__ import annotations

import pytest
from django.urls import reverse

from quanzi.archive.models import LinkSnapshot, SnapshotCitation, SnapshotStatus

pytestmark = pytest.mark.django_db


def _snapshot(circle, post, status, title):
    snap = LinkSnapshot.objects.create(circle=circle, url_key=title[:64], url=f"https://example.org/{title}",
                                       status=status, title=title, description="kept after the source dies")
    SnapshotCitation.objects.create(snapshot=snap, kind="post", object_id=post.id)
    return snap


def test_cards_for_archived_links_only(client, circle, member, moderator, post_as):
    post = post_as(moderator, "Read this https://example.org/guide")
    ok = _snapshot(circle, post, SnapshotStatus.OK, "Marathon training guide")
    _snapshot(circle, post, SnapshotStatus.PENDING, "Still fetching")
    client.force_login(member)
    for url in (reverse("feed", args=[circle.slug]), reverse("feed_post", args=[circle.slug, post.id])):
        page = client.get(url).content.decode()
        assert "Marathon training guide" in page, url
        assert reverse("archive_snapshot", args=[circle.slug, ok.id]) in page
        assert "Still fetching" not in page
