"""Text normalisation that undoes the usual ad-evasion tricks before any feature is computed.

Spammers write 加➕V：sx111505, ｖｘ, 1 3 8 0 0 1 3 8 0 0 0, 𝐃𝐌 𝐦𝐞, "a d d   m e", 扣扣 or Cyrillic look-alikes so
that keyword filters and n-gram models miss them. `normalise` maps all those spellings onto one canonical form
with readable placeholder tokens (⟨wechat⟩, ⟨qq⟩, ⟨phone⟩, ⟨url⟩ …), so that the model and the circles' keyword
rules see the same text whatever the disguise. It is pure Python, deterministic and bounded in time: the input is
cut to MAX_CHARS before any work.
"""

from __future__ import annotations

import re
import unicodedata

# Features only look at the head of a message: a 100k-character paste costs the same as a 2k one.
MAX_CHARS = 2000

# Placeholder tokens. Kept readable because moderators see the normalised text and circle regex rules run on it.
WECHAT = "⟨wechat⟩"
QQ = "⟨qq⟩"
TELEGRAM = "⟨telegram⟩"
WHATSAPP = "⟨whatsapp⟩"
PHONE = "⟨phone⟩"
NUM = "⟨num⟩"
URL = "⟨url⟩"
SHORTURL = "⟨shorturl⟩"
HANDLE = "⟨handle⟩"
ACCOUNT_ID = "⟨id⟩"
EMAIL = "⟨email⟩"
PLACEHOLDERS = (WECHAT, QQ, TELEGRAM, WHATSAPP, PHONE, NUM, URL, SHORTURL, HANDLE, ACCOUNT_ID, EMAIL)
PLACEHOLDER_RE = re.compile(r"⟨[a-z]+⟩")
# While normalising, each placeholder is one private-use character (the input's own private-use characters are
# dropped), so that later patterns cannot match inside an earlier placeholder's name; they become readable at the end.
_P = {name: f" {chr(0xE000 + i)} " for i, name in enumerate(PLACEHOLDERS)}
_READABLE = {0xE000 + i: name for i, name in enumerate(PLACEHOLDERS)}
_PROTECTED_RE = re.compile("[\ue100-\ue1ff]")

# Cyrillic / Greek / other letters that look like Latin ones (after NFKC and lower-casing).
_HOMOGLYPHS = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "ɡ": "g", "ɑ": "a", "ο": "o", "α": "a", "ρ": "p", "ν": "v", "τ": "t", "ι": "i", "κ": "k", "υ": "u",
    "ε": "e", "β": "b", "η": "n", "μ": "u", "χ": "x", "ω": "w", "ℓ": "l", "ø": "o", "ß": "ss", "ð": "d",
    "ɪ": "i", "ʀ": "r", "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ғ": "f", "ɢ": "g", "ʜ": "h",
    "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ǫ": "q", "ꜱ": "s", "ᴛ": "t",
    "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z", "₳": "a", "฿": "b", "₵": "c", "€": "e", "₲": "g",
    "₭": "k", "₦": "n", "₱": "p", "₮": "t", "₩": "w",
    # Upper-case look-alikes, mapped before lower-casing (lower-case Greek Ν is ν, which would read as "v").
    "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": "i", "Κ": "k", "Μ": "m", "Ν": "n", "Ο": "o",
    "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x", "Ϲ": "c", "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m",
    "Н": "h", "О": "o", "Р": "p", "С": "c", "Т": "t", "Х": "x", "У": "y", "Ѕ": "s", "І": "i", "Ј": "j",
}  # fmt: skip
# Digits hidden as other characters: circled/negative-circled dingbats NFKC leaves alone, Chinese numerals.
_DIGIT_CHARS = {}
for _base, _start in ((1, 0x2776), (1, 0x2780), (1, 0x278A), (1, 0x24F5)):
    for _i in range(10):
        _DIGIT_CHARS[chr(_start + _i)] = str((_base + _i) % 10)
