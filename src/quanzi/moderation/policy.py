"""A circle's moderation policy: validation, defaults, and the compiled form the gate reads.

``clean_policy`` is the one validator (forms and the API both call it through
``actions.do_update_policy``); ``get_policy`` returns the compiled policy from the cache, so the
chat send path pays no query for it. Regular expressions are checked for nested quantifiers
(the usual catastrophic-backtracking shape) and are matched with the ``regex`` module's
timeout as a second guard.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field

# The standard library's own pattern parser: it tells us the structure (repeats inside repeats).
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import regex
from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext as _

from quanzi.core.errors import InvalidInput

from .models import Action, CirclePolicy

logger = logging.getLogger(__name__)

MAX_RULES = 100
MAX_RULE_LENGTH = 200
MAX_DOMAINS = 500
REGEX_TIMEOUT = 0.05  # seconds per expression per text
RULE_TEXT_LIMIT = 20_000  # characters of normalised text the rules look at
CACHE_SECONDS = 300
_CACHE_KEY = "moderation:policy:{}:{}"

# Fields an admin may change, with their kinds.
FLOAT_FIELDS = ("hold_threshold", "delete_threshold")
ACTION_FIELDS = ("hold_action", "delete_action", "rule_action")
INT_FIELDS = {
    "mute_minutes": (1, 525_600),
    "kick_after_strikes": (0, 100),
    "strike_window_days": (1, 3650),
    "newcomer_link_hours": (0, 8760),
    "flood_messages": (0, 1000),
    "flood_seconds": (1, 3600),
    "duplicate_groups": (0, 100),
    "duplicate_minutes": (1, 1440),
}
TEXT_FIELDS = ("allowed_domains", "blocked_domains", "keywords", "regex_rules")
EDITABLE_FIELDS = ("enabled", *FLOAT_FIELDS, *ACTION_FIELDS, *INT_FIELDS, *TEXT_FIELDS)

_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")


def _lines(value: Any, field_name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        items = value
    elif isinstance(value, str):
        items = value.splitlines()
    else:
        raise InvalidInput(_("%(field)s must be text, one entry per line.") % {"field": field_name},
                           code=f"invalid_{field_name}")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidInput(_("%(field)s must be text, one entry per line.") % {"field": field_name},
                               code=f"invalid_{field_name}")
        item = item.strip()
        if item and item not in out:
            out.append(item)
    return out


def clean_domain(value: str) -> str:
    """``https://www.Example.com/x`` → ``example.com``; refuses what is not a host name."""
    host = value.strip().lower()
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", host)
    host = host.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1].split(":", 1)[0]
    host = host.removeprefix("*.").removeprefix("www.").rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidInput(_("“%(domain)s” is not a domain name.") % {"domain": value[:80]}, code="invalid_domain")
    if not _DOMAIN_RE.match(host):
        raise InvalidInput(_("“%(domain)s” is not a domain name.") % {"domain": value[:80]}, code="invalid_domain")
    return host


_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, getattr(sre_constants, "POSSESSIVE_REPEAT", None))


def _has_nested_quantifier(parsed, inside_repeat: bool = False) -> bool:
    """True when a repeated group itself contains an unbounded repeat: ``(a+)+``, ``(.*x)*``, ``(a|b*){2,}``."""
    for op, arg in parsed:
        if op in _REPEATS:
            low, high, sub = arg
            unbounded = high is sre_constants.MAXREPEAT or high > 50
            if inside_repeat and unbounded:
                return True
            if _has_nested_quantifier(sub, inside_repeat or unbounded or high > 1):
                return True
        elif op == sre_constants.SUBPATTERN:
            if _has_nested_quantifier(arg[-1], inside_repeat):
                return True
        elif op == sre_constants.BRANCH:
            if any(_has_nested_quantifier(branch, inside_repeat) for branch in arg[1]):
                return True
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            if _has_nested_quantifier(arg[1], inside_repeat):
                return True
    return False


def check_regex(pattern: str) -> None:
    """Refuse an expression that does not compile, is too long, or can backtrack catastrophically."""
    if len(pattern) > MAX_RULE_LENGTH:
        raise InvalidInput(
            _("A rule can be at most %(n)d characters long.") % {"n": MAX_RULE_LENGTH}, code="invalid_regex"
        )
    try:
        parsed = sre_parse.parse(pattern)
        regex.compile(pattern, regex.IGNORECASE)
    except (re.error, regex.error, OverflowError, RecursionError, ValueError) as exc:
        raise InvalidInput(
            _("The expression “%(rule)s” is not valid: %(error)s") % {"rule": pattern[:80], "error": exc},
            code="invalid_regex",
        )
    if _has_nested_quantifier(parsed):
        raise InvalidInput(
            _("The expression “%(rule)s” repeats a repetition (like (a+)+), which can take forever to match. "
              "Rewrite it without nested quantifiers.") % {"rule": pattern[:80]},
            code="unsafe_regex",
        )


