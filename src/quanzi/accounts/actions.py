"""Writers for accounts: profile changes and API tokens."""

from __future__ import annotations

import functools
import unicodedata
import zoneinfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from quanzi.core.errors import InvalidInput, NotFound
from quanzi.core.events import EventType, emit
from quanzi.core.ids import as_db_id
from quanzi.core.images import reencode_image

from .credentials import token_credential
from .models import ApiToken, User, hash_token

MAX_TOKENS_PER_USER = 20


@functools.cache
def _known_timezones() -> frozenset[str]:
    """zoneinfo.available_timezones() walks the tz database on disk (~15 ms); once per process is enough."""
    return frozenset(zoneinfo.available_timezones())


def do_update_profile(
    *, user: User, display_name: str | None = None, bio: str | None = None, language: str | None = None,
    timezone_name: str | None = None,
) -> User:
    # Validate everything before touching ``user``: a refused update leaves even the
    # in-memory object (often ``request.user``) unchanged.
    changes: dict[str, str] = {}
    if display_name is not None:
        if not isinstance(display_name, str):
            raise InvalidInput(_("The display name must be text."), code="invalid_display_name")
        display_name = display_name.strip()
        if len(display_name) > 64:
            raise InvalidInput(_("The display name can be at most 64 characters."), code="invalid_display_name")
        if any(unicodedata.category(ch) == "Cc" for ch in display_name):
            raise InvalidInput(
                _("The display name cannot contain control characters."), code="invalid_display_name"
            )
        changes["display_name"] = display_name
    if bio is not None:
        if not isinstance(bio, str) or len(bio.strip()) > 1000:
            raise InvalidInput(_("The bio can be at most 1000 characters."), code="invalid_bio")
        changes["bio"] = bio.strip()
        if changes["bio"] and changes["bio"] != user.bio:
            from quanzi.moderation.gate import check_bio

            check_bio(user, changes["bio"])  # a bio that reads like an ad is refused (docs/moderation.md)
    if language is not None:
        if language not in dict(settings.LANGUAGES):
            raise InvalidInput(_("Unsupported language."), code="invalid_language")
        changes["language"] = language
    if timezone_name is not None:
        if timezone_name not in _known_timezones():
            raise InvalidInput(_("Unknown time zone."), code="invalid_timezone")
        changes["timezone"] = timezone_name
    if changes:
        for key, value in changes.items():
            setattr(user, key, value)
        user.save(update_fields=list(changes))
    return user


@transaction.atomic
def do_create_token(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new bearer token; the raw value is returned once and never stored."""
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise InvalidInput(_("A token name needs 1 to 64 characters."), code="invalid_name")
    User.objects.select_for_update().filter(id=user.id).first()
    if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_TOKENS_PER_USER:
        raise InvalidInput(
            _("You have %(n)d active tokens; revoke one first.") % {"n": MAX_TOKENS_PER_USER}, code="too_many_tokens"
        )
    raw = ApiToken.generate_raw()
    token = ApiToken.objects.create(user=user, name=name, key_hash=hash_token(raw), key_prefix=raw[:10])
    return token, raw


@transaction.atomic
def do_revoke_token(*, user: User, token_id: int) -> ApiToken:
    """Revoke a token; connections opened with it (WebSockets) are closed after commit."""
    token = ApiToken.objects.filter(id=token_id, user=user).first() if as_db_id(token_id) else None
    if token is None:
        raise NotFound(_("No such token."), code="token_not_found")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        emit(
            EventType.CREDENTIAL_REVOKED,
            circle=None,
            actor_id=user.id,
            target_user_id=user.id,
            data={"credential": token_credential(token.id), "reason": "token_revoked"},
        )
    return token


def do_set_avatar(*, user: User, upload=None) -> User:
    """Replace the avatar with the uploaded picture, or with ``upload=None`` remove it.

    The upload is validated and re-encoded by ``core.images.reencode_image`` before
    anything is written (``InvalidInput`` ``avatar_too_large`` / ``invalid_image``), and
    outside the transaction: decoding takes tens of milliseconds, too long to hold
    SQLite's write lock. The old file is deleted only once the change has committed, so a
    rolled-back change never leaves the row pointing at a deleted file.
    """
    image = reencode_image(upload) if upload is not None else None
    with transaction.atomic():
        old = User.objects.select_for_update().only("avatar").get(id=user.id).avatar.name or ""
        if image is None and not old:
            user.avatar = ""
            return user
        if image is None:
            user.avatar = ""
        else:
            user.avatar.save(image.name, image, save=False)
        user.save(update_fields=["avatar"])
        if old and old != user.avatar.name:
            storage = user.avatar.storage
            transaction.on_commit(lambda: storage.delete(old))
    return user