_DIGIT_CHARS["⓿"] = "0"
_CN_DIGITS = {
    "零": "0", "〇": "0", "○": "0", "一": "1", "幺": "1", "壹": "1", "二": "2", "贰": "2", "貳": "2", "两": "2",
    "三": "3", "叁": "3", "參": "3", "四": "4", "肆": "4", "五": "5", "伍": "5", "六": "6", "陆": "6", "陸": "6",
    "七": "7", "柒": "7", "八": "8", "捌": "8", "九": "9", "玖": "9",
}  # fmt: skip
_CN_DIGIT_CLASS = "".join(_CN_DIGITS)
# Four or more numeral characters in a row (optionally mixed with digits) hide a number; "一二三" in prose is rare.
_CN_NUMBER_RE = re.compile(f"[{_CN_DIGIT_CLASS}0-9](?:[{_CN_DIGIT_CLASS}0-9][ \\-.·]?){{3,}}[{_CN_DIGIT_CLASS}0-9]")

# Plus-like signs used for 加 ("+V", "➕v", "十v").
_PLUS_CHARS = "➕＋✚✙╋✛✜"

_URL_RE = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'，。！？、）】]+"
    r"|\b[a-z0-9][a-z0-9\-]{0,62}(?:\.[a-z0-9\-]{1,62})*\.(?:com|net|org|cn|io|me|xyz|top|vip|cc|co|info|biz|link|"
    r"site|online|club|shop|app|ly|gl|gg|tv|ru|uk|de|hk|tw|us|ai|dev|edu|gov)\b(?:/[^\s<>\"'，。！？、）】]*)?"
)
_SHORTENERS = (
    "bit.ly", "t.cn", "tinyurl.com", "goo.gl", "ow.ly", "is.gd", "buff.ly", "cutt.ly", "rebrand.ly", "t.co",
    "shorturl.at", "rb.gy", "dwz.cn", "url.cn", "suo.im", "tiny.cc", "lnkd.in", "s.id", "linktr.ee",
)  # fmt: skip
_EMAIL_RE = re.compile(r"\b[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}\b")
_HANDLE_RE = re.compile(r"(?<![\w@])@[a-z0-9_.]{1,32}")
_DATE_RE = re.compile(r"\b\d{4}[-./年]\d{1,2}[-./月]\d{1,2}日?|\b\d{1,2}[:：]\d{2}\b")

# Contact-channel spellings (matched on the lower-cased, NFKC text after homoglyph mapping).
_WECHAT_RE = re.compile(
    r"(?:微|威|薇|徽|溦|维|唯|葳|嶶|喂|位|卫|伟|v|w)\s*[信芯心❤♥♡星性言]"
    r"|weixin|wechat|we\s*chat|vx|wx|v\s*x|w\s*x|vchat|v\s*信"
    r"|(?:加|\+|＋|家|佳|嘉|迦|夹)\s*(?:微|威|薇|徽|溦|喂|v|w|维|卫)(?![a-z])"
    # a lone "v" before an id: "v：hy2024", "v sx111505" (a colon, or a space and a digit in the id; never a word
    # that merely starts with v, like "visible" or "version")
    r"|(?<![a-z])v(?=\s*[:：]\s*[a-z0-9_\-]{5,}|\s+(?=[a-z_\-]*\d)[a-z0-9_\-]{5,})"
)
_QQ_RE = re.compile(
    r"扣扣|抠抠|寇寇|蔻蔻|口口|企鹅|企\s*-?\s*鹅|巧鹅|qq|q\s*q|(?:加|\+)\s*(?:扣|口|q)(?![a-z])|q群|扣群"
)
_TELEGRAM_RE = re.compile(r"telegram|(?<![a-z])tg(?![a-z])|纸飞机|小飞机|灰机|飞机号|飞机[:：@]|(?:^|\W)t\.me/\S*")
_WHATSAPP_RE = re.compile(r"whats\s*app|(?<![a-z])wa\.me/\S*|(?<![a-z])whtsapp|(?<![a-z])wa(?=\s*[:：+]?\s*\+?\d{6,})")
_INVISIBLE_CATEGORIES = {"Cf", "Cc", "Cs", "Co", "Cn", "Mn", "Me"}
_SEPARATOR_CATEGORIES = {"So", "Sk", "Sm", "Pd", "Pc", "Po", "Ps", "Pe", "Pi", "Pf", "Zs", "Zl", "Zp"}

