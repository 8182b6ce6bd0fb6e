"""The scoring API: verdicts, explanations, bad input, loading errors and per-circle corrections."""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest

from quanzi.moderation.classifier import (
    CircleModel,
    ModelError,
    Verdict,
    check_model,
    get_classifier,
    load,
    normalise,
    train_circle_model,
)
from quanzi.moderation.classifier.model import MODEL_DIR

pytestmark = pytest.mark.db_independent  # no database or Redis: make test runs it in the SQLite pass only

ADS = [
    "兼职刷单，日结300，加V：sx111505",
    "加 薇 信 看 福 利 ：mm5201314",
    "无抵押贷款，当天放款，电话 1 3 8 0 0 1 3 8 0 0 0",
    "I made $8,000 in 5 days thanks to @trader_amy, DM her now",
    "Join our crypto signals group before the next 50x pump: t.me/pumpvip",
    "Hiring part-time online, earn $400/day from your phone, WhatsApp +1 415 555 0100",
]
HAMS = [
    "周六早上8点集合跑步，报名请回复",
    "有人要拼车吗",
    "读书会这本书网上38元，图书馆也能借到",
    "Book club is on Thursday at 7pm, we're reading chapters 3-5",
    "Does anyone know a good bike shop near the river?",
]


@pytest.fixture(scope="module")
def clf():
    return get_classifier()


def test_verdict_shape(clf):
    v = clf.score("加V：sx111505 兼职日结")
    assert isinstance(v, Verdict)
    assert 0.0 <= v.score <= 1.0
    assert v.is_spam == (v.score >= 0.5)
    assert v.normalised == normalise("加V：sx111505 兼职日结")


@pytest.mark.parametrize("text", ADS)
def test_obvious_ads_are_spam_with_reasons(clf, text):
    v = clf.score(text)
    assert v.is_spam, (text, v)
    assert v.reasons and all(isinstance(r, str) and r for r in v.reasons)


@pytest.mark.parametrize("text", HAMS)
def test_ordinary_messages_are_ham(clf, text):
    assert not clf.score(text).is_spam


def test_reasons_name_the_contact_lure(clf):
    reasons = " ".join(clf.score("加薇信 abc12345 兼职日结").reasons)
    assert "WeChat" in reasons


def test_score_many_matches_score(clf):
    texts = ADS + HAMS + [""]
    many = clf.score_many(texts)
    singles = [clf.score(t) for t in texts]
    assert [v.score for v in many] == pytest.approx([v.score for v in singles], abs=1e-5)
    assert [v.reasons for v in many] == [v.reasons for v in singles]
    assert [v.normalised for v in many] == [v.normalised for v in singles]
    assert np.allclose(clf.scores(texts), [v.score for v in many], atol=1e-5)
    assert clf.score_many([]) == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\x00\x00\x01\x7f",
        "a\ud800b\udc00c",  # lone surrogates
        "\ufffe\uffff\U0010ffff",
        "加微信" * 40_000,  # 120k characters
        "x" * 100_000,
        "🙂🔥💰" * 3000,
        "مرحبا Привет 你好 hello こんにちは 안녕하세요",
    ],
)
def test_bad_input_gets_a_score(clf, text):
    v = clf.score(text)
    assert 0.0 <= v.score <= 1.0
    v.normalised.encode("utf-8")


def test_non_string_input_is_coerced(clf):
    assert 0.0 <= clf.score(12345).score <= 1.0  # type: ignore[arg-type]


def test_threshold_is_folded_into_bias(clf):
    assert clf.meta["trained_with"]["margin_threshold"] == pytest.approx(clf.meta["trained_with"]["margin_threshold"])
    # score 0.5 is the decision boundary: is_spam is exactly score >= 0.5 on a spread of inputs
    for t in ADS + HAMS:
        v = clf.score(t)
        assert v.is_spam is (v.score >= 0.5)


def test_chinese_shift_applies_to_chinese_messages_only(clf):
    from quanzi.moderation.classifier.model import Classifier

    shifted = Classifier(clf.weights, clf.bias, {**clf.meta, "chinese_shift": clf.chinese_shift + 1.0}, clf.idf)
    zh, en = "有人要拼车吗，周六早上出发", "Does anyone know a good bike shop near the river?"
    assert shifted.margin(zh) == pytest.approx(clf.margin(zh) + 1.0, abs=1e-4)
    assert shifted.margin(en) == pytest.approx(clf.margin(en), abs=1e-4)
    texts = ADS + HAMS
    assert np.allclose(shifted.scores(texts), [shifted.score(t).score for t in texts], atol=1e-5)


def test_bad_chinese_shift_fails_loudly(tmp_path):
    model = _copy_model(tmp_path)
    header = json.loads((MODEL_DIR / "classifier.json").read_text(encoding="utf-8"))
    header["chinese_shift"] = "a lot"
    (model / "classifier.json").write_text(json.dumps(header), encoding="utf-8")
    with pytest.raises(ModelError, match="chinese_shift"):
        load(model)


def test_loaded_once_and_thread_safe():
    results = []
    threads = [threading.Thread(target=lambda: results.append(get_classifier())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(r) for r in results}) == 1
    check_model()


