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

from .normalise import MAX_CHARS, PLACEHOLDERS, URL, leet_variant, normalise
from .signals import fired, obfuscation_count, url_count

# Only the head of the normalised text feeds n-grams, so latency is bounded for any input.
MAX_FEATURE_CHARS = 500
FEATURE_VERSION = 6  # 4: NB weights, script thresholds; 5: short @handles, SVM, 2nd view; 6: lone-v rule (retrain)

# Kinds of feature; the kind is the CRC-32 start value, so equal strings of different kinds hash apart.
CHAR, WORD, BIGRAM, LEET, SIGNAL, RAW, WB = 1, 2, 3, 4, 5, 6, 7
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
_URL_DOMAIN_RE = re.compile(re.escape(URL) + r" ([a-z0-9\-]+)(?:\.[a-z0-9\-]+)*")
_RAW_URL_RE = re.compile(r"https?://\S*|www\.\S*|<a href=[^>]*>")


BITS = 20
N_BUCKETS = 1 << BITS
MASK = N_BUCKETS - 1
CHAR_N = 4  # longest n-gram of the normalised-character channel
RAW_N = 3  # longest n-gram of the raw channel
# The second view (a second linear model, its margin added to the first): word-bounded character 1–4-grams of the
# compact text (every whitespace-separated word padded with a space, as scikit-learn's "char_wb" analyser), with
# sublinear term frequency 1 + log(count). Its buckets live in the second half of the weight vector.
WB_N = 4
N_WEIGHTS = 2 * N_BUCKETS
_FNV = np.uint64(0x100000001B3)
_SHIFT = np.uint64(32)
_POS_BITS = 20  # meta = n << 20 | position


@dataclass(slots=True)
class Features:
    idx: np.ndarray  # bucket of every feature (int64): normalised-char n-grams, raw n-grams, words, then signals
    channels: tuple[int, ...]  # ends of the n-gram channels in idx (normalised chars, raw chars, words); each is
    # idf-weighted and L2-normalised on its own; features after the last end are signals (value 1)
    keys: list[str]  # strings of the features from channels[1] on (words, then signals)
    kinds: list[int]  # their kinds (WORD, BIGRAM, LEET, SIGNAL)
    normalised: str
    signal_labels: dict[str, str]  # signal name → moderator-readable label, for the signals that fired
    chars: str = ""  # the text the normalised-char n-grams were taken from
    raw: str = ""  # the text the raw n-grams were taken from
    char_meta: np.ndarray | None = None  # (n << 20 | position) of each char n-gram, for explanations
    raw_meta: np.ndarray | None = None
    chinese: bool = False  # mostly Chinese script (see `is_chinese`): selects the model's per-script threshold
    wb_idx: np.ndarray | None = None  # second view: buckets (offset by N_BUCKETS) of the word-bounded n-grams
    wb_tf: np.ndarray | None = None  # and their sublinear term frequencies (float32)

    def buckets(self, mask: int = MASK) -> np.ndarray:
        if mask != MASK:
            raise ValueError(f"features are hashed into {N_BUCKETS} buckets")
        return self.idx

    def signal_key(self, i: int) -> str | None:
        """The signal name of feature i, or None when it is not a signal."""
        j = i - self.channels[1]
        if j >= 0 and self.kinds[j] == SIGNAL:
            return self.keys[j]
        return None

    def describe(self, i: int) -> str:
        """Human-readable text for feature i (signals give their label)."""
        c0, c1 = self.channels[0], self.channels[1]
        if i < c1:
            meta, text, kind = (self.char_meta, self.chars, CHAR) if i < c0 else (self.raw_meta, self.raw, RAW)
            code = int(meta[i if i < c0 else i - c0])
            pos, n = code & ((1 << _POS_BITS) - 1), code >> _POS_BITS
            return f'{_KIND_NAMES[kind]} "{text[pos : pos + n].translate(_READABLE_CHAR)}"'
        j = i - c1
        kind, key = self.kinds[j], self.keys[j]
        if kind == SIGNAL:
            return self.signal_labels.get(key, key)
        key = key.translate(_READABLE_CHAR).replace("^ ", "").replace(" $", "").strip()
        return f'{_KIND_NAMES[kind]} "{key}"'


