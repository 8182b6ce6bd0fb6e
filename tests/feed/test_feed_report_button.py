"""Members can report a post or a comment as an ad from the feed pages; their own items have no button."""

from __future__ import annotations

import pytest
from django.urls import reverse

from quanzi.feed import actions
from quanzi.moderation.models import Report

pytestmark = pytest.mark.django_db


def test_report_buttons_on_others_posts_and_comments_only(client, circle, member, moderator, post_as):
    post = post_as(moderator, "Saturday run at 8, meet at the north gate")
    comment = actions.do_create_comment(actor=moderator, circle=circle, post_id=post.id, body="bring water")
    own = post_as(member, "my own post")
    client.force_login(member)
    feed = client.get(reverse("feed", args=[circle.slug])).content.decode()
    assert feed.count('name="kind" value="post"') == 1  # the moderator's post, not the member's own
    assert f'name="object_id" value="{post.id}"' in feed and f'name="object_id" value="{own.id}"' not in feed
    detail = client.get(reverse("feed_post", args=[circle.slug, post.id])).content.decode()
    assert 'name="kind" value="comment"' in detail and f'name="object_id" value="{comment.id}"' in detail

    response = client.post(reverse("moderation_report", args=[circle.slug]),
                           {"kind": "post", "object_id": post.id, "reason": "ad"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert Report.objects.filter(reporter=member).count() == 1
