"""The inline gate: every piece of member content passes ``screen`` before anyone else sees it.

Content paths call it once, store the content in the state it returns, then call ``settle``
with the new row's id::

    screening = gate.screen(actor=user, circle=circle, kind="message", text=body, group=group)
    ... insert with moderation_state=screening.state ...
    gate.settle(screening, object_id=row.id)
    if screening.visible: broadcast as before

``screen`` combines the classifier (with the circle's own learned correction), the circle's
keyword/regex rules (on the normalised text), its link policy, flood control, cross-group
duplicates and the author's trust level into one action: allow, hold (stored, shown only to
the author and the review queue), delete (stored as "removed" for the audit trail, the author
is warned) or mute (delete and mute the author). ``settle`` writes what follows from it: the
review item, audit entries, strikes (and the kick after K strikes), the warning and the
moderators' notice, or — for accepted content — the author's trust counters.

Moderators, admins and the owner are not screened (``rules.is_screened``). It stays cheap:
the compiled policy, flood counters and duplicate fingerprints live in the cache (one
``get_many``), the trust row is one plain-SQL read, and the classifier runs in-process.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _

from quanzi.circles.models import Membership

from . import rules, trust
from .models import Action, ContentKind, TrustLevel
from .policy import CompiledPolicy, cache_key, get_policy, match_rules, squash

SEVERITY = {Action.ALLOW: 0, Action.HOLD: 1, Action.DELETE: 2, Action.MUTE: 3}
DUPLICATE_MIN_CHARS = 20  # shorter texts ("ok", "谢谢") are too common to count as copies

_TLDS = (
    "com|net|org|cn|io|me|xyz|top|cc|info|biz|co|app|dev|link|ly|gg|tk|ru|site|online|shop|vip|club|pro|tv|"
    "us|uk|hk|tw|jp|in|ai|to|so|la|ws|live|store|tech|fun|icu|win|bid|loan|work|click|asia|mobi"
)
_URL_RE = re.compile(
    r"(?i)(?:\b[a-z][a-z0-9+.-]*://([^\s/?#<>\"'()（）]+))"
    r"|(?<![@\w.-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:" + _TLDS + r"))(?![\w-])"
)


def find_domains(text: str) -> list[str]:
    """Host names of links in the text: full URLs and bare domains such as ``example.com``."""
    hosts: list[str] = []
    for match in _URL_RE.finditer(text[:20_000]):
        host = (match.group(1) or match.group(2) or "").lower()
        host = host.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".").removeprefix("www.")
        if host and host not in hosts:
            hosts.append(host)
    return hosts


def _domain_in(host: str, domains: tuple[str, ...]) -> str | None:
    for domain in domains:
        if host == domain or host.endswith("." + domain):
            return domain
    return None


@dataclass
class Screening:
    """What the gate decided about one piece of content, and why."""

    action: str = Action.ALLOW
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)
    normalised: str = ""
    screened: bool = False  # False: moderators and up, system content, a disabled policy
    mute: bool = False  # mute the author (a MUTE action or flooding)
    strike: bool = False
    level: int = TrustLevel.NEWCOMER
    kind: str = ContentKind.MESSAGE
    circle_id: int | None = None
    group_id: int | None = None
    author_id: int | None = None
    text: str = ""
    policy: CompiledPolicy | None = None
    trust_state: trust.TrustState | None = None
    now: datetime | None = None

    @property
    def visible(self) -> bool:
        return self.action == Action.ALLOW

    @property
    def state(self) -> str:
        """The content's moderation_state column: visible, held or removed."""
        if self.action == Action.ALLOW:
            return "visible"
        if self.action == Action.HOLD:
            return "held"
        return "removed"

    def escalate(self, action: str, reason: str) -> None:
        if SEVERITY[Action(action)] > SEVERITY[Action(self.action)]:
            self.action = action
        if reason and reason not in self.reasons:
            self.reasons.append(reason)

    def as_dict(self) -> dict[str, Any]:
        """What the author and clients are told (the moderators see more in the queue)."""
        return {"state": self.state, "action": str(self.action), "score": round(self.score, 3),
                "reasons": list(self.reasons)}


def _classify(circle_id: int, stamp: str, text: str):
    """The classifier's verdict for this circle (its learned correction applied)."""
    from .learning import score_for_circle

    return score_for_circle(circle_id, text, stamp=stamp)


