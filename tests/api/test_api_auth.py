"""Bearer tokens, session auth with CSRF, password throttling, OpenAPI and the error shape."""

from __future__ import annotations

import json
import re
import string

import pytest
from django.conf import settings
from django.test import Client
from django.utils.crypto import get_random_string

from quanzi.accounts.actions import do_create_token, do_revoke_token
from quanzi.accounts.models import ApiToken

from .helpers import PASSWORD, ApiClient, assert_error


def _csrf_session_client(user) -> tuple[Client, str]:
    """A browser-like client: signed in, CSRF enforced, holding the csrftoken cookie.

    Returns the value a page would put in the X-CSRFToken header.
    """
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    secret = get_random_string(32, allowed_chars=string.ascii_letters + string.digits)
    client.cookies[settings.CSRF_COOKIE_NAME] = secret
    return client, secret


# --- tokens -------------------------------------------------------------------------------


def test_create_token_with_password_then_use_list_and_revoke(owner):
    anon = ApiClient()
    r = anon.post("/api/auth/tokens", {"name": "cli", "username": "owner", "password": PASSWORD})
    assert r.status_code == 201, r.data
    raw = r.data["token"]
    assert raw.startswith("qz_") and r.data["prefix"] == raw[:10] and r.data["name"] == "cli"
    assert not ApiToken.objects.filter(key_hash=raw).exists()  # only the hash is stored

    client = ApiClient(owner, token=raw)
    assert client.get("/api/me").data["username"] == "owner"

    listed = client.get("/api/auth/tokens")
    assert listed.status_code == 200
    assert listed.data["total"] == 1
    assert "token" not in listed.data["items"][0]
    assert raw not in json.dumps(listed.data)

    r = client.delete(f"/api/auth/tokens/{r.data['id']}")
    assert r.status_code == 200 and r.data["revoked_at"] is not None
    assert_error(client.get("/api/me"), 401, "not_authenticated")


def test_revoked_token_is_rejected_even_with_a_session(owner):
    token, raw = do_create_token(user=owner, name="x")
    do_revoke_token(user=owner, token_id=token.id)
    client = Client()
    client.force_login(owner)
    r = client.get("/api/me", headers={"Authorization": f"Bearer {raw}"})
    assert_error(r, 401, "not_authenticated")


def test_create_token_from_session_requires_csrf(owner):
    client, csrf = _csrf_session_client(owner)
    body = json.dumps({"name": "browser"})
    r = client.post("/api/auth/tokens", body, content_type="application/json")
    assert_error(r, 403, "csrf_failed")
    assert not ApiToken.objects.filter(user=owner).exists()
    r = client.post("/api/auth/tokens", body, content_type="application/json", headers={"X-CSRFToken": csrf})
    assert r.status_code == 201, r.json()
    assert ApiToken.objects.filter(user=owner, name="browser").exists()


def test_create_token_without_any_credentials_is_401(db):
    assert_error(ApiClient().post("/api/auth/tokens", {"name": "x"}), 401, "not_authenticated")


def test_wrong_password_is_401_and_throttled_after_five_failures(owner):
    anon = ApiClient()
    for _ in range(5):
        r = anon.post("/api/auth/tokens", {"name": "x", "username": "owner", "password": "wrong"})
        assert_error(r, 401, "invalid_credentials")
    r = anon.post("/api/auth/tokens", {"name": "x", "username": "OWNER", "password": PASSWORD})
    body = assert_error(r, 429, "too_many_attempts")
    assert body["retry_after"] > 0 and int(r["Retry-After"]) >= 1
    assert not ApiToken.objects.filter(user=owner).exists()


def test_ip_throttle_spans_usernames(make_user):
    anon = ApiClient()
    for i in range(20):
        r = anon.post("/api/auth/tokens", {"name": "x", "username": f"nobody{i}", "password": "wrong"})
        assert r.status_code == 401
    make_user("fresh")
    r = anon.post("/api/auth/tokens", {"name": "x", "username": "fresh", "password": PASSWORD})
    assert_error(r, 429, "too_many_attempts")


def test_token_name_is_validated_and_tokens_of_others_are_404(owner, member, api_as):
    client = api_as(owner)
    assert_error(client.post("/api/auth/tokens", {"name": "  "}), 400, "invalid_name")
    other, _raw = do_create_token(user=member, name="theirs")
    assert_error(client.delete(f"/api/auth/tokens/{other.id}"), 404, "token_not_found")
    assert_error(client.delete("/api/auth/tokens/999999"), 404, "token_not_found")
    assert ApiToken.objects.get(id=other.id).revoked_at is None


# --- session auth and CSRF ----------------------------------------------------------------


