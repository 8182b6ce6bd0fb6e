"""Forms of the web UI.

They only parse and type the input; the domain rules (lengths, ranges, who may do what)
live in the actions, whose :class:`QuanziError` messages the views attach to the form.
"""

from __future__ import annotations

import zoneinfo
from functools import cache

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from quanzi.circles.models import DmPolicy, JoinMode, Role, Visibility
from quanzi.core.images import ACCEPT


@cache
def timezone_choices() -> list[tuple[str, str]]:
    """Canonical zone names, without the duplicate ``posix/`` and ``right/`` trees."""
    names = sorted(
        name for name in zoneinfo.available_timezones() if not name.startswith(("posix", "right", "Etc/"))
    )
    if "UTC" not in names:
        names.insert(0, "UTC")
    return [(name, name.replace("_", " ")) for name in names]


class CircleFieldsForm(forms.Form):
    """Fields shared by creating a circle and editing its settings."""

    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    rules_text = forms.CharField(label=_("Rules"), required=False, widget=forms.Textarea(attrs={"rows": 4}))
    visibility = forms.ChoiceField(label=_("Visibility"), choices=Visibility.choices, initial=Visibility.PUBLIC)
    join_mode = forms.ChoiceField(label=_("Who can join"), choices=JoinMode.choices, initial=JoinMode.OPEN)
    timezone = forms.ChoiceField(label=_("Time zone"), choices=timezone_choices, initial="UTC")
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES, initial="en")

    # Maps an action's error code to the field it is about, so the message shows next to it.
    ERROR_FIELDS = {
        "invalid_name": "name",
        "invalid_slug": "slug",
        "slug_taken": "slug",
        "invalid_description": "description",
        "invalid_rules_text": "rules_text",
        "invalid_welcome_template": "welcome_template",
        "invalid_visibility": "visibility",
        "invalid_join_mode": "join_mode",
        "invalid_timezone": "timezone",
        "invalid_language": "language",
        "invalid_dm_policy": "dm_policy",
        "invalid_upload_limit": "upload_limit_mb",
    }

    def add_domain_error(self, exc) -> None:
        field = self.ERROR_FIELDS.get(exc.code)
        self.add_error(field if field in self.fields else None, exc.message)


class CreateCircleForm(CircleFieldsForm):
    slug = forms.CharField(
        label=_("Address"),
        required=False,
        max_length=64,
        help_text=_("Lowercase letters, digits and dashes; used in the circle's web address."),
    )
    with_channel = forms.BooleanField(
        label=_("Create an announcement channel"), required=False, initial=True,
        help_text=_("Only admins post there; members choose whether to follow it."),
    )
    field_order = ["name", "slug", "description", "rules_text", "visibility", "join_mode", "timezone", "language"]


class CircleSettingsForm(CircleFieldsForm):
    welcome_template = forms.CharField(
        label=_("Welcome message"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Sent to every new member. Placeholders: {name}, {circle}, {rules}."),
    )
    # Not required: a form without it (older clients) leaves the policy as it is.
    dm_policy = forms.TypedChoiceField(label=_("Direct messages"), choices=DmPolicy.choices, required=False,
                                       empty_value=None, initial=DmPolicy.MEMBERS,
                                       help_text=_("Who may send direct messages to whom in this circle."))
    members_can_post = forms.TypedChoiceField(
        label=_("Feed posts"), choices=[("1", _("Every member may post")), ("0", _("Only moderators and up post"))],
        coerce=lambda value: value == "1", empty_value=None, required=False, initial="1",
    )
    upload_limit_mb = forms.IntegerField(label=_("Largest upload (MB)"), required=False, min_value=1)


class CircleAvatarForm(forms.Form):
    """The circle's picture; its content is judged by ``core.images`` in the action."""

    avatar = forms.FileField(
        label=_("New picture"), help_text=_("PNG, JPEG, GIF or WebP, up to 2 MB."),
        widget=forms.FileInput(attrs={"accept": ACCEPT}),
    )


class GroupCreateForm(forms.Form):
    name = forms.CharField(label=_("Group name"), max_length=200)
    topic = forms.CharField(label=_("Topic"), required=False, max_length=300)


class GroupModerationForm(forms.Form):
    mute_all = forms.BooleanField(label=_("Only moderators may post (mute all)"), required=False)
    slow_mode_seconds = forms.IntegerField(
        label=_("Slow mode (seconds between posts, 0 = off)"), min_value=0, initial=0
    )


class InviteForm(forms.Form):
    expires_in_hours = forms.IntegerField(
        label=_("Expires after (hours)"), required=False, help_text=_("Leave empty for no expiry.")
    )
    max_uses = forms.IntegerField(label=_("Maximum uses"), required=False, help_text=_("Leave empty for no limit."))
    note = forms.CharField(label=_("Note"), required=False, max_length=100)


class MemberActionForm(forms.Form):
    """One form for every member action; each action reads the fields it needs."""

    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, required=False)
    minutes = forms.IntegerField(label=_("Minutes"), required=False)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)


class JoinForm(forms.Form):
    message = forms.CharField(
        label=_("Message to the admins (optional)"), required=False, max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class DecideForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500)


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False)
    actor = forms.CharField(
        label=_("Actor (username)"), required=False, max_length=150,
        widget=forms.TextInput(attrs={"placeholder": _("Actor (username)")}),
    )
    target = forms.CharField(
        label=_("Target"), required=False, max_length=150,
        widget=forms.TextInput(attrs={"placeholder": _("Target (username or text)")}),
    )

    def __init__(self, *args, actions: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("Any action"))] + [(a, a) for a in actions]


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Token name"), max_length=200)
