"""Property-based run of every documented operation, in-process over WSGI.

Each response must be a non-5xx with a documented status, content type and body shape,
and operations that declare auth must refuse a request without it (``ignored_auth``).
Path parameters point at a real circle, group and message about half the time, so the
happy paths are fuzzed too, not only the 404s.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from django.core import signals  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import close_old_connections  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

from quanzi.accounts.actions import do_create_token  # noqa: E402
from quanzi.accounts.models import ApiToken  # noqa: E402
from quanzi.chat import actions as chat_actions  # noqa: E402

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    ignored_auth,
]


@pytest.fixture
def world(circle, owner, member, settings_media, db):
    """A circle with a message; the owner's token (revived before each call: fuzzing may revoke it)."""
    message = chat_actions.do_send_message(sender=member, group=circle.main_group, body="hello @owner")
    token, raw = do_create_token(user=owner, name="fuzz")
    # The WSGI handler would close the test's connection (and its transaction) around each
    # request; Django's test client unhooks the same two receivers.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield {"token": token, "raw": raw, "circle": circle, "message": message, "member": member}
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def settings_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


REAL_IDS = {"slug": "circle", "group_id": "group", "message_id": "message", "user_id": "member"}


def _point_at_real_objects(case, world) -> None:
    if not case.path_parameters:
        return
    real = {
        "slug": world["circle"].slug,
        "group_id": world["circle"].main_group_id,
        "message_id": world["message"].id,
        "user_id": world["member"].id,
    }
    for name in list(case.path_parameters):
        if name in real and hash((case.method, str(case.path_parameters[name]))) % 2 == 0:
            case.path_parameters[name] = real[name]


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_schema(case, world):
    ApiToken.objects.filter(id=world["token"].id).update(revoked_at=None)
    _point_at_real_objects(case, world)
    case.call_and_validate(headers={"Authorization": f"Bearer {world['raw']}"}, checks=CHECKS)


def test_schema_names_are_unique_across_routers():
    """django-ninja names OpenAPI components after the class: two ``StatsOut`` would share one schema."""
    import inspect

    from ninja import Schema

    from quanzi.api import accounts, archive, chat, checkins, circles, feed, moderation, payments, schemas, search

    seen: dict[str, object] = {}
    for module in (accounts, archive, chat, checkins, circles, feed, moderation, payments, schemas, search):
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, Schema) and obj.__module__ == module.__name__:
                assert seen.setdefault(name, obj) is obj, f"two schemas named {name}"
