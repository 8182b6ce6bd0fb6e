"""Profile form: parses input and turns an uploaded avatar into a safe, re-encoded image."""

from __future__ import annotations

import io
import secrets

from django import forms
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from quanzi.web.forms import timezone_choices

AVATAR_SIZE = 256
AVATAR_MAX_PIXELS = 25_000_000
AVATAR_FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}


def reencode_avatar(upload) -> ContentFile:
    """Check the upload by its content (not its name) and re-encode it as a small PNG.

    Re-encoding drops metadata and anything smuggled after the pixels; the stored file
    name is random, so no user-controlled path reaches the storage.
    """
    if upload.size > settings.AVATAR_MAX_BYTES:
        raise forms.ValidationError(
            _("The image is too large (at most %(mb)d MB).") % {"mb": settings.AVATAR_MAX_BYTES // (1024 * 1024)}
        )
    try:
        upload.seek(0)
        with Image.open(upload) as probe:
            if probe.format not in AVATAR_FORMATS:
                raise forms.ValidationError(_("Upload a PNG, JPEG, GIF or WebP image."))
            width, height = probe.size
            if width * height > AVATAR_MAX_PIXELS:
                raise forms.ValidationError(_("The image has too many pixels."))
            probe.verify()
        upload.seek(0)
        with Image.open(upload) as image:
            image.seek(0)
            image = image.convert("RGBA")
            image.thumbnail((AVATAR_SIZE, AVATAR_SIZE))
            out = io.BytesIO()
            image.save(out, format="PNG", optimize=True)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise forms.ValidationError(_("This file is not a valid image."))
    return ContentFile(out.getvalue(), name=f"{secrets.token_hex(12)}.png")


class ProfileForm(forms.Form):
    display_name = forms.CharField(label=_("Display name"), required=False, max_length=200)
    bio = forms.CharField(label=_("About you"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    timezone = forms.ChoiceField(label=_("Time zone"), choices=timezone_choices)
    avatar = forms.ImageField(label=_("Avatar"), required=False, help_text=_("PNG, JPEG, GIF or WebP, up to 2 MB."))
    remove_avatar = forms.BooleanField(label=_("Remove the current avatar"), required=False)

    ERROR_FIELDS = {
        "invalid_display_name": "display_name",
        "invalid_bio": "bio",
        "invalid_language": "language",
        "invalid_timezone": "timezone",
    }

    def clean_avatar(self):
        upload = self.cleaned_data.get("avatar")
        if not upload:
            return None
        return reencode_avatar(upload)

    def add_domain_error(self, exc) -> None:
        self.add_error(self.ERROR_FIELDS.get(exc.code), exc.message)
