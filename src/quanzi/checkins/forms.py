"""Web forms of check-in challenges. They parse types only; the actions check every rule."""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from quanzi.web.money import parse_major, to_major_text

from .models import ShareMode
from .schedule import mask_to_weekdays, zone

WEEKDAYS = [
    ("0", _("Mon")), ("1", _("Tue")), ("2", _("Wed")), ("3", _("Thu")), ("4", _("Fri")), ("5", _("Sat")),
    ("6", _("Sun")),
]

# Domain error codes → the form field they belong to.
ERROR_FIELDS = {
    "invalid_title": "title", "invalid_description": "description", "invalid_dates": "end_date",
    "invalid_weekdays": "weekdays", "invalid_window": "window_end", "invalid_require_min_chars": "require_min_chars",
    "invalid_makeups_allowed": "makeups_allowed", "invalid_days_to_complete": "days_to_complete",
    "invalid_join_deadline": "join_deadline", "invalid_deposit_amount": "deposit",
    "invalid_share_mode": "share_mode", "invalid_organiser_fee_bps": "organiser_fee_bps",
}


class ChallengeForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=120)
    description = forms.CharField(label=_("Description"), required=False, max_length=5000,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    start_date = forms.DateField(label=_("First day"), widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(label=_("Last day"), widget=forms.DateInput(attrs={"type": "date"}))
    weekdays = forms.MultipleChoiceField(label=_("Check-in days"), choices=WEEKDAYS,
                                         widget=forms.CheckboxSelectMultiple(attrs={"class": "weekday-choices"}))
    window_start = forms.TimeField(label=_("Window opens"), widget=forms.TimeInput(attrs={"type": "time"}))
    window_end = forms.TimeField(
        label=_("Window closes"), widget=forms.TimeInput(attrs={"type": "time"}),
        help_text=_("In the circle's time zone. A closing time earlier than the opening time crosses midnight: "
                    "the check-in counts for the day the window opened."))
    require_min_chars = forms.IntegerField(label=_("Minimum characters of text"), min_value=0, initial=0)
    require_image = forms.BooleanField(label=_("An image is required"), required=False)
    require_voice = forms.BooleanField(label=_("A voice note is required"), required=False)
    makeups_allowed = forms.IntegerField(label=_("Make-up check-ins allowed"), min_value=0, initial=0)
    days_to_complete = forms.IntegerField(label=_("Days needed to complete"), min_value=1, required=False,
                                          help_text=_("Empty: every scheduled day."))
    join_deadline = forms.DateTimeField(
        label=_("Join deadline"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help_text=_("In the circle's time zone. Empty: joining closes when the first window opens."))
    deposit = forms.CharField(label=_("Deposit"), required=False, initial="0",
                              help_text=_("0 for none. Paid from the member's wallet when joining."))
    share_mode = forms.ChoiceField(label=_("Forfeited deposits are shared"), choices=ShareMode.choices,
                                   initial=ShareMode.EVEN)
    organiser_fee_bps = forms.IntegerField(
        label=_("Organiser fee (basis points)"), min_value=0, max_value=10000, initial=0,
        help_text=_("100 basis points are one percent of the forfeited pool."),
    )

    def __init__(self, *args, circle, **kwargs) -> None:
        self.circle = circle
        super().__init__(*args, **kwargs)
        self.fields["deposit"].label = _("Deposit (%(currency)s)") % {"currency": circle.currency}

    def clean_deposit(self) -> int:
        text = self.cleaned_data.get("deposit") or "0"
        return parse_major(text, self.circle.currency, allow_zero=True)

    def clean_join_deadline(self) -> datetime | None:
        value = self.cleaned_data.get("join_deadline")
        if value is None:
            return None
        # The browser sends a wall-clock time; it means the circle's clock.
        naive = value.replace(tzinfo=None)
        return naive.replace(tzinfo=zone(self.circle.timezone))

    def action_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data["deposit_amount"] = data.pop("deposit")
        data["weekdays"] = [int(d) for d in data["weekdays"]]
        return data

    @classmethod
    def initial_for(cls, challenge) -> dict:
        deadline = challenge.join_deadline
        local = deadline.astimezone(zone(challenge.circle.timezone)) if deadline else None
        return {
            "title": challenge.title, "description": challenge.description, "start_date": challenge.start_date,
            "end_date": challenge.end_date, "weekdays": [str(d) for d in mask_to_weekdays(challenge.weekdays)],
            "window_start": challenge.window_start.strftime("%H:%M"),
            "window_end": challenge.window_end.strftime("%H:%M"),
            "require_min_chars": challenge.require_min_chars, "require_image": challenge.require_image,
            "require_voice": challenge.require_voice, "makeups_allowed": challenge.makeups_allowed,
            "days_to_complete": challenge.days_to_complete,
            "join_deadline": local.strftime("%Y-%m-%dT%H:%M") if local else None,
            "deposit": to_major_text(challenge.deposit_amount, challenge.currency),
            "share_mode": challenge.share_mode, "organiser_fee_bps": challenge.organiser_fee_bps,
        }

    def add_domain_error(self, exc) -> None:
        field = ERROR_FIELDS.get(exc.code)
        self.add_error(field if field in self.fields else None, exc.message)


class CheckInForm(forms.Form):
    text = forms.CharField(label=_("Today's check-in"), required=False, max_length=5000,
                           widget=forms.Textarea(attrs={"rows": 3}))
    image = forms.FileField(label=_("Image"), required=False,
                            widget=forms.ClearableFileInput(attrs={"accept": "image/*"}))
    voice = forms.FileField(label=_("Voice note"), required=False,
                            widget=forms.ClearableFileInput(attrs={"accept": "audio/*"}))


class MakeUpForm(CheckInForm):
    day = forms.DateField(label=_("Day to make up"), widget=forms.DateInput(attrs={"type": "date"}))

    field_order = ["day", "text", "image", "voice"]


class CommentForm(forms.Form):
    text = forms.CharField(label=_("Comment"), max_length=2000)

    def clean_text(self) -> str:
        text = self.cleaned_data["text"].strip()
        if not text:
            raise ValidationError(_("Write a comment."))
        return text
