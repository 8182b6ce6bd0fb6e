"""Feature extraction: hashed character n-grams, Latin word n-grams and the named signals.

No word segmentation: Chinese is covered by character 1–3-grams, which are robust to the made-up spellings ads
use; Latin text also gets word unigrams/bigrams and a digits-as-letters reading of mixed tokens ("fr33" → "free").
Each feature is a string hashed with CRC-32 (seeded per kind) into a fixed number of buckets, so the model is a
plain weight vector and no vocabulary has to be shipped; the strings are kept so decisions can be explained.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from zlib import crc32

import numpy as np

from .normalise import MAX_CHARS, PLACEHOLDERS, leet_variant, normalise
from .signals import fired, obfuscation_count, url_count

# Only the head of the normalised text feeds n-grams, so latency is bounded for any input.
MAX_FEATURE_CHARS = 500
FEATURE_VERSION = 2

# Kinds of feature; the kind is the CRC-32 start value, so equal strings of different kinds hash apart.
CHAR, WORD, BIGRAM, LEET, SIGNAL, RAW = 1, 2, 3, 4, 5, 6
_KIND_NAMES = {
    CHAR: "n-gram",
    WORD: "word",
    BIGRAM: "words",
    LEET: "disguised word",
    SIGNAL: "signal",
    RAW: "raw n-gram",
}
# The raw channel: character n-grams of the lower-cased text as typed (before normalisation), which keeps cues the
# normaliser folds away (typography, punctuation, the exact disguise used).
MAX_RAW_CHARS = 300

_PLACEHOLDER_CHARS = {name: chr(0xE000 + i) for i, name in enumerate(PLACEHOLDERS)}
_PLACEHOLDER_SUB_RE = re.compile("|".join(re.escape(p) for p in PLACEHOLDERS))
_READABLE_CHAR = {ord(v): k for k, v in _PLACEHOLDER_CHARS.items()}
_WORD_RE = re.compile(r"[a-z0-9$£€¥'_\-]+|[\ue000-\ue0ff]")
_LATIN_RE = re.compile(r"[a-z]{2}")
_MIXED_RE = re.compile(r"[a-z]+\d|\d+[a-z]")


@dataclass(slots=True)
class Features:
    keys: list[str]  # feature strings (n-grams, words, signal names)
    kinds: list[int]  # the kind of each key (CHAR, WORD, …)
    channels: tuple[int, ...]  # ends of the n-gram channels in keys (normalised chars, raw chars, words); each is
    # idf-weighted and L2-normalised on its own; keys after the last end are signals (value 1)
    normalised: str
    signal_labels: dict[str, str]  # signal name → moderator-readable label, for the signals that fired

    def buckets(self, mask: int) -> np.ndarray:
        return np.fromiter(
            (
                crc32(k.encode("utf-8", "surrogatepass"), kind) & mask
                for k, kind in zip(self.keys, self.kinds, strict=True)
            ),
            dtype=np.intp,
            count=len(self.keys),
        )

    def describe(self, i: int) -> str:
        """Human-readable text for feature i (signals give their label)."""
        kind, key = self.kinds[i], self.keys[i]
        if kind == SIGNAL:
            return self.signal_labels.get(key, key)
        key = key.translate(_READABLE_CHAR).replace("^ ", "").replace(" $", "").strip()
        return f'{_KIND_NAMES[kind]} "{key}"'


def _compact(normalised: str) -> str:
    """Placeholders as one character each, so an n-gram never spans half a placeholder name."""
    if "⟨" not in normalised:
        return normalised
    return _PLACEHOLDER_SUB_RE.sub(lambda m: _PLACEHOLDER_CHARS[m.group(0)], normalised)


def extract(text: str, *, normalised: str | None = None) -> Features:
    """All features of one message. `normalised` may be passed when the caller already has it."""
    raw = text[:MAX_CHARS] if isinstance(text, str) else str(text)[:MAX_CHARS]
    norm = normalise(raw) if normalised is None else normalised
    compact = _compact(norm)[:MAX_FEATURE_CHARS]
    latin = _LATIN_RE.search(compact) is not None
    # Spaces separate nothing in Chinese: drop them there so "加 微 信" and "加微信" give the same n-grams.
    chars = compact if latin else compact.replace(" ", "")
    n = len(chars)
    grams = {chars[i : i + 3] for i in range(n - 2)}
    grams.update(chars[i : i + 2] for i in range(n - 1))
    grams.update(chars)
    keys = list(grams)
    keys.extend({chars[i : i + 4] for i in range(n - 3)})
    kinds = [CHAR] * len(keys)
    end_chars = len(keys)
    rawl = raw[:MAX_RAW_CHARS].lower()
    rset = {rawl[i : i + 3] for i in range(len(rawl) - 2)}
    rset.update(rawl[i : i + 2] for i in range(len(rawl) - 1))
    rset.update(rawl)
    keys.extend(rset)
    kinds.extend([RAW] * len(rset))
    end_raw = len(keys)
    words = _WORD_RE.findall(compact) if latin or "\ue000" <= max(compact, default=" ") else []
    if words:
        wset = set(words)
        bset = {a + " " + b for a, b in zip(["^", *words], [*words, "$"], strict=True)}
        lset = {leet_variant(w) for w in wset if len(w) > 2 and _MIXED_RE.search(w)}
        keys.extend(wset)
        kinds.extend([WORD] * len(wset))
        keys.extend(bset)
        kinds.extend([BIGRAM] * len(bset))
        keys.extend(lset)
        kinds.extend([LEET] * len(lset))
    channels = (end_chars, end_raw, len(keys))
    labels: dict[str, str] = {}

    def signal(name: str, label: str) -> None:
        keys.append(name)
        kinds.append(SIGNAL)
        labels[name] = label

    padded = " " + " ".join(words) + " "
    for sig in fired(grams, compact, wset if words else set(), padded):
        signal(sig.name, sig.label)
    obf = obfuscation_count(raw)
    if obf:
        signal("obfuscation" + ("2" if obf >= 2 else "1"), f"obfuscated text ({obf} kind(s) of disguise)")
    urls = url_count(norm)
    if urls >= 2:
        signal("urls2", f"{urls} links")
    numbers = norm.count("⟨phone⟩") + norm.count("⟨num⟩") + norm.count("⟨id⟩")
    if numbers >= 2:
        signal("numbers2", f"{numbers} phone/account numbers")
    keys.append("len" + str(min(int(math.log2(len(norm) + 1)), 10)))  # a prior by length, never a "reason"
    kinds.append(SIGNAL)
    return Features(keys=keys, kinds=kinds, channels=channels, normalised=norm, signal_labels=labels)


def values(feats: Features, idx: np.ndarray, idf: np.ndarray) -> np.ndarray:
    """Feature values: per channel, idf-weighted and L2-normalised n-grams (binary term frequency; idf is 0 for
    n-grams too rare in training to count); then 1.0 per signal."""
    v = np.ones(len(idx), dtype=np.float32)
    start = 0
    for end in feats.channels:
        if end > start:
            w = idf[idx[start:end]]
            v[start:end] = w / max(float(np.sqrt(np.dot(w, w))), 1e-6)
        start = end
    return v