def _as_number(value: Any, field_name: str, *, integer: bool) -> float | int:
    if isinstance(value, bool) or value is None:
        raise InvalidInput(_("%(field)s must be a number.") % {"field": field_name}, code=f"invalid_{field_name}")
    if isinstance(value, str):
        try:
            value = float(value.strip()) if not integer else int(value.strip())
        except ValueError:
            raise InvalidInput(_("%(field)s must be a number.") % {"field": field_name},
                               code=f"invalid_{field_name}")
    if integer and isinstance(value, float):
        if not value.is_integer():
            raise InvalidInput(_("%(field)s must be a whole number.") % {"field": field_name},
                               code=f"invalid_{field_name}")
        value = int(value)
    if not isinstance(value, int | float) or value != value or value in (float("inf"), float("-inf")):
        raise InvalidInput(_("%(field)s must be a number.") % {"field": field_name}, code=f"invalid_{field_name}")
    return value


def clean_policy(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The validated new field values (only those that change); raises InvalidInput with a clear message."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidInput(_("Unknown policy field: %(field)s.") % {"field": ", ".join(sorted(unknown))},
                           code="invalid_field")
    merged = dict(current)
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "enabled":
            if not isinstance(value, bool):
                raise InvalidInput(_("enabled must be true or false."), code="invalid_enabled")
            clean[name] = value
        elif name in FLOAT_FIELDS:
            number = float(_as_number(value, name, integer=False))
            if not 0.0 <= number <= 1.0:
                raise InvalidInput(
                    _("%(field)s must be between 0 and 1 (got %(value)s).") % {"field": name, "value": value},
                    code="invalid_threshold",
                )
            clean[name] = number
        elif name in ACTION_FIELDS:
            if value not in Action.values:
                raise InvalidInput(
                    _("%(field)s must be one of: %(choices)s.") % {"field": name, "choices": ", ".join(Action.values)},
                    code="invalid_action",
                )
            clean[name] = value
        elif name in INT_FIELDS:
            number = _as_number(value, name, integer=True)
            low, high = INT_FIELDS[name]
            if not low <= number <= high:
                raise InvalidInput(
                    _("%(field)s must be between %(low)d and %(high)d (got %(value)s).")
                    % {"field": name, "low": low, "high": high, "value": value},
                    code="invalid_" + name,
                )
            clean[name] = int(number)
        elif name in ("allowed_domains", "blocked_domains"):
            domains = _lines(value, name)
            if len(domains) > MAX_DOMAINS:
                raise InvalidInput(_("At most %(n)d domains per list.") % {"n": MAX_DOMAINS}, code="invalid_domain")
            cleaned: list[str] = []
            for domain in domains:
                host = clean_domain(domain)
                if host not in cleaned:
                    cleaned.append(host)
            clean[name] = "\n".join(cleaned)
        elif name in ("keywords", "regex_rules"):
            rules = _lines(value, name)
            if len(rules) > MAX_RULES:
                raise InvalidInput(_("At most %(n)d rules per list.") % {"n": MAX_RULES}, code="invalid_rules")
            for rule in rules:
                if name == "regex_rules":
                    check_regex(rule)
                elif len(rule) > MAX_RULE_LENGTH:
                    raise InvalidInput(
                        _("A rule can be at most %(n)d characters long.") % {"n": MAX_RULE_LENGTH},
                        code="invalid_keyword",
                    )
            clean[name] = "\n".join(rules)
    merged.update(clean)
    if merged["hold_threshold"] > merged["delete_threshold"]:
        raise InvalidInput(
            _("The hold score (%(hold)s) must not be above the delete score (%(delete)s).")
            % {"hold": merged["hold_threshold"], "delete": merged["delete_threshold"]},
            code="invalid_threshold",
        )
    overlap = set(merged["allowed_domains"].split()) & set(merged["blocked_domains"].split())
    if overlap:
        raise InvalidInput(
            _("A domain cannot be both allowed and blocked: %(domains)s.") % {"domains": ", ".join(sorted(overlap))},
            code="invalid_domain",
        )
    return {k: v for k, v in clean.items() if current.get(k) != v}


def policy_fields(policy: CirclePolicy) -> dict[str, Any]:
    return {name: getattr(policy, name) for name in EDITABLE_FIELDS}


# --- the compiled policy the gate reads ---------------------------------------------------


@dataclass(frozen=True)
class CompiledPolicy:
    circle_id: int
    enabled: bool
    hold_threshold: float
    hold_action: str
    delete_threshold: float
    delete_action: str
    mute_minutes: int
    kick_after_strikes: int
    strike_window_days: int
    allowed_domains: tuple[str, ...]
    blocked_domains: tuple[str, ...]
    newcomer_link_hours: int
    keywords: tuple[tuple[str, str], ...]  # (as written, normalised without spaces)
    regexes: tuple[tuple[str, Any], ...] = field(default=())  # (as written, compiled)
    rule_action: str = Action.HOLD
    flood_messages: int = 0
    flood_seconds: int = 15
    duplicate_groups: int = 0
    duplicate_minutes: int = 10
    version: str = ""