_SPACED_RUN_RE = re.compile(r"(?<!\S)(?:[a-z0-9][ \t\u3000.·*_\-|/\\]+){3,}[a-z0-9](?!\S)")
_DIGIT_GROUPS_RE = re.compile(r"(?<![\d.])\d(?:[\s\-.·*_/|]*\d){6,}(?![\d])")
_PHONE_RE = re.compile(r"(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)|(?<!\d)\+\d{9,14}(?!\d)")
_LONG_NUMBER_RE = re.compile(r"(?<![\d.])\d{5,}(?![\d])")
_MASKED_NUMBER_RE = re.compile(r"(?<![a-z])x{5,}(?![a-z])")
# WeChat/QQ-style ids: letters then digits ("sx111505", "kmd255"); at least 2 letters and 3 digits so that
# "win10", "python3" and "h264" stay words.
_ACCOUNT_ID_RE = re.compile(
    r"(?<![a-z0-9_])(?=(?:[a-z_\-]*[a-z]){2})(?=(?:[a-z_\-]*\d){3})[a-z][a-z0-9_\-]{4,23}(?![a-z0-9_])"
)
_SPACES_RE = re.compile(r"\s+")
_REPEAT_RE = re.compile(r"(.)\1{3,}")
_LEET = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s"})


# Characters removed before NFKC: C0/C1 controls, lone surrogates, zero-width and bidi controls, BOM, tags.
_INVISIBLE_RE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb"
    "\U000e0000-\U000e0fff\U000f0000-\U0010ffff]"
)
_ASTRAL_RE = re.compile("[\U00010000-\U0001ffff]")
_BMP_TABLE: dict[int, str | None] | None = None
# Ranges whose characters may need mapping; CJK ideographs and Hangul syllables are skipped (all plain letters).
_SCAN_RANGES = ((0x80, 0x3400), (0xA000, 0xAC00), (0xD7B0, 0x10000))


def _map_char(ch: str) -> str | None:
    """Mapping of one character: a replacement, None to delete it, or the character itself."""
    if ch.isascii():
        return ch if ch.isprintable() else " "
    mapped = _HOMOGLYPHS.get(ch) or _DIGIT_CHARS.get(ch)
    if mapped is not None:
        return mapped
    if ch in _PLUS_CHARS:
        return "+"
    cat = unicodedata.category(ch)
    if cat in _INVISIBLE_CATEGORIES:
        return None  # zero-width joiners, control characters, private use, stray combining marks
    if cat in _SEPARATOR_CATEGORIES:
        return " "  # emoji and decorative separators ("ᚰ" is a letter and stays)
    return ch


def _table() -> dict[int, str | None]:
    """str.translate table for the BMP, built on first use (~30 ms) so importing stays cheap."""
    global _BMP_TABLE
    if _BMP_TABLE is None:
        table: dict[int, str | None] = {cp: " " for cp in range(0x80) if not chr(cp).isprintable()}
        for lo, hi in _SCAN_RANGES:
            for cp in range(lo, hi):
                ch = chr(cp)
                mapped = _map_char(ch)
                if mapped != ch:
                    table[cp] = mapped
        _BMP_TABLE = table
    return _BMP_TABLE


def _astral(match: re.Match[str]) -> str:
    mapped = _map_char(match.group(0))
    return "" if mapped is None else mapped


def _char_map(text: str) -> str:
    """Map homoglyphs and hidden digits, drop invisible characters, turn decorative symbols into spaces."""
    text = text.translate(_table())
    if _ASTRAL_RE.search(text):
        text = _ASTRAL_RE.sub(_astral, text)
    return text


def _join_spaced(match: re.Match[str]) -> str:
    return re.sub(r"[ \t\u3000.·*_\-|/\\]+", "", match.group(0))


