"""Web forms of moderation. They only shape input: ``policy.clean_policy`` (through the action) validates."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Action, CirclePolicy, Decision, TrustLevel

POLICY_FIELDS = [
    "enabled", "hold_threshold", "hold_action", "delete_threshold", "delete_action", "mute_minutes",
    "kick_after_strikes", "strike_window_days", "allowed_domains", "blocked_domains", "newcomer_link_hours",
    "keywords", "regex_rules", "rule_action", "flood_messages", "flood_seconds", "duplicate_groups",
    "duplicate_minutes",
]


class PolicyForm(forms.ModelForm):
    class Meta:
        model = CirclePolicy
        fields = POLICY_FIELDS
        widgets = {
            "hold_threshold": forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "1"}),
            "delete_threshold": forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "1"}),
            "allowed_domains": forms.Textarea(attrs={"rows": 3, "placeholder": "example.com"}),
            "blocked_domains": forms.Textarea(attrs={"rows": 3, "placeholder": "spam.example"}),
            "keywords": forms.Textarea(attrs={"rows": 3, "placeholder": "加微信"}),
            "regex_rules": forms.Textarea(attrs={"rows": 3, "placeholder": r"v\s*x\s*\d{5,}"}),
        }
        help_texts = {
            "hold_threshold": _("From 0 to 1: content scoring at least this waits for a moderator."),
            "delete_threshold": _("From 0 to 1, not below the hold score: content scoring at least this is removed."),
            "allowed_domains": _("One per line. Links to these domains (and their subdomains) are fine, "
                                 "even from newcomers."),
            "blocked_domains": _("One per line. Links to these get the action at the delete score."),
            "keywords": _("One per line, matched after normalisation: “加微信” also catches “加 薇 信”."),
            "regex_rules": _("One per line, matched after normalisation; nested repetitions like (a+)+ are refused."),
        }


class DecideForm(forms.Form):
    decision = forms.ChoiceField(choices=Decision.choices)
    reason = forms.CharField(max_length=500, required=False)


class ReportForm(forms.Form):
    kind = forms.CharField(max_length=16)
    object_id = forms.IntegerField(min_value=1)
    reason = forms.CharField(max_length=500, required=False)


class TrustForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    level = forms.ChoiceField(
        label=_("Trust level"),
        choices=[("", _("Automatic (earned)"))] + [(str(v), label) for v, label in TrustLevel.choices],
        required=False,
    )


ACTIONS = Action  # re-exported for templates' choices
