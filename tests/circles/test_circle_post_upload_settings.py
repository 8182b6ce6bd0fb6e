"""The feed-posting switch and the upload limit: set through the action, the API and the settings page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Circle
from quanzi.core.errors import InvalidInput

pytestmark = pytest.mark.django_db


def test_owner_turns_member_posting_off_and_sets_the_upload_limit(owner, circle):
    circle_actions.do_update_circle(actor=owner, circle=circle, members_can_post=False, upload_limit_mb=5)
    circle.refresh_from_db()
    assert (circle.members_can_post, circle.upload_limit_mb) == (False, 5)


@pytest.mark.parametrize("bad", [0, -1, 10_000, "5", True, 2.5])
def test_upload_limit_out_of_range_is_refused_and_nothing_changes(owner, circle, bad):
    with pytest.raises(InvalidInput) as caught:
        circle_actions.do_update_circle(actor=owner, circle=circle, upload_limit_mb=bad, members_can_post=False)
    assert caught.value.code == "invalid_upload_limit"
    circle.refresh_from_db()
    assert (circle.members_can_post, circle.upload_limit_mb) == (True, 20)


def test_api_patch_and_detail(client, owner, circle):
    client.force_login(owner)
    # The test client skips CSRF checks; the API's CSRF rule has its own tests (tests/api).
    response = client.patch(f"/api/circles/{circle.slug}", {"members_can_post": False, "upload_limit_mb": 7},
                            content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["members_can_post"], body["upload_limit_mb"]) == (False, 7)
    bad = client.patch(f"/api/circles/{circle.slug}", {"upload_limit_mb": 0}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_upload_limit"
    assert Circle.objects.get(pk=circle.pk).upload_limit_mb == 7


def test_settings_page_round_trip(client, owner, circle):
    client.force_login(owner)
    page = client.get(reverse("circle_settings", args=[circle.slug])).content.decode()
    assert 'name="members_can_post"' in page and 'name="upload_limit_mb"' in page
    data = {"name": circle.name, "visibility": circle.visibility, "join_mode": circle.join_mode,
            "timezone": circle.timezone, "language": circle.language, "welcome_template": circle.welcome_template,
            "dm_policy": "members", "members_can_post": "0", "upload_limit_mb": "3"}
    response = client.post(reverse("circle_settings", args=[circle.slug]), data)
    assert response.status_code in (200, 302)
    circle.refresh_from_db()
    assert (circle.members_can_post, circle.upload_limit_mb) == (False, 3)
    data.update(upload_limit_mb="0")
    response = client.post(reverse("circle_settings", args=[circle.slug]), data)
    assert response.status_code == 400 or "upload" in response.content.decode().lower()
    circle.refresh_from_db()
    assert circle.upload_limit_mb == 3