def _flood_key(state: trust.TrustState) -> str:
    joined = state.joined_at.timestamp() if state.joined_at else 0
    return f"moderation:flood:{state.circle_id}:{state.circle_stamp}:{state.user_id}:{joined:.6f}"


def _dup_key(state: trust.TrustState, normalised: str) -> str:
    digest = hashlib.blake2b(squash(normalised).lower().encode(), digest_size=12).hexdigest()
    return f"moderation:dup:{state.circle_id}:{state.circle_stamp}:{state.user_id}:{digest}"


def screen(
    *,
    actor,
    circle,
    kind: str,
    text: str,
    group=None,
    has_links: bool | None = None,
    has_images: bool = False,
    mentions: int = 0,
    membership: Membership | None = None,
    now: datetime | None = None,
) -> Screening:
    """Decide what happens to ``text`` that ``actor`` wants to show others in ``circle``.

    ``has_links`` is found from the text when None; ``has_images`` says the content carries
    pictures or files; ``mentions`` is how many people it @mentions. ``membership`` spares a
    query when the caller has the actor's membership row already.
    """
    circle_id = getattr(circle, "id", circle)
    group_id = getattr(group, "id", group)
    now = now or timezone.now()
    result = Screening(kind=kind, circle_id=circle_id, group_id=group_id, text=text or "", now=now,
                       author_id=getattr(actor, "id", None))
    if actor is None or circle_id is None:
        return result
    if membership is None:
        membership = Membership.objects.filter(circle_id=circle_id, user_id=actor.id).first()
    if membership is None or not rules.is_screened(membership):
        return result  # no membership: the content path refuses the actor anyway
    state = trust.load(circle_id, actor.id)
    result.trust_state = state
    keys = [cache_key(circle_id, state.circle_stamp)]
    flood_key = _flood_key(state)
    if kind == ContentKind.MESSAGE:
        keys.append(flood_key)
    found = cache.get_many(keys)
    policy = get_policy(circle_id, stamp=state.circle_stamp, cached=found.get(keys[0]))
    result.policy = policy
    result.level = trust.effective_level(state, newcomer_hours=policy.newcomer_link_hours, now=now)
    if not policy.enabled:
        return result
    result.screened = True
    domains = find_domains(result.text) if has_links is not False else []
    scored = result.text
    if domains and policy.allowed_domains and all(_domain_in(h, policy.allowed_domains) for h in domains):
        scored = _URL_RE.sub(" ", scored)  # links the circle trusts are not what makes a message an ad
    verdict = _classify(circle_id, state.circle_stamp, scored)
    result.score = float(verdict.score)
    result.normalised = verdict.normalised
    why = "; ".join(verdict.reasons[:5])
    if result.score >= policy.delete_threshold:
        result.escalate(policy.delete_action, _("looks like an ad (score %(score).2f): %(why)s")
                        % {"score": result.score, "why": why} if why else
                        _("looks like an ad (score %(score).2f)") % {"score": result.score})
    elif result.score >= policy.hold_threshold and not rules.skips_hold_band(result.level):
        result.escalate(policy.hold_action, _("may be an ad (score %(score).2f): %(why)s")
                        % {"score": result.score, "why": why} if why else
                        _("may be an ad (score %(score).2f)") % {"score": result.score})
    for reason in match_rules(policy, result.normalised):
        result.escalate(policy.rule_action, _("matches the circle's %(rule)s") % {"rule": reason})

    lowered = result.text[:20_000].lower() if policy.blocked_domains else ""
    for domain in policy.blocked_domains:
        # Searched for directly too: a bare "go.spam.example/x" has no scheme and may have any TLD.
        if domain in lowered and (any(_domain_in(h, (domain,)) for h in domains) or re.search(
                r"(?<![\w.-])(?:[\w-]+\.)*" + re.escape(domain) + r"(?![\w-])", lowered)):
            result.escalate(policy.delete_action, _("links to the blocked domain %(domain)s") % {"domain": domain})
    outside = [h for h in domains if not _domain_in(h, policy.allowed_domains)]
    if (outside or (has_links and not domains)) and not rules.may_post_links(result.level):
        result.escalate(Action.HOLD, _("links from new members wait for review (allowed after %(hours)d hours)")
                        % {"hours": policy.newcomer_link_hours})
    if has_images and not rules.may_post_images(result.level):
        result.escalate(Action.HOLD, _("images and files from new members wait for review"))
    if not rules.may_mention(result.level, mentions):
        result.escalate(Action.HOLD, _("new members may mention at most %(n)d people")
                        % {"n": rules.NEWCOMER_MAX_MENTIONS})

    writes: dict[str, Any] = {}
    if kind == ContentKind.MESSAGE and policy.flood_messages:
        stamps = [t for t in found.get(flood_key) or [] if t > now.timestamp() - policy.flood_seconds]
        stamps.append(now.timestamp())
        writes[flood_key] = stamps[-(policy.flood_messages + 1):]
        if len(stamps) > policy.flood_messages:
            result.mute = True
            result.escalate(Action.HOLD, _("flooding: more than %(n)d messages in %(s)d seconds")
                            % {"n": policy.flood_messages, "s": policy.flood_seconds})
    if (kind == ContentKind.MESSAGE and group_id and policy.duplicate_groups >= 2
            and len(squash(result.normalised)) >= DUPLICATE_MIN_CHARS):
        dup_key = _dup_key(state, result.normalised)
        since = now.timestamp() - policy.duplicate_minutes * 60
        seen = {gid: t for gid, t in (cache.get(dup_key) or {}).items() if t > since}
        seen[group_id] = now.timestamp()
        writes[dup_key] = seen
        if len(seen) >= policy.duplicate_groups:
            result.escalate(policy.delete_action, _("the same text was posted in %(n)d groups within %(m)d minutes")
                            % {"n": len(seen), "m": policy.duplicate_minutes})
    if writes:
        cache.set_many(writes, max(policy.flood_seconds, policy.duplicate_minutes * 60) + 60)
    if result.action == Action.MUTE:
        result.mute = True
    if result.action in (Action.DELETE, Action.MUTE):
        result.strike = True
    return result