def _copy_model(tmp_path):
    target = tmp_path / "model"
    shutil.copytree(MODEL_DIR, target)
    return target


def test_missing_model_fails_loudly(tmp_path):
    with pytest.raises(ModelError, match="missing"):
        load(tmp_path / "nowhere")
    model = _copy_model(tmp_path)
    (model / "classifier.npz").unlink()
    with pytest.raises(ModelError, match="missing"):
        load(model)


def test_corrupt_weights_fail_loudly(tmp_path):
    model = _copy_model(tmp_path)
    raw = bytearray((model / "classifier.npz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (model / "classifier.npz").write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="do not match"):
        load(model)


def test_corrupt_header_fails_loudly(tmp_path):
    model = _copy_model(tmp_path)
    (model / "classifier.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="unreadable"):
        load(model)
    header = json.loads((MODEL_DIR / "classifier.json").read_text(encoding="utf-8"))
    header["feature_version"] = -1
    (model / "classifier.json").write_text(json.dumps(header), encoding="utf-8")
    with pytest.raises(ModelError, match="other features"):
        load(model)


def test_shipped_model_is_small():
    size = sum(p.stat().st_size for p in MODEL_DIR.iterdir())
    assert size < 8 * 1024 * 1024


# --- per-circle corrections ------------------------------------------------------------------------------------

# A circle of gardeners whose members keep posting seed-swap offers the base model dislikes, and whose
# moderators keep removing one kind of message the base model lets through.
CIRCLE_HAM = [f"交换种子：我有{n}包番茄种子，想换辣椒种子，私聊我" for n in range(2, 14)]
CIRCLE_SPAM = [f"园艺群福利：第{n}期花肥团购，团长统一发货" for n in range(2, 14)]


def test_circle_model_learns_from_decisions(clf):
    examples = [(t, False) for t in CIRCLE_HAM] + [(t, True) for t in CIRCLE_SPAM]
    model = train_circle_model(clf, examples)
    assert model.n_examples == len(examples) and model.n_spam == len(CIRCLE_SPAM)
    adapted = clf.with_circle(model)
    unseen_ham = "交换种子：我有20包黄瓜种子，想换茄子种子，私聊我"
    unseen_spam = "园艺群福利：第30期花肥团购，团长统一发货"
    assert adapted.score(unseen_ham).score < clf.score(unseen_ham).score
    assert adapted.score(unseen_spam).score > clf.score(unseen_spam).score
    # the base model is untouched
    assert clf.score(unseen_spam).score == get_classifier().score(unseen_spam).score


def test_circle_memory_catches_the_same_text_again(clf):
    ad = "本群专属：扫码领取新人红包"
    model = train_circle_model(clf, [(ad, True)])
    v = clf.with_circle(model).score(ad + " ")  # same normalised text
    assert v.is_spam
    assert any("moderators removed" in r for r in v.reasons)
    approved = "Anyone want to join the 5k this Saturday? Sign-up link on the club site"
    assert clf.with_circle(train_circle_model(clf, [(approved, False)])).score(approved).score < 0.2


def test_circle_model_json_round_trip_and_determinism(clf):
    examples = [(t, False) for t in CIRCLE_HAM[:4]] + [(t, True) for t in CIRCLE_SPAM[:4]]
    a = train_circle_model(clf, examples).to_json()
    b = train_circle_model(clf, examples).to_json()
    assert a == b
    data = json.loads(json.dumps(a))
    restored = CircleModel.from_json(data)
    text = CIRCLE_SPAM[5]
    assert clf.with_circle(restored).score(text).score == pytest.approx(clf.with_circle(data).score(text).score)
    assert len(json.dumps(a)) < 500_000


def test_circle_model_empty_and_bad_data(clf):
    empty = train_circle_model(clf, [])
    assert empty.n_examples == 0
    assert clf.with_circle(empty).score("hello").score == pytest.approx(clf.score("hello").score)
    assert clf.with_circle(None) is clf
    with pytest.raises(ModelError):
        CircleModel.from_json({"format": 99})
    with pytest.raises(ModelError):
        CircleModel.from_json({"format": 1, "deltas": {"x": "y"}})
    with pytest.raises(ModelError):
        clf.with_circle({"format": 1, "n_buckets": 12})


def test_with_circle_examples_shortcut(clf):
    adapted = clf.with_circle_examples([(CIRCLE_SPAM[0], True)])
    assert adapted.n_examples == 1
    assert adapted.score(CIRCLE_SPAM[0]).is_spam


# Ordinary short group messages with numbers, years, full-width text or short @handles: feature version 4 held
# these (a bare "18" and "a1"-like n-grams lean spam in the SMS data). None of them is a training text.
SHORT_HAMS = [
    "room 18",
    "post 18",
    "Running Club 2026",
    "Ｒｕｎｎｉｎｇ　Ｃｌｕｂ ２０２６",
    "hi @a1 @a2",
    "hi @alice @bob",
    *[f"post {i}" for i in range(23)],
]


@pytest.mark.parametrize("text", SHORT_HAMS)
def test_short_ordinary_messages_with_numbers_are_ham(text):
    v = get_classifier().score(text)
    assert not v.is_spam, (text, v.score, v.reasons)