def test_session_get_works_without_csrf_but_unsafe_methods_need_it(owner):
    client, csrf = _csrf_session_client(owner)
    assert client.get("/api/me").status_code == 200
    body = json.dumps({"display_name": "Boss"})
    r = client.patch("/api/me", body, content_type="application/json")
    assert_error(r, 403, "csrf_failed")
    owner.refresh_from_db()
    assert owner.display_name == ""
    r = client.patch("/api/me", body, content_type="application/json", headers={"X-CSRFToken": csrf})
    assert r.status_code == 200 and r.json()["display_name"] == "Boss"


def test_bearer_requests_need_no_csrf(owner):
    client = ApiClient(owner, client=Client(enforce_csrf_checks=True))
    r = client.patch("/api/me", {"bio": "hi"})
    assert r.status_code == 200 and r.data["bio"] == "hi"


def test_anonymous_is_401_with_www_authenticate(db):
    r = ApiClient().get("/api/circles")
    assert_error(r, 401, "not_authenticated")
    assert r["WWW-Authenticate"].startswith("Bearer")


def test_garbage_bearer_is_401(db):
    for token in ("nope", "qz_" + "x" * 40, "qz_" + "x" * 200):
        assert_error(ApiClient(token=token).get("/api/me"), 401, "not_authenticated")


# --- generic errors -----------------------------------------------------------------------


def test_malformed_json_is_400_and_writes_nothing(owner, api_as):
    client = api_as(owner)
    r = client.patch("/api/me", raw='{"display_name": "x"')
    assert_error(r, 400, "malformed_json")
    r = client.patch("/api/me", raw='["display_name"]')
    assert_error(r, 400, "malformed_json")
    r = client.patch("/api/me", raw=b'{"bio": "\xff"}')
    assert_error(r, 400, "malformed_json")
    owner.refresh_from_db()
    assert owner.display_name == "" and owner.bio == ""


def test_validation_error_is_422_with_readable_message(owner, api_as):
    r = api_as(owner).patch("/api/me", {"display_name": ["not", "a", "string"]})
    body = assert_error(r, 422, "validation_error")
    assert "display_name" in body["message"]
    assert body["errors"][0]["loc"][-1] == "display_name"


def test_limit_is_capped(owner, api_as):
    assert_error(api_as(owner).get("/api/circles", limit=101), 422, "validation_error")
    assert api_as(owner).get("/api/circles", limit=100).status_code == 200


# --- OpenAPI ------------------------------------------------------------------------------


def test_openapi_document_lists_the_paths(db):
    r = Client().get("/api/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    paths = doc["paths"]
    for path in (
        "/api/auth/tokens",
        "/api/me",
        "/api/circles",
        "/api/circles/{slug}/members/{user_id}/ban",
        "/api/invites/{code}",
        "/api/groups/{group_id}/messages",
        "/api/messages/{message_id}/pin",
        "/api/unread",
        "/api/notices/read",
    ):
        assert path in paths, path
    schemes = doc["components"]["securitySchemes"]
    assert {"BearerTokenAuth", "SessionAuth"} <= set(schemes)
    assert "security" not in paths["/api/invites/{code}"]["get"]


def test_docs_page_uses_local_assets(db):
    r = Client().get("/api/docs")
    assert r.status_code == 200
    html = r.content.decode()
    assert "swagger-ui-bundle.js" in html and "cdn.jsdelivr" not in html


@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
def test_every_documented_operation_refuses_anonymous(db, method):
    """No endpoint is reachable without auth except the ones declared public."""
    doc = Client().get("/api/openapi.json").json()
    public = {("post", "/api/auth/tokens"), ("get", "/api/invites/{code}")}
    fillers = {"slug": "x", "user_id": "1", "code": "x", "token_id": "1", "invite_id": "1",
               "request_id": "1", "group_id": "1", "message_id": "1", "plan_id": "1", "public_id": "x",
               "payout_id": "1"}
    client = ApiClient()
    checked = 0
    for path, ops in doc["paths"].items():
        if method not in ops or (method, path) in public:
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: fillers.get(m.group(1), "1"), path)  # new ids: "1"
        r = client.call(method, url, {} if method != "get" else None)
        assert r.status_code == 401, (method, path, r.status_code)
        checked += 1
    assert checked > 0


def test_bearer_user_gets_messages_in_their_language(owner, api_as):
    owner.language = "zh-hans"
    owner.save(update_fields=["language"])
    client = api_as(owner)
    body = assert_error(client.get("/api/circles/nowhere"), 404, "circle_not_found")
    assert body["message"] == "没有这个圈子。"
    r = client.client.get("/api/circles/nowhere", headers={**client._headers(), "Accept-Language": "en"})
    assert r.json()["message"] == "No such circle."


def test_unknown_api_path_is_a_json_404(owner, api_as):
    for method in ("get", "post", "delete"):
        assert_error(api_as(owner).call(method, "/api/no/such/thing"), 404, "not_found")
    assert_error(ApiClient().get("/api/nope"), 404, "not_found")
    assert Client().get("/api/openapi.json").status_code == 200
