"""NUL characters are refused at the edge (PostgreSQL can't store or compare them)."""

from __future__ import annotations

import pytest

from quanzi.chat.models import Message

from .helpers import ApiClient, assert_error

pytestmark = pytest.mark.django_db


def test_nul_in_a_json_body_is_a_clear_400_and_writes_nothing(circle, member):
    api = ApiClient(member)
    before = Message.objects.count()
    response = api.post(f"/api/groups/{circle.main_group_id}/messages", {"body": "hi\x00there"})
    assert_error(response, 400, "invalid_text")
    assert Message.objects.count() == before


def test_nul_in_a_password_login_is_refused(make_user):
    make_user("alice")
    response = ApiClient().post("/api/auth/tokens", {"username": "al\x00ice", "password": "x", "name": "cli"})
    assert_error(response, 400, "invalid_text")


def test_nul_in_a_query_parameter_is_refused(circle, owner):
    response = ApiClient(owner).get(f"/api/circles/{circle.slug}/members", q="a%00b")
    assert_error(response, 400, "invalid_text")


def test_nul_in_a_web_form_is_refused(client, owner):
    client.force_login(owner)
    response = client.post("/accounts/login/", {"login": "ow\x00ner", "password": "x"})
    assert response.status_code == 400
