"""The check-in pages: list, create form, challenge page (join, check in, board, calendar, feed), htmx partials."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.urls import reverse
from PIL import Image

from quanzi.checkins import actions
from quanzi.checkins.models import Challenge, CheckIn, CheckInComment, Participant

from .conftest import MON, SUN2

pytestmark = pytest.mark.django_db


@pytest.fixture
def web_as(client):
    def login(user):
        client.logout()
        client.force_login(user)
        return client

    return login


def _png(name="photo.png"):
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(out, format="PNG")
    out.seek(0)
    out.name = name
    return out


def test_admin_creates_a_challenge_through_the_form(web_as, admin, circle):
    client = web_as(admin)
    assert client.get(reverse("checkins_create", args=[circle.slug])).status_code == 200
    data = {"title": "Reading", "start_date": MON.isoformat(), "end_date": SUN2.isoformat(),
            "weekdays": ["0", "2", "4"],
            "window_start": "21:00", "window_end": "01:00", "require_min_chars": "10", "makeups_allowed": "2",
            "deposit": "0", "share_mode": "even", "organiser_fee_bps": "0",
            "join_deadline": f"{MON - timedelta(days=1)}T20:00"}
    response = client.post(reverse("checkins_create", args=[circle.slug]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    challenge = Challenge.objects.get()
    assert challenge.weekdays == 0b10101 and challenge.makeups_allowed == 2
    page = client.get(response["Location"]).content.decode()
    assert "Reading" in page and "21:00" in page and "UTC" in page
    listing = client.get(reverse("checkins_list", args=[circle.slug])).content.decode()
    assert "Reading" in listing


def test_create_form_shows_errors_and_stores_nothing(web_as, admin, member, circle):
    client = web_as(admin)
    data = {"title": "Bad", "start_date": MON.isoformat(), "end_date": (MON - timedelta(days=6)).isoformat(),
            "weekdays": ["0"],
            "window_start": "05:00", "window_end": "08:00", "require_min_chars": "0", "makeups_allowed": "0",
            "deposit": "-1", "share_mode": "even", "organiser_fee_bps": "0"}
    response = client.post(reverse("checkins_create", args=[circle.slug]), data)
    assert response.status_code == 400
    assert Challenge.objects.count() == 0
    response = client.post(reverse("checkins_create", args=[circle.slug]), {**data, "deposit": "0"})
    assert response.status_code == 400 and "cannot be before" in response.content.decode()
    assert web_as(member).get(reverse("checkins_create", args=[circle.slug])).status_code == 403


def test_member_checks_in_with_an_image_and_sees_board_and_calendar(web_as, live_challenge, member, circle):
    challenge = live_challenge(require_image=True, require_min_chars=2)
    actions.do_join_challenge(user=member, challenge=challenge, now=challenge.created_at)
    client = web_as(member)
    url = reverse("checkins_checkin", args=[circle.slug, challenge.id])
    # Without the image: a clear message, nothing stored.
    response = client.post(url, {"text": "早起"}, follow=True)
    assert "needs an image" in response.content.decode()
    assert CheckIn.objects.count() == 0
    response = client.post(url, {"text": "早起", "image": _png()}, follow=True)
    page = response.content.decode()
    assert response.status_code == 200 and "Checked in" in page
    checkin = CheckIn.objects.get()
    assert checkin.image is not None and checkin.image.attached_kind == "checkin"
    assert 'id="checked-in"' in page and "board-first" in page and 'class="cal-day cal-done"' in page
    # The image is served to circle members through the archive.
    assert client.get(reverse("archive_file_download", args=[checkin.image.public_id])).status_code == 200
    # Twice: the message says so.
    response = client.post(url, {"text": "again", "image": _png("b.png")}, follow=True)
    assert "already checked in" in response.content.decode()
    assert CheckIn.objects.count() == 1


def test_join_button_and_late_join(web_as, make_challenge, live_challenge, member, circle):
    upcoming = make_challenge(start_date=MON, end_date=MON + timedelta(days=6))
    client = web_as(member)
    page = client.get(reverse("checkins_detail", args=[circle.slug, upcoming.id])).content.decode()
    assert 'id="join-challenge"' in page
    client.post(reverse("checkins_join", args=[circle.slug, upcoming.id]))
    assert Participant.objects.filter(user=member, challenge=upcoming).exists()
    running = live_challenge()
    response = client.post(reverse("checkins_join", args=[circle.slug, running.id]), follow=True)
    assert "Joining closed" in response.content.decode()
    assert not Participant.objects.filter(challenge=running).exists()


def test_likes_and_comments_with_htmx(web_as, live_challenge, member, admin, circle):
    challenge = live_challenge()
    actions.do_join_challenge(user=member, challenge=challenge, now=challenge.created_at)
    checkin = actions.do_check_in(user=member, challenge_id=challenge.id, text="done")
    client = web_as(admin)
    htmx = {"HTTP_HX_REQUEST": "true"}
    response = client.post(reverse("checkins_like", args=[circle.slug, checkin.id]), {"like": "1"}, **htmx)
    assert response.status_code == 200 and "♥ 1" in response.content.decode()
    response = client.post(reverse("checkins_comment", args=[circle.slug, checkin.id]), {"text": "加油"}, **htmx)
    assert "加油" in response.content.decode()
    response = client.post(reverse("checkins_comment", args=[circle.slug, checkin.id]), {"text": " "}, **htmx)
    assert response.status_code == 400
    comment = CheckInComment.objects.get()
    response = client.post(reverse("checkins_comment_delete", args=[circle.slug, comment.id]), **htmx)
    assert response.status_code == 200 and not CheckInComment.objects.exists()
    feed = client.get(reverse("checkins_feed", args=[circle.slug, challenge.id]), **htmx).content.decode()
    assert "done" in feed
    board = client.get(reverse("checkins_board", args=[circle.slug, challenge.id]), **htmx).content.decode()
    assert "member" in board
    cal = client.get(reverse("checkins_calendar", args=[circle.slug, challenge.id, member.id])).content.decode()
    assert "cal-done" in cal


def test_outsiders_get_404(web_as, live_challenge, outsider, circle):
    challenge = live_challenge()
    client = web_as(outsider)
    for name, args in (("checkins_list", [circle.slug]), ("checkins_detail", [circle.slug, challenge.id])):
        assert client.get(reverse(name, args=args)).status_code == 404