_HAN_RE = re.compile(r"[\u3400-\u9fff]")
_LATIN_LETTER_RE = re.compile(r"[a-z]")


def is_chinese(compact: str) -> bool:
    """More Han characters than Latin letters: the text's script is observable at run time, and scores of Chinese
    and Latin-script messages are calibrated differently by the training sets, so each gets its own threshold."""
    han = len(_HAN_RE.findall(compact))
    return han > 0 and han >= len(_LATIN_LETTER_RE.findall(compact))


def _fnv_ngrams(codes: np.ndarray, n: int, seed: int) -> np.ndarray:
    """FNV-1a hashes of every n-gram of the code points (one per start position, len(codes) - n + 1 of them),
    seeded per channel and n, with the high bits folded in."""
    count = len(codes) - n + 1
    h = (codes[:count] ^ np.uint64(0xCBF29CE484222325 ^ (seed * 131 + n))) * _FNV
    for k in range(1, n):
        h = (h ^ codes[k : k + count]) * _FNV
    return h ^ (h >> _SHIFT)


def _char_ngrams(text: str, max_n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Buckets of all 1..max_n character n-grams of text (deduplicated) and their (n, position), vectorised:
    FNV-1a over UTF-32 code points in numpy, so a message costs a few array operations, not one hash call per
    n-gram."""
    if not text:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
    length = len(codes)
    hashes = []
    metas = []
    for n in range(1, min(max_n, length) + 1):
        count = length - n + 1
        hashes.append(_fnv_ngrams(codes, n, seed))
        metas.append((n << _POS_BITS) + np.arange(count, dtype=np.int64))
    buckets = (np.concatenate(hashes) & np.uint64(MASK)).astype(np.int64)
    uniq, first = np.unique(buckets, return_index=True)
    return uniq, np.concatenate(metas)[first]


def _compact(normalised: str) -> str:
    """Placeholders as one character each, so an n-gram never spans half a placeholder name.

    A plain link becomes nothing but its domain: in the training sets nearly every link is spam, while in a
    community members share links all the time, so "has a link" must not be evidence by itself (shorteners,
    t.me and wa.me keep their own placeholders, and the words around a link still count)."""
    if "⟨" not in normalised:
        return normalised
    # "⟨url⟩ github.com" → "github": the top-level domain (".com" is in most spam links) says nothing either.
    text = _URL_DOMAIN_RE.sub(r"\1", normalised)
    return _PLACEHOLDER_SUB_RE.sub(lambda m: _PLACEHOLDER_CHARS[m.group(0)], text)


_EMPTY_I = np.zeros(0, dtype=np.int64)
_EMPTY_F = np.zeros(0, dtype=np.float32)


def _char_ngrams_many(texts: list[str], max_n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """`_char_ngrams` for many texts in one pass (the same buckets): batch scoring pays numpy's per-call
    overhead once per batch instead of once per message."""
    if not texts:
        return []
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
    total = len(codes)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    msg = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    pos = np.arange(total, dtype=np.int64) - starts[msg]
    remaining = lengths[msg] - pos  # characters from each position to the end of its message
    keys = []
    metas = []
    for n in range(1, max_n + 1):
        count = total - n + 1
        if count <= 0:
            break
        h = _fnv_ngrams(codes, n, seed)
        ok = remaining[:count] >= n
        keys.append((msg[:count][ok] << BITS) | (h[ok] & np.uint64(MASK)).astype(np.int64))
        metas.append((n << _POS_BITS) + pos[:count][ok])
    if not keys:  # every text empty
        return [(_EMPTY_I, _EMPTY_I)] * len(texts)
    allkeys = np.concatenate(keys)
    uniq, first = np.unique(allkeys, return_index=True)
    meta = np.concatenate(metas)[first]
    bounds = np.searchsorted(uniq >> BITS, np.arange(len(texts) + 1))
    buckets = uniq & MASK
    return [(buckets[a:b], meta[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _wb_text(text: str) -> str:
    """The words of text, each padded with a space on both sides, concatenated (" w1  w2 "): an n-gram lies
    inside one padded word exactly when it contains no two adjacent spaces."""
    words = text.split()
    return " " + "  ".join(words) + " " if words else ""


def _wb_keys(codes: np.ndarray, msg: np.ndarray | None = None, remaining: np.ndarray | None = None) -> np.ndarray:
    """Buckets of the word-bounded 1..WB_N-grams of the code points of `_wb_text` output, one per occurrence; with
    `msg` (message of each position) and `remaining` (characters left in its message) several texts at once,
    each key then being (message << BITS) | bucket."""
    length = len(codes)
    pair = (codes[:-1] == 32) & (codes[1:] == 32)
    cum = np.concatenate(([0], np.cumsum(pair)))  # cum[i] = double spaces starting before position i
    keys = []
    for n in range(1, WB_N + 1):
        count = length - n + 1
        if count <= 0:
            break
        h = _fnv_ngrams(codes, n, WB)
        key = (h & np.uint64(MASK)).astype(np.int64)
        if msg is not None:
            key |= msg[:count] << BITS
        if n > 1:
            ok = cum[n - 1 : n - 1 + count] == cum[:count]  # no double space inside: within one padded word
            if remaining is not None:
                ok &= remaining[:count] >= n
            key = key[ok]
        keys.append(key)
    return np.concatenate(keys)


def _wb_ngrams(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(buckets + N_BUCKETS, 1 + log(count)) of the word-bounded character 1..WB_N-grams of one text (each
    whitespace-separated word padded with a space, as scikit-learn's "char_wb" analyser), seeded WB."""
    wb = _wb_text(text)
    if not wb:
        return _EMPTY_I, _EMPTY_F
    codes = np.frombuffer(wb.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
    uniq, counts = np.unique(_wb_keys(codes), return_counts=True)
    return uniq + N_BUCKETS, (1.0 + np.log(counts)).astype(np.float32)


def _wb_ngrams_many(texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """`_wb_ngrams` for many texts in one numpy pass (the same buckets and frequencies)."""
    wbs = [_wb_text(t) for t in texts]
    lengths = np.fromiter((len(t) for t in wbs), dtype=np.int64, count=len(wbs))
    total = int(lengths.sum())
    if not total:
        return [(_EMPTY_I, _EMPTY_F)] * len(texts)
    codes = np.frombuffer("".join(wbs).encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    msg = np.repeat(np.arange(len(wbs), dtype=np.int64), lengths)
    remaining = lengths[msg] - (np.arange(total, dtype=np.int64) - starts[msg])
    uniq, counts = np.unique(_wb_keys(codes, msg, remaining), return_counts=True)
    bounds = np.searchsorted(uniq >> BITS, np.arange(len(texts) + 1))
    buckets = (uniq & MASK) + N_BUCKETS
    tf = (1.0 + np.log(counts)).astype(np.float32)
    return [(buckets[a:b], tf[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _prepare(text: str, normalised: str | None = None) -> tuple[str, str, str, str, str]:
    """(raw head, normalised, compact, chars for n-grams, lower-cased raw for the raw channel)."""
    raw = text[:MAX_CHARS] if isinstance(text, str) else str(text)[:MAX_CHARS]
    norm = normalise(raw) if normalised is None else normalised
    compact = _compact(norm)[:MAX_FEATURE_CHARS]
    # Spaces separate nothing in Chinese: drop them there so "加 微 信" and "加微信" give the same n-grams.
    chars = compact if _LATIN_RE.search(compact) is not None else compact.replace(" ", "")
    rawl = raw[:MAX_RAW_CHARS].lower()
    if "http" in rawl or "www" in rawl or "." in rawl:
        rawl = _RAW_URL_RE.sub(" ", rawl)  # link syntax is no evidence either (see _compact)
    return raw, norm, compact, chars, rawl


def extract(text: str, *, normalised: str | None = None) -> Features:
    """All features of one message. `normalised` may be passed when the caller already has it."""
    prep = _prepare(text, normalised)
    feats = _finish(prep, _char_ngrams(prep[3], CHAR_N, CHAR), _char_ngrams(prep[4], RAW_N, RAW))
    feats.wb_idx, feats.wb_tf = _wb_ngrams(prep[2])
    return feats


def extract_many(texts: list[str]) -> list[Features]:
    """`extract` for many messages, with the character n-grams of all of them hashed in one numpy pass."""
    preps = [_prepare(t if isinstance(t, str) else str(t)) for t in texts]
    chars = _char_ngrams_many([p[3] for p in preps], CHAR_N, CHAR)
    raws = _char_ngrams_many([p[4] for p in preps], RAW_N, RAW)
    out = [_finish(p, c, r) for p, c, r in zip(preps, chars, raws, strict=True)]
    for f, (wi, wt) in zip(out, _wb_ngrams_many([p[2] for p in preps]), strict=True):
        f.wb_idx, f.wb_tf = wi, wt
    return out


def _finish(
    prep: tuple[str, str, str, str, str],
    char_part: tuple[np.ndarray, np.ndarray],
    raw_part: tuple[np.ndarray, np.ndarray],
) -> Features:
    raw, norm, compact, chars, rawl = prep
    char_idx, char_meta = char_part
    raw_idx, raw_meta = raw_part
    latin = _LATIN_RE.search(compact) is not None
    keys: list[str] = []
    kinds: list[int] = []
    words = _WORD_RE.findall(compact) if latin or "\ue000" <= max(compact, default=" ") else []
    wset: set[str] = set()
    if words:
        wset = set(words)
        # Sorted: set order depends on the process's string-hash seed, and feature order must not (the float sums
        # of the norms, hence the trained weights, would differ in the last bits from run to run).
        bset = sorted({a + " " + b for a, b in zip(["^", *words], [*words, "$"], strict=True)})
        lset = sorted({leet_variant(w) for w in wset if len(w) > 2 and _MIXED_RE.search(w)})
        keys.extend(sorted(wset))
        kinds.extend([WORD] * len(wset))
        keys.extend(bset)
        kinds.extend([BIGRAM] * len(bset))
        keys.extend(lset)
        kinds.extend([LEET] * len(lset))
    end_chars = len(char_idx)
    end_raw = end_chars + len(raw_idx)
    channels = (end_chars, end_raw, end_raw + len(keys))
    labels: dict[str, str] = {}

    def signal(name: str, label: str | None) -> None:
        keys.append(name)
        kinds.append(SIGNAL)
        if label is not None:
            labels[name] = label

    padded = " " + " ".join(words) + " "
    bigrams = {chars[i : i + 2] for i in range(len(chars) - 1)}
    for sig in fired(bigrams, compact, wset, padded):
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
    signal("len" + str(min(int(math.log2(len(norm) + 1)), 10)), None)  # a prior by length, never a "reason"
    key_idx = np.fromiter(
        (crc32(k.encode("utf-8", "surrogatepass"), kind) & MASK for k, kind in zip(keys, kinds, strict=True)),
        dtype=np.int64,
        count=len(keys),
    )
    return Features(
        idx=np.concatenate((char_idx, raw_idx, key_idx)),
        channels=channels,
        keys=keys,
        kinds=kinds,
        normalised=norm,
        chinese=is_chinese(compact),
        signal_labels=labels,
        chars=chars,
        raw=rawl,
        char_meta=char_meta,
        raw_meta=raw_meta,
    )


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


def wb_values(feats: Features, idf: np.ndarray) -> np.ndarray:
    """Values of the second view: sublinear tf × idf, L2-normalised."""
    v = feats.wb_tf * idf[feats.wb_idx]
    norm = float(np.sqrt(np.dot(v, v)))
    return v / norm if norm > 1e-6 else v * 0.0