def squash(text: str) -> str:
    """Normalised text without any white space: keyword rules match across spaced-out letters."""
    return "".join(text.split())


@functools.lru_cache(maxsize=512)
def _compile(circle_id: int, version: str, data: tuple) -> CompiledPolicy:
    from .classifier.normalise import normalise

    values = dict(data)
    keywords = tuple(
        (word, squash(normalise(word)).lower()) for word in values["keywords"].splitlines() if word.strip()
    )
    regexes = []
    for pattern in values["regex_rules"].splitlines():
        if not pattern.strip():
            continue
        try:
            regexes.append((pattern, regex.compile(pattern, regex.IGNORECASE)))
        except regex.error:  # validated on save; a rule saved by an older version is skipped, not fatal
            logger.warning("skipping invalid moderation regex in circle %s: %r", circle_id, pattern)
    return CompiledPolicy(
        circle_id=circle_id,
        enabled=values["enabled"],
        hold_threshold=values["hold_threshold"],
        hold_action=values["hold_action"],
        delete_threshold=values["delete_threshold"],
        delete_action=values["delete_action"],
        mute_minutes=values["mute_minutes"],
        kick_after_strikes=values["kick_after_strikes"],
        strike_window_days=values["strike_window_days"],
        allowed_domains=tuple(values["allowed_domains"].split()),
        blocked_domains=tuple(values["blocked_domains"].split()),
        newcomer_link_hours=values["newcomer_link_hours"],
        keywords=tuple(k for k in keywords if k[1]),
        regexes=tuple(regexes),
        rule_action=values["rule_action"],
        flood_messages=values["flood_messages"],
        flood_seconds=values["flood_seconds"],
        duplicate_groups=values["duplicate_groups"],
        duplicate_minutes=values["duplicate_minutes"],
        version=version,
    )


def cache_key(circle_id: int, stamp: str) -> str:
    """``stamp`` (the circle's creation time, ``trust.circle_stamp``) keeps a reused id from reading another
    circle's entry (test databases roll back and hand out ids again)."""
    return _CACHE_KEY.format(circle_id, stamp)


def _snapshot(policy: CirclePolicy) -> dict[str, Any]:
    data = policy_fields(policy)
    data["_version"] = policy.updated_at.isoformat() if policy.updated_at else "0"
    return data


def ensure_policy(circle_id: int) -> CirclePolicy:
    """The circle's policy row, created with the defaults if it has none yet."""
    policy = CirclePolicy.objects.filter(circle_id=circle_id).first()
    if policy is None:
        with transaction.atomic():
            policy, _created = CirclePolicy.objects.get_or_create(circle_id=circle_id)
    return policy


def get_policy(circle_id: int, *, stamp: str | None = None, cached: dict[str, Any] | None = None) -> CompiledPolicy:
    """The compiled policy; ``cached`` is the cache value if the caller already fetched it (get_many)."""
    if stamp is None:
        from .trust import circle_stamp

        stamp = circle_stamp(circle_id)
    data = cached if cached is not None else cache.get(cache_key(circle_id, stamp))
    if data is None:
        data = _snapshot(ensure_policy(circle_id))
        cache.set(cache_key(circle_id, stamp), data, CACHE_SECONDS)
    version = data["_version"]
    frozen = tuple(sorted((k, v) for k, v in data.items() if k != "_version"))
    return _compile(circle_id, version, frozen)


def forget_policy(circle_id: int) -> None:
    """Drop the cached copy now and once the change is committed (every process re-reads it)."""
    from .trust import circle_stamp

    key = cache_key(circle_id, circle_stamp(circle_id))
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


def match_rules(policy: CompiledPolicy, normalised: str) -> list[str]:
    """Reasons for every keyword and expression that matches the normalised text."""
    reasons: list[str] = []
    if not policy.keywords and not policy.regexes:
        return reasons
    text = normalised[:RULE_TEXT_LIMIT]
    squashed = squash(text).lower()
    for word, key in policy.keywords:
        if key in squashed:
            reasons.append(_("keyword “%(rule)s”") % {"rule": word})
    for pattern, compiled in policy.regexes:
        try:
            if compiled.search(text, timeout=REGEX_TIMEOUT) or compiled.search(squashed, timeout=REGEX_TIMEOUT):
                reasons.append(_("expression “%(rule)s”") % {"rule": pattern})
        except TimeoutError:
            logger.warning("moderation regex timed out in circle %s: %r", policy.circle_id, pattern)
    return reasons
