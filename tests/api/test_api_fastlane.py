"""Bearer-token API requests skip the browser-session middleware (core/fastlane.py); nothing else changes."""

from __future__ import annotations

import zoneinfo

import pytest
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.utils import timezone

from quanzi.core import fastlane

from .helpers import ApiClient, assert_error

SECURITY_HEADERS = ("X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy", "Content-Language")


def test_bearer_api_response_has_the_security_headers_and_no_session_traces(owner, api_as):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)  # a session cookie too: the bearer token decides, the session is not read
    api = ApiClient(owner, client=client)
    r = api.patch("/api/me", {"bio": "token"})
    assert r.status_code == 200 and r.data["bio"] == "token"
    for header in SECURITY_HEADERS:
        assert r.has_header(header), header
    assert r.has_header("Content-Security-Policy")
    assert "Cookie" not in r.get("Vary", "")
    assert not r.cookies  # no session or CSRF cookie set or refreshed


def test_the_same_api_with_a_session_still_runs_every_middleware(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    r = client.patch("/api/me", '{"bio": "x"}', content_type="application/json")
    assert_error(r, 403, "csrf_failed")  # CSRF middleware and session auth ran
    r = client.get("/api/me")
    assert r.status_code == 200 and r.json()["username"] == owner.username
    assert "Cookie" in r.get("Vary", "")  # the session was read


def test_a_bearer_header_outside_the_api_changes_nothing(owner):
    client = Client()
    client.force_login(owner)
    r = client.get("/", headers={"Authorization": "Bearer qz_whatever"})
    assert r.status_code in (200, 302)
    assert "Cookie" in r.get("Vary", "")  # the web UI read the session as usual


def test_bearer_requests_do_not_inherit_the_previous_requests_time_zone(owner, api_as):
    timezone.activate(zoneinfo.ZoneInfo("Pacific/Chatham"))  # what an earlier request left on this thread
    assert_error(ApiClient(token="qz_" + "x" * 40).get("/api/me"), 401, "not_authenticated")
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE


@pytest.mark.parametrize(("header", "path", "expected"), [
    ("Bearer qz_abc", "/api/me", True),
    ("bearer qz_abc", "/api/circles/x/posts", True),
    ("Basic dXNlcjpwYXNz", "/api/me", False),
    ("", "/api/me", False),
    ("Bearer qz_abc", "/c/x/feed/", False),
    ("Bearer qz_abc", "/apiary/", False),
])
@pytest.mark.db_independent
def test_which_requests_are_bearer_api_requests(header, path, expected):
    request = RequestFactory().get(path, headers={"Authorization": header} if header else {})
    assert fastlane.is_bearer_api(request) is expected


@pytest.mark.db_independent
def test_the_wrappers_are_the_original_middleware_for_everyone_else():
    for wrapped, original in ((fastlane.SessionMiddleware, SessionMiddleware),
                              (fastlane.AuthenticationMiddleware, AuthenticationMiddleware),
                              (fastlane.MessageMiddleware, MessageMiddleware)):
        assert issubclass(wrapped, original)  # the admin's system checks look for subclasses
    seen = []

    class Probe:
        def __init__(self, get_response):
            self.get_response = get_response

        def __call__(self, request):
            seen.append("called")
            return self.get_response(request)

        def process_view(self, request, view, args, kwargs):
            seen.append("view")

        def process_template_response(self, request, response):
            seen.append("template")
            return response

    wrapped = fastlane.browser_only(Probe)(lambda request: HttpResponse("ok"))
    plain = RequestFactory().get("/api/me")
    marked = RequestFactory().get("/api/me")
    marked.bearer_api = True
    response = HttpResponse("r")
    assert wrapped(plain).content == b"ok" and seen == ["called"]
    assert wrapped.process_view(plain, None, (), {}) is None and seen == ["called", "view"]
    assert wrapped.process_template_response(plain, response) is response and seen[-1] == "template"
    seen.clear()
    assert wrapped(marked).content == b"ok"
    assert wrapped.process_view(marked, None, (), {}) is None
    assert wrapped.process_template_response(marked, response) is response
    assert seen == []
