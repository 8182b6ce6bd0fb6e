"""The settlement report, on the web and in the API: organisers see every row, members their own; before the
end it is a projection from the current counts, after it the stored plan with paid times."""

from __future__ import annotations

import json

import pytest
from api.helpers import ApiClient
from django.test import Client
from django.urls import reverse

from quanzi.checkins.settlement import settle_challenge

from .conftest import AFTER

pytestmark = pytest.mark.django_db


@pytest.fixture
def settled(deposit_challenge, paid_member):
    challenge = deposit_challenge(deposit=1000, organiser_fee_bps=1000)
    users = {name: paid_member(challenge, name, days=days) for name, days in
             (("ann", 7), ("bob", 6), ("cat", 5), ("dan", 1))}
    return challenge, users


def page(user, challenge):
    client = Client()
    client.force_login(user)
    return client.get(reverse("checkins_settlement", args=[challenge.circle.slug, challenge.id]))


def test_before_the_end_organisers_see_a_projection(settled, owner):
    challenge, users = settled
    response = page(owner, challenge)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Not settled yet" in html
    report = response.context["report"]
    assert report.projected and report.sees_all and len(report.rows) == 4
    # 1000 forfeited, 100 fee, 900 / 3 = 300 each: nothing left over.
    assert [(r.user.username, r.amount) for r in report.rows] == [("ann", 1300), ("bob", 1300), ("cat", 1300),
                                                                  ("dan", 0)]
    assert report.fee == 100 and report.leftover == 0


def test_after_settlement_the_stored_plan_with_paid_times(settled, owner, admin):
    challenge, users = settled
    settle_challenge(challenge.id, now=AFTER)
    response = page(admin, challenge)
    html = response.content.decode()
    report = response.context["report"]
    assert not report.projected and report.status == "done" and "Settled on" in html
    assert all(row.paid_at is not None for row in report.rows)
    assert 'id="settlement-row-dan"' in html and "¥13.00" in html and "¥1.00" in html  # amount, fee


def test_members_see_only_their_own_row(settled, member):
    challenge, users = settled
    settle_challenge(challenge.id, now=AFTER)
    response = page(users["bob"], challenge)
    report = response.context["report"]
    assert [row.user.username for row in report.rows] == ["bob"] and not report.sees_all
    html = response.content.decode()
    assert 'id="settlement-row-bob"' in html and 'id="settlement-row-ann"' not in html
    # A member who did not take part sees the totals and no rows.
    other = page(member, challenge)
    assert other.status_code == 200 and other.context["report"].rows == []
    assert "You did not take part" in other.content.decode()


def test_leftover_recipients_are_named(deposit_challenge, paid_member, owner):
    challenge = deposit_challenge(deposit=100)
    paid_member(challenge, "x1", days=5)
    paid_member(challenge, "x2", days=7)
    paid_member(challenge, "x3", days=6)
    paid_member(challenge, "lost", days=0)
    settle_challenge(challenge.id, now=AFTER)
    html = page(owner, challenge).content.decode()
    assert 'id="settlement-leftover"' in html and "x2" in html.split('id="settlement-leftover"')[1][:400]


def test_outsiders_get_404(settled, outsider):
    challenge, _users = settled
    assert page(outsider, challenge).status_code == 404


def test_api_report(settled, owner):
    challenge, users = settled
    settle_challenge(challenge.id, now=AFTER)
    owner_view = ApiClient(owner).get(f"/api/challenges/{challenge.id}/settlement").data
    assert owner_view["status"] == "done" and owner_view["projected"] is False
    assert (owner_view["pool"], owner_view["forfeited"], owner_view["fee"]) == (4000, 1000, 100)
    assert owner_view["total"] == 4 and {row["user"]["username"]: row["amount"] for row in owner_view["items"]} == {
        "ann": 1300, "bob": 1300, "cat": 1300, "dan": 0}
    bob_view = ApiClient(users["bob"]).get(f"/api/challenges/{challenge.id}/settlement").data
    assert [row["user"]["username"] for row in bob_view["items"]] == ["bob"] and bob_view["total"] == 1
    assert bob_view["items"][0]["outcome"] == "completed" and bob_view["items"][0]["refund"] == 1000
    paged = ApiClient(owner).get(f"/api/challenges/{challenge.id}/settlement?limit=2&offset=2").data
    assert len(paged["items"]) == 2 and paged["total"] == 4
    json.dumps(owner_view)