def settle(screening: Screening, *, object_id: int, group_id: int | None = None) -> None:
    """After the content row exists: count accepted content, or record what the gate did to it."""
    if screening.author_id is None or screening.policy is None:
        return
    if group_id is not None:
        screening.group_id = group_id
    if screening.action == Action.ALLOW and not screening.mute:
        if screening.trust_state is not None:
            trust.count_accepted(
                screening.trust_state, newcomer_hours=screening.policy.newcomer_link_hours,
                strike_days=screening.policy.strike_window_days, now=screening.now or timezone.now(),
            )
        return
    from .actions import apply_screening

    apply_screening(screening, object_id=object_id)


def after_edit(screening: Screening, message) -> bool:
    """After an edit of a chat message is saved: True when it goes out to the group as usual.

    A held (or removed) message stays so until a moderator decides; the queue shows the new text.
    A visible message whose new text the gate stops is taken away from everyone else (as a deletion).
    """
    from quanzi.core.events import EventType, emit

    from .models import ReviewItem

    if message.moderation_state == "visible" and screening.visible:
        return True
    if message.moderation_state != "visible":
        ReviewItem.objects.filter(kind=ContentKind.MESSAGE, object_id=message.id).update(text=message.body[:10_000])
        return False
    message.moderation_state = screening.state
    message.save(update_fields=["moderation_state"])
    settle(screening, object_id=message.id, group_id=message.group_id)
    emit(EventType.MESSAGE_DELETED, circle=message.group.circle_id, actor_id=None, group_id=message.group_id,
         data={"message_id": message.id, "by_moderation": True}, payload={"message_id": message.id})
    return False


BIO_REFUSE_SCORE = 0.9


def check_bio(user, bio: str) -> None:
    """Profile bios are seen in every circle, so no circle's policy applies: the shared model refuses clear ads."""
    from quanzi.core.errors import InvalidInput

    from .classifier.model import get_classifier

    verdict = get_classifier().score(bio)
    if verdict.score >= BIO_REFUSE_SCORE:
        raise InvalidInput(
            _("Your bio looks like an advertisement (%(why)s); please describe yourself instead.")
            % {"why": "; ".join(verdict.reasons[:2])},
            code="bio_looks_like_ad",
        )
