"""Policy validation: clear errors, nothing stored; the same rules for the action, the API and the form."""

from __future__ import annotations

import pytest

from quanzi.core.errors import Forbidden, InvalidInput
from quanzi.core.models import AuditEntry
from quanzi.moderation import actions
from quanzi.moderation.models import CirclePolicy
from quanzi.moderation.policy import check_regex, ensure_policy

pytestmark = pytest.mark.django_db

BAD = [
    ({"hold_threshold": 1.5}, "invalid_threshold"),
    ({"delete_threshold": -0.1}, "invalid_threshold"),
    ({"hold_threshold": "abc"}, "invalid_hold_threshold"),
    ({"hold_threshold": float("nan")}, "invalid_hold_threshold"),
    ({"hold_threshold": 0.95, "delete_threshold": 0.6}, "invalid_threshold"),
    ({"hold_action": "explode"}, "invalid_action"),
    ({"mute_minutes": -5}, "invalid_mute_minutes"),
    ({"mute_minutes": 0}, "invalid_mute_minutes"),
    ({"flood_seconds": 2.5}, "invalid_flood_seconds"),
    ({"kick_after_strikes": True}, "invalid_kick_after_strikes"),
    ({"regex_rules": "([a-z]+"}, "invalid_regex"),
    ({"regex_rules": "(a+)+$"}, "unsafe_regex"),
    ({"regex_rules": "(.*x)*"}, "unsafe_regex"),
    ({"regex_rules": "(a|b*){2,}"}, "unsafe_regex"),
    ({"regex_rules": "x" * 201}, "invalid_regex"),
    ({"keywords": ["ok", 5]}, "invalid_keywords"),
    ({"blocked_domains": "not a domain!"}, "invalid_domain"),
    ({"allowed_domains": "a.com", "blocked_domains": "a.com"}, "invalid_domain"),
    ({"colour": "red"}, "invalid_field"),
    ({"enabled": "yes"}, "invalid_enabled"),
]


@pytest.mark.parametrize(("changes", "code"), BAD, ids=[c for _, c in BAD])
def test_invalid_policies_are_refused(circle, owner, changes, code):
    before = {f.name: getattr(ensure_policy(circle.id), f.name) for f in CirclePolicy._meta.concrete_fields}
    with pytest.raises(InvalidInput) as caught:
        actions.do_update_policy(actor=owner, circle=circle, **changes)
    assert caught.value.code == code
    assert caught.value.message
    after = CirclePolicy.objects.get(circle=circle)
    assert {f.name: getattr(after, f.name) for f in CirclePolicy._meta.concrete_fields} == before
    assert not AuditEntry.objects.filter(action="moderation.policy").exists()


def test_valid_update_is_cleaned_and_audited(circle, owner):
    policy = actions.do_update_policy(
        actor=owner, circle=circle, hold_threshold="0.4", allowed_domains=["https://www.Strava.com/x", "strava.com"],
        keywords="加微信\n\n  兼职  \n", regex_rules=r"v\s*x\s*\d{5,}",
    )
    assert policy.hold_threshold == 0.4 and policy.allowed_domains == "strava.com"
    assert policy.keywords == "加微信\n兼职"
    entry = AuditEntry.objects.get(circle=circle, action="moderation.policy")
    assert entry.actor == owner and set(entry.data["changes"]) == {"hold_threshold", "allowed_domains", "keywords",
                                                                    "regex_rules"}


def test_only_admins_change_the_policy(circle, moderator, member):
    for user in (moderator, member):
        with pytest.raises(Forbidden):
            actions.do_update_policy(actor=user, circle=circle, hold_threshold=0.3)


def test_safe_regexes_pass():
    for pattern in (r"v\s*x\s*\d{5,}", r"(加|\+)\s*微", r"(ab){2}c", r"\bfree\b.*\biphone\b", r"(?:a|b)+"):
        check_regex(pattern)
