"""Profile updates and API tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from quanzi.accounts import actions as account_actions
from quanzi.accounts.models import ApiToken, User, hash_token
from quanzi.accounts.selectors import user_for_token
from quanzi.core.errors import QuanziError


def profile_row(user: User) -> tuple:
    return User.objects.filter(id=user.id).values_list("display_name", "bio", "language", "timezone").get()


def test_update_profile_saves_clean_values(make_user):
    user = make_user("ann")
    account_actions.do_update_profile(user=user, display_name="  Ann Lee ", bio="  Runner.\n", language="zh-hans",
                                      timezone_name="Asia/Shanghai")
    assert profile_row(user) == ("Ann Lee", "Runner.", "zh-hans", "Asia/Shanghai")
    assert user.name == "Ann Lee"
    account_actions.do_update_profile(user=user, display_name="")  # empty falls back to the username
    user.refresh_from_db()
    assert user.name == "ann"


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"display_name": "x" * 65}, "invalid_display_name"),
    ({"display_name": "bad\nname"}, "invalid_display_name"),
    ({"display_name": 42}, "invalid_display_name"),
    ({"bio": "b" * 1001}, "invalid_bio"),
    ({"language": "tlh"}, "invalid_language"),
    ({"timezone_name": "Europe/Atlantis"}, "invalid_timezone"),
    # A valid field next to an invalid one is not saved either.
    ({"display_name": "Fine", "timezone_name": "Nowhere/None"}, "invalid_timezone"),
    ({"bio": "fine", "language": "xx"}, "invalid_language"),
])
def test_update_profile_refuses_and_writes_nothing(make_user, kwargs, code):
    user = make_user("bob")
    before_row, before_obj = profile_row(user), (user.display_name, user.bio, user.language, user.timezone)
    with pytest.raises(QuanziError) as caught:
        account_actions.do_update_profile(user=user, **kwargs)
    assert caught.value.code == code and caught.value.status == 400
    assert profile_row(user) == before_row
    assert (user.display_name, user.bio, user.language, user.timezone) == before_obj


def test_bio_limit_counts_after_trimming(make_user):
    user = make_user("carol")
    account_actions.do_update_profile(user=user, bio="b" * 1000 + "   \n")
    assert len(profile_row(user)[1]) == 1000


# --- tokens -------------------------------------------------------------------------------


def test_create_token_stores_only_the_hash(make_user):
    user = make_user("dan")
    token, raw = account_actions.do_create_token(user=user, name="  laptop ")
    assert raw.startswith(ApiToken.PREFIX) and len(raw) > 40
    assert token.name == "laptop"
    assert token.key_hash == hash_token(raw) and raw not in token.key_hash
    assert token.key_prefix == raw[:10]
    assert user_for_token(raw) == user


@pytest.mark.parametrize("name", ["", "   ", "n" * 65, None])
def test_create_token_needs_a_name(make_user, name):
    user = make_user("erin")
    with pytest.raises(QuanziError) as caught:
        account_actions.do_create_token(user=user, name=name)
    assert caught.value.code == "invalid_name"
    assert not ApiToken.objects.exists()


def test_token_lookup_rejects_revoked_wrong_prefix_unknown_and_inactive(make_user):
    user = make_user("fay")
    token, raw = account_actions.do_create_token(user=user, name="cli")
    assert user_for_token(raw) == user
    assert user_for_token(None) is None and user_for_token("") is None
    assert user_for_token("xx_" + raw[3:]) is None  # wrong prefix, same secret
    assert user_for_token(raw + "x") is None
    assert user_for_token(ApiToken.PREFIX + "a" * 200) is None  # absurdly long

    User.objects.filter(id=user.id).update(is_active=False)
    assert user_for_token(raw) is None
    User.objects.filter(id=user.id).update(is_active=True)
    assert user_for_token(raw) == user

    revoked = account_actions.do_revoke_token(user=user, token_id=token.id)
    assert revoked.revoked_at is not None
    assert user_for_token(raw) is None
    first = revoked.revoked_at
    assert account_actions.do_revoke_token(user=user, token_id=token.id).revoked_at == first  # idempotent


def test_token_lookup_records_last_use_at_most_every_few_minutes(make_user):
    user = make_user("gus")
    token, raw = account_actions.do_create_token(user=user, name="cli")
    user_for_token(raw)
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    user_for_token(raw)
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(id=token.id).update(last_used_at=timezone.now() - timedelta(minutes=10))
    user_for_token(raw)
    token.refresh_from_db()
    assert token.last_used_at > first


def test_cannot_revoke_someone_elses_token(make_user):
    owner, other = make_user("hal"), make_user("ivy")
    token, raw = account_actions.do_create_token(user=owner, name="cli")
    with pytest.raises(QuanziError) as caught:
        account_actions.do_revoke_token(user=other, token_id=token.id)
    assert caught.value.code == "token_not_found" and caught.value.status == 404
    assert user_for_token(raw) == owner


def test_token_limit_counts_active_tokens_only(make_user):
    user = make_user("jo")
    limit = account_actions.MAX_TOKENS_PER_USER
    tokens = [account_actions.do_create_token(user=user, name=f"t{i}")[0] for i in range(limit)]
    with pytest.raises(QuanziError) as caught:
        account_actions.do_create_token(user=user, name="one too many")
    assert caught.value.code == "too_many_tokens"
    assert ApiToken.objects.filter(user=user).count() == limit
    account_actions.do_revoke_token(user=user, token_id=tokens[0].id)
    account_actions.do_create_token(user=user, name="replacement")
    assert ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() == limit
