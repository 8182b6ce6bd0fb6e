"""What the chat page's script needs from moderation (kept apart from views: web.views imports it)."""

from __future__ import annotations

from django.utils.translation import gettext as _


def chat_config(circle) -> dict:
    """What chat.js needs for held/removed messages and the Report button (strings translated here)."""
    return {
        "reportUrl": f"/api/circles/{circle.slug}/moderation/reports",
        "strings": {
            "report": _("Report"),
            "confirmReport": _("Report this message as an ad to the moderators?"),
            "reported": _("Reported — thank you. The moderators will look at it."),
            "held": _("Awaiting review: only you can see this until a moderator approves it."),
            "removed": _("Removed: this looks like an ad. Repeated ads get you muted or removed."),
        },
    }
