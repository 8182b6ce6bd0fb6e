"""Each evasion the normaliser undoes, and what it must leave alone."""

from __future__ import annotations

import pytest

from quanzi.moderation.classifier import normalise

pytestmark = pytest.mark.db_independent  # no database or Redis: make test runs it in the SQLite pass only


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # full-width → half-width, lower-case
        ("ＶＸ：ａｂｃ１２３４５", "⟨wechat⟩ : ⟨id⟩"),
        # WeChat spellings
        ("加薇信 abc12345", "⟨wechat⟩"),
        ("威信", "⟨wechat⟩"),
        ("V信", "⟨wechat⟩"),
        ("加v", "⟨wechat⟩"),
        ("➕V", "⟨wechat⟩"),
        ("+vx", "⟨wechat⟩"),
        ("wx", "⟨wechat⟩"),
        ("佳喂", "⟨wechat⟩"),
        # QQ spellings
        ("扣扣", "⟨qq⟩"),
        ("企鹅", "⟨qq⟩"),
        ("QQ", "⟨qq⟩"),
        # Telegram / WhatsApp
        ("飞机@abc", "⟨telegram⟩"),
        ("t.me/pumpgroup", "⟨telegram⟩"),
        ("Telegram", "⟨telegram⟩"),
        ("wa.me/15551234567", "⟨whatsapp⟩"),
        ("WhatsApp", "⟨whatsapp⟩"),
        # phone numbers, however hidden
        ("13800138000", "⟨phone⟩"),
        ("1 3 8 0 0 1 3 8 0 0 0", "⟨phone⟩"),
        ("138-0013-8000", "⟨phone⟩"),
        ("一三八零零一三八零零零", "⟨phone⟩"),
        ("①③⑧⓪⓪①③⑧⓪⓪⓪", "⟨phone⟩"),
        ("壹叁捌零零壹叁捌零零零", "⟨phone⟩"),
        ("❶❸❽⓿⓿❶❸❽⓿⓿⓿", "⟨phone⟩"),
        # QQ-like numbers
        ("三五一一四四八二九", "⟨num⟩"),
        ("351144829", "⟨num⟩"),
        # URLs keep their domain, shorteners are flagged
        ("https://github.com/django/django/pull/1", "⟨url⟩ github.com"),
        ("ｗｗｗ．ｂａｄ．ｃｏｍ", "⟨url⟩ bad.com"),
        ("bit.ly/abc", "⟨shorturl⟩"),
        ("write to me at a.b@example.com", "⟨email⟩"),
        ("@crypto_king", "⟨handle⟩"),
        ("hi @a1", "hi ⟨handle⟩"),
    ],
)
def test_evasion_maps_to_canonical_token(text, expected):
    assert expected in normalise(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a d d   m e", "addme"),  # spaced-out letters joined
        ("Dear\u200b fri\u200dend\ufeff", "dear friend"),  # zero-width characters removed
        ("еаrn mоnеy", "earn money"),  # Cyrillic look-alikes
        ("ΒΙΤСΟΙΝ", "bitcoin"),  # Greek and Cyrillic capitals
        ("𝐃𝐌 𝐦𝐞", "dm me"),  # mathematical bold letters (NFKC)
        ("Ⓓⓜ ⓜⓔ", "dm me"),  # circled letters
        ("兼❤职🔥刷💰单", "兼 职 刷 单"),  # emoji separators become spaces
        ("ｈｅｌｌｏ，ｗｏｒｌｄ！", "hello,world!"),
        ("soooooo gooood", "sooo goood"),  # long repeats capped
    ],
)
def test_disguise_is_undone(text, expected):
    assert normalise(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "周六早上8点集合跑步，报名请回复",
        "2024-10-15 19:30 开会",  # a date and a time are not a phone number
        "每人20元，共35本书",
        "upgrade to python3 and win10",  # short letter+digit words are not account ids
        "一二三四",  # a short run of numerals is prose
    ],
)
def test_ordinary_text_keeps_its_content(text):
    out = normalise(text)
    assert "⟨phone⟩" not in out and "⟨num⟩" not in out and "⟨id⟩" not in out


def test_leet_channel():
    from quanzi.moderation.classifier.normalise import leet_variant

    assert leet_variant("fr33") == "free"
    assert leet_variant("m0n3y") == "money"


@pytest.mark.parametrize(
    "text",
    ["", "\x00\x01\x02", "a\ud800b\udfff", "\ufffe\uffff", "x" * 100_000, "🙂" * 5000, "مرحبا Привет 你好 hello"],
)
def test_never_raises_and_is_bounded(text):
    out = normalise(text)
    assert isinstance(out, str)
    assert len(out) <= 4 * 2000
    out.encode("utf-8")  # no lone surrogates survive


def test_input_cannot_forge_placeholders():
    assert normalise("⟨phone⟩ ⟨num⟩") == "phone num"
