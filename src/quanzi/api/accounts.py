"""Tokens and the caller's own profile."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import File, Router, Status
from ninja.files import UploadedFile

from quanzi.accounts import actions as account_actions
from quanzi.accounts.models import User
from quanzi.accounts.selectors import api_tokens
from quanzi.core.errors import NotAuthenticated

from .auth import (
    OPTIONAL_AUTH,
    check_login_allowed,
    clear_login_failures,
    current_user,
    optional_user,
    record_login_failure,
)
from .schemas import Id, MeOut, MePatch, TokenCreatedOut, TokenCreateIn, TokenList, TokenOut, errors_for
from .serialize import me_out, token_out

router = Router(tags=["accounts"])


# --- tokens -------------------------------------------------------------------------------


def _user_from_password(request: HttpRequest, username: str, password: str) -> User:
    check_login_allowed(request, username)
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        record_login_failure(request, username)
        raise NotAuthenticated(_("Wrong username or password."), code="invalid_credentials")
    clear_login_failures(request, username)
    return user


@router.post("/auth/tokens", auth=OPTIONAL_AUTH, response=errors_for({201: TokenCreatedOut}))
def create_token(request: HttpRequest, payload: TokenCreateIn):
    """Create a bearer token for the signed-in user, or for `username` + `password`.

    The raw token is in this response only; afterwards only its prefix is shown.
    """
    if payload.username is not None or payload.password is not None:
        user = _user_from_password(request, payload.username or "", payload.password or "")
    else:
        user = optional_user(request)
        if user is None:
            raise NotAuthenticated(_("Sign in, or send username and password."))
    token, raw = account_actions.do_create_token(user=user, name=payload.name)
    return Status(201, {**token_out(token), "token": raw})


@router.get("/auth/tokens", response=errors_for({200: TokenList}))
def list_tokens(request: HttpRequest, include_revoked: bool = False):
    """Your tokens (never their values)."""
    tokens = api_tokens(current_user(request), include_revoked=include_revoked)
    items = [token_out(t) for t in tokens[:200]]
    return {"items": items, "total": len(items)}


@router.delete("/auth/tokens/{token_id}", response=errors_for({200: TokenOut}))
def revoke_token(request: HttpRequest, token_id: Id):
    """Revoke one of your tokens; requests using it are refused from now on."""
    token = account_actions.do_revoke_token(user=current_user(request), token_id=token_id)
    return token_out(token)


# --- profile ------------------------------------------------------------------------------


@router.get("/me", response=errors_for({200: MeOut}))
def get_me(request: HttpRequest):
    return me_out(current_user(request))


@router.patch("/me", response=errors_for({200: MeOut}))
def update_me(request: HttpRequest, payload: MePatch):
    """Change display name, bio, language or time zone (omitted fields stay)."""
    fields = payload.dict(exclude_unset=True)
    user = account_actions.do_update_profile(
        user=current_user(request),
        display_name=fields.get("display_name"),
        bio=fields.get("bio"),
        language=fields.get("language"),
        timezone_name=fields.get("timezone"),
    )
    return me_out(user)


@router.post("/me/avatar", response=errors_for({200: MeOut}))
def upload_avatar(request: HttpRequest, file: File[UploadedFile]):
    """Upload a profile picture (multipart field `file`): PNG, JPEG, GIF or WebP; stored as a PNG of at most
    512×512 without metadata. Errors: `avatar_too_large`, `invalid_image`."""
    user = account_actions.do_set_avatar(user=current_user(request), upload=file)
    return me_out(user)


@router.delete("/me/avatar", response=errors_for({200: MeOut}))
def delete_avatar(request: HttpRequest):
    user = account_actions.do_set_avatar(user=current_user(request), upload=None)
    return me_out(user)
