"""The hand-written bearer-token lookup (accounts.selectors.active_token) answers like the ORM did."""

from __future__ import annotations

from quanzi.accounts import actions as account_actions
from quanzi.accounts.models import ApiToken, User
from quanzi.accounts.selectors import active_token, user_for_token


def test_lookup_returns_full_token_and_user_rows(make_user):
    user = make_user("kim")
    token, raw = account_actions.do_create_token(user=user, name="cli")
    found = active_token(raw)
    assert found is not None and found.id == token.id and found.name == "cli"
    fresh = ApiToken.objects.get(id=token.id)
    assert found.created_at == fresh.created_at and found.last_used_at == fresh.last_used_at
    db_user = User.objects.get(id=user.id)
    got = found.user
    assert isinstance(got, User) and not got._state.adding
    for f in User._meta.concrete_fields:
        assert getattr(got, f.attname) == getattr(db_user, f.attname), f.name
    got.display_name = "Kim"
    got.save(update_fields=["display_name"])  # a usable model instance
    assert User.objects.get(id=user.id).display_name == "Kim"


def test_inactive_user_and_unknown_or_malformed_tokens_are_refused(make_user):
    user = make_user("lou")
    _token, raw = account_actions.do_create_token(user=user, name="cli")
    assert user_for_token(raw) == user
    User.objects.filter(id=user.id).update(is_active=False)
    assert user_for_token(raw) is None  # no cache: the very next call
    User.objects.filter(id=user.id).update(is_active=True)
    assert user_for_token(raw) == user
    for bad in (None, "", raw[:-1], "x" + raw, raw + "x" * 100, "qz_' OR 1=1 --"):
        assert user_for_token(bad) is None