def _cn_number(match: re.Match[str]) -> str:
    s = match.group(0)
    if sum(c in _CN_DIGITS for c in s) < 3:
        return s  # plain digits are handled by the digit-group rule, which protects dates first
    digits = "".join(_CN_DIGITS.get(c, c) for c in s if c.isdigit() or c in _CN_DIGITS)
    # Only a run made mostly of numerals is a hidden number; "一一三四" prose is vanishingly rare.
    return digits if len(digits) >= 5 else s


def _digit_groups(match: re.Match[str]) -> str:
    s = match.group(0)
    digits = re.sub(r"\D", "", s)
    return digits if len(digits) >= 7 else s


def _url(match: re.Match[str]) -> str:
    url = match.group(0).rstrip(".,;:!?)")
    host = re.sub(r"^(?:https?://)?(?:www\.)?", "", url).split("/", 1)[0].split("?", 1)[0]
    if host in ("t.me", "telegram.me"):
        return _P[TELEGRAM]
    if host in ("wa.me",) or host.endswith("whatsapp.com"):
        return _P[WHATSAPP]
    if host in _SHORTENERS:
        return _P[SHORTURL]
    parts = host.split(".")
    domain = ".".join(parts[-2:]) if len(parts) >= 2 else host
    # Keep the registrable domain: "github.com" and "bit-casino.xyz" must stay distinguishable.
    return f"{_P[URL]}{domain} "


def normalise(text: str) -> str:
    """Canonical form of a message for features and keyword rules; never raises on any str input."""
    if not isinstance(text, str):
        text = str(text)
    text = text[:MAX_CHARS]
    # Drop control, zero-width and lone-surrogate characters first (NFKC chokes on surrogates), then fold widths
    # and styled letters (ｖｘ → vx, 𝐃𝐌 → dm), then map look-alikes and decorative separators.
    text = _INVISIBLE_RE.sub("", text)
    text = _char_map(unicodedata.normalize("NFKC", text)).lower()
    text = _char_map(text)
    # Hidden numbers: Chinese numerals, then digits separated by spaces/dots/dashes ("138 0013 8000").
    text = _CN_NUMBER_RE.sub(_cn_number, text)
    protected: list[str] = []

    def _protect(m: re.Match[str]) -> str:
        if len(protected) >= 256:
            return m.group(0)
        protected.append(m.group(0))
        return chr(0xE100 + len(protected) - 1)

    text = _DATE_RE.sub(_protect, text)  # dates and times must not be glued into phone numbers
    text = _EMAIL_RE.sub(_P[EMAIL], text)
    text = _URL_RE.sub(_url, text)
    text = _SPACED_RUN_RE.sub(_join_spaced, text)  # "a d d   m e" → "addme"
    text = _DIGIT_GROUPS_RE.sub(_digit_groups, text)
    text = _MASKED_NUMBER_RE.sub(_P[PHONE], text)
    text = _TELEGRAM_RE.sub(_P[TELEGRAM], text)
    text = _WHATSAPP_RE.sub(_P[WHATSAPP], text)
    text = _WECHAT_RE.sub(_P[WECHAT], text)
    text = _QQ_RE.sub(_P[QQ], text)
    text = _HANDLE_RE.sub(_P[HANDLE], text)
    text = _ACCOUNT_ID_RE.sub(_P[ACCOUNT_ID], text)
    text = _PHONE_RE.sub(_P[PHONE], text)
    text = _LONG_NUMBER_RE.sub(_P[NUM], text)
    if protected:
        text = _PROTECTED_RE.sub(lambda m: protected[ord(m.group(0)) - 0xE100], text)
    text = text.translate(_READABLE)
    text = _REPEAT_RE.sub(r"\1\1\1", text)
    return _SPACES_RE.sub(" ", text).strip()


def leet_variant(word: str) -> str:
    """Digits-as-letters reading of a Latin token ("fr33" → "free"), used as a separate feature channel."""
    return word.translate(_LEET)
