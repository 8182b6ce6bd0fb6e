"""Feature extraction: hashed character n-grams, Latin word n-grams and the named signals.

No word segmentation: Chinese is covered by character 1–3-grams (plus 4-grams for Latin/placeholder-heavy text),
which is robust to the made-up spellings ads use. Each feature has a readable name ("c:刷单", "w:dm me",
"s:contact_wechat") hashed with CRC-32 into a fixed number of buckets, so the model is a plain weight vector
and no vocabulary has to be shipped; names are kept alongside so decisions can be explained.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass

from .normalise import MAX_CHARS, PLACEHOLDERS, leet_variant, normalise
from .signals import fired, obfuscation_count, url_count

# Only the head of the normalised text feeds n-grams, so latency is bounded for any input.
MAX_FEATURE_CHARS = 600
FEATURE_VERSION = 1

_PLACEHOLDER_CHARS = {name: chr(0xE000 + i) for i, name in enumerate(PLACEHOLDERS)}
_PLACEHOLDER_SUB_RE = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS))
_WORD_RE = re.compile(r"[a-z0-9$£€¥'_]+|[\ue000-\ue0ff]")
_HAS_DIGIT_AND_ALPHA_RE = re.compile(r"(?=.*\d)(?=.*[a-z])")
_READABLE_CHAR = {v: k for k, v in _PLACEHOLDER_CHARS.items()}


@dataclass(slots=True)
class Features:
    names: list[str]  # readable feature names (for explanations)
    values: list[float]  # same length as names
    normalised: str
    signal_labels: dict[str, str]  # feature name → moderator-readable label, for the signals that fired


def _compact(normalised: str) -> str:
    """Placeholders as one character each, so an n-gram never spans half a placeholder name."""
    return _PLACEHOLDER_SUB_RE.sub(lambda m: _PLACEHOLDER_CHARS[m.group(0)], normalised)


def readable(fragment: str) -> str:
    """Placeholder characters of a feature fragment back to their readable names."""
    return "".join(_READABLE_CHAR.get(c, c) for c in fragment)


def extract(text: str, *, normalised: str | None = None) -> Features:
    """All features of one message. `normalised` may be passed when the caller already has it."""
    raw = text[:MAX_CHARS] if isinstance(text, str) else str(text)[:MAX_CHARS]
    norm = normalise(raw) if normalised is None else normalised
    compact = _compact(norm)[:MAX_FEATURE_CHARS]
    grams: set[str] = set()
    add = grams.add
    # Character n-grams over the text with spaces removed between CJK runs (spaces are separators, not content).
    chars = compact.replace(" ", "") if not re.search(r"[a-z]{2}", compact) else compact
    n = len(chars)
    for i in range(n):
        add("c:" + chars[i])
        if i + 1 < n:
            add("c:" + chars[i : i + 2])
            if i + 2 < n:
                add("c:" + chars[i : i + 3])
                if i + 3 < n:
                    add("c:" + chars[i : i + 4])
    words = _WORD_RE.findall(compact)
    prev = "^"
    for w in words:
        add("w:" + w)
        add("b:" + prev + " " + w)
        if len(w) > 2 and _HAS_DIGIT_AND_ALPHA_RE.match(w):
            add("l:" + leet_variant(w))
        prev = w
    add("b:" + prev + " $")
    names = list(grams)
    weight = 1.0 / math.sqrt(len(names)) if names else 0.0
    values = [weight] * len(names)

    labels: dict[str, str] = {}
    for sig in fired(norm):
        name = "s:" + sig.name
        names.append(name)
        values.append(1.0)
        labels[name] = sig.label
    obf = obfuscation_count(raw)
    if obf:
        name = "s:obfuscation" + ("2" if obf >= 2 else "1")
        names.append(name)
        values.append(1.0)
        labels[name] = f"obfuscated text ({obf} kinds of disguise)"
    urls = url_count(norm)
    if urls:
        name = "s:urls" + ("2" if urls >= 2 else "1")
        names.append(name)
        values.append(1.0)
        labels[name] = f"{urls} link(s)"
    numbers = sum(norm.count(p) for p in ("⟨phone⟩", "⟨num⟩", "⟨id⟩"))
    if numbers >= 2:
        names.append("s:numbers2")
        values.append(1.0)
        labels["s:numbers2"] = f"{numbers} phone/account numbers"
    length = len(norm)
    names.append("s:len" + str(min(int(math.log2(length + 1)), 10)))
    values.append(1.0)
    return Features(names=names, values=values, normalised=norm, signal_labels=labels)


def bucket(name: str, mask: int) -> int:
    """Stable hash of a feature name (CRC-32: fast and identical on every platform and process)."""
    return zlib.crc32(name.encode("utf-8", "surrogatepass")) & mask


def describe(name: str) -> str:
    """Human-readable text for an n-gram feature name."""
    kind, _, frag = name.partition(":")
    frag = readable(frag)
    if kind == "c":
        return f'n-gram "{frag}"'
    if kind in ("w", "b"):
        return f'words "{frag.replace("^ ", "").replace(" $", "")}"'
    if kind == "l":
        return f'disguised word "{frag}"'
    return name
