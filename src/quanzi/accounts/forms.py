"""Profile form: parses input; an uploaded avatar is checked by the shared ``core.images`` function."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from quanzi.core.errors import InvalidInput
from quanzi.core.images import ACCEPT, reencode_image
from quanzi.web.forms import timezone_choices


class ProfileForm(forms.Form):
    display_name = forms.CharField(label=_("Display name"), required=False, max_length=200)
    bio = forms.CharField(label=_("About you"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    timezone = forms.ChoiceField(label=_("Time zone"), choices=timezone_choices)
    # A plain file field: the content is judged by core.images alone, not also by Django's ImageField.
    avatar = forms.FileField(
        label=_("Avatar"), required=False, help_text=_("PNG, JPEG, GIF or WebP, up to 2 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
    )
    remove_avatar = forms.BooleanField(label=_("Remove the current avatar"), required=False)

    ERROR_FIELDS = {
        "invalid_display_name": "display_name",
        "invalid_bio": "bio",
        "invalid_language": "language",
        "invalid_timezone": "timezone",
        "invalid_image": "avatar",
        "avatar_too_large": "avatar",
    }

    def clean_avatar(self):
        """A refused picture is a form error before anything is saved; the view hands the
        re-encoded file to ``do_set_avatar``, which checks it again through the same function."""
        upload = self.cleaned_data.get("avatar")
        if not upload:
            return None
        try:
            return reencode_image(upload)
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None

    def add_domain_error(self, exc) -> None:
        self.add_error(self.ERROR_FIELDS.get(exc.code), exc.message)
