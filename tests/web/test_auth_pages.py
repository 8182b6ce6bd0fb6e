"""allauth pages with our templates: sign up, log in, log out, and the password reset e-mail flow."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

PASSWORD = "correct-horse-battery-9"  # the fixtures' password (tests/conftest.py)

pytestmark = pytest.mark.django_db


def test_auth_pages_use_the_site_layout(client):
    for name in ("account_login", "account_signup", "account_reset_password"):
        response = client.get(reverse(name))
        assert response.status_code == 200
        body = response.content.decode()
        assert 'class="topbar"' in body and 'class="card auth"' in body
        assert "quanzi/app.css" in body


def test_signup_logs_in(client):
    response = client.post(
        reverse("account_signup"),
        {"username": "newbie", "email": "newbie@example.com", "password1": "Zebra-Quartz-93",
         "password2": "Zebra-Quartz-93"},
    )
    assert response.status_code == 302
    assert "newbie" in client.get(reverse("home")).content.decode()


def test_signup_errors_are_shown(client, owner):
    response = client.post(
        reverse("account_signup"),
        {"username": "owner", "email": "x@example.com", "password1": "short", "password2": "other"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('class="error"') >= 2


def test_login_and_logout_by_post(client, owner):
    response = client.post(reverse("account_login"), {"login": "owner", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("profile")).status_code == 200
    assert client.get(reverse("account_logout")).status_code == 200  # a confirmation page, no logout on GET
    assert client.get(reverse("profile")).status_code == 200
    client.post(reverse("account_logout"))
    assert client.get(reverse("profile")).status_code == 302


def test_wrong_password_shows_an_error(client, owner):
    response = client.post(reverse("account_login"), {"login": "owner", "password": "nope"})
    assert response.status_code == 200
    assert 'class="form-errors"' in response.content.decode()


def test_failed_logins_are_throttled(client, owner):
    for _ in range(5):
        client.post(reverse("account_login"), {"login": "owner", "password": "nope"})
    response = client.post(reverse("account_login"), {"login": "owner", "password": PASSWORD})
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert client.get(reverse("profile")).status_code == 302


def test_password_reset_email_flow(client, owner):
    response = client.post(reverse("account_reset_password"), {"email": "owner@example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")
    assert len(mail.outbox) == 1
    link = re.search(r"https?://testserver(/\S+)", mail.outbox[0].body).group(1)
    response = client.get(link, follow=True)
    assert response.status_code == 200
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else link
    new_password = "Brand-New-Pass-77"
    response = client.post(form_url, {"password1": new_password, "password2": new_password})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_from_key_done")
    owner.refresh_from_db()
    assert owner.check_password(new_password)


def test_bad_reset_token(client, owner):
    response = client.get("/accounts/password/reset/key/1-bad-token/", follow=True)
    assert response.status_code == 200
    assert "Bad Token" in response.content.decode()
