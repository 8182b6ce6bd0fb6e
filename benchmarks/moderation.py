"""`make bench`: the spam/ad classifier against a plain baseline trained in the same run.

Ours: the shipped model (`quanzi.moderation.classifier`, trained by `quanzi moderation train` on the train splits,
tuned on the dev splits). Baseline: TF-IDF word 1–2-grams + logistic regression on the raw text, no
normalisation, trained here on the same train splits (scikit-learn defaults, threshold 0.5).

Evaluated on the TEST splits of ../shared/data/spam/ (never used for training or tuning; set QUANZI_SPAM_DATA to
point elsewhere) and on tests/moderation_classifier/realistic.tsv, hand-written group messages that are in no
training set. Prints precision / recall / F1 (spam class) / accuracy per set, per-message latency p50/p99
(single `score()` calls, one core) and batch throughput (`score_many`), with PASS/FAIL per target.
Exit status 1 when a target fails. Takes well under a minute on an idle machine.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from quanzi.moderation.classifier import get_classifier  # noqa: E402
from quanzi.moderation.classifier.train import DATA_DIR, DATASETS, read_tsv  # noqa: E402

F1_TARGETS = {"sms_en": 0.97, "zh_sms": 0.95, "zh_chat": 0.96, "yt_comments": 0.96, "ig_scam": 0.93}
REALISTIC_TARGET = 0.90  # our own bar for the hand-written set (the issue gives no number)
P99_TARGET_MS = 2.0
THROUGHPUT_TARGET = 5000.0
REALISTIC = ROOT / "tests" / "moderation_classifier" / "realistic.tsv"


def spam_data_dir() -> Path | None:
    env = os.environ.get("QUANZI_SPAM_DATA")
    for candidate in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "data" / "spam"]:
        if (candidate / "sms_en" / "test.tsv").exists():
            return candidate
    return None


def metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"p": p, "r": r, "f1": f1, "acc": float((pred == y).mean())}


def train_baseline():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts: list[str] = []
    labels: list[np.ndarray] = []
    for name in DATASETS:
        t, y = read_tsv(DATA_DIR / name / "train.tsv")
        texts += t
        labels.append(y)
    model = make_pipeline(
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=1),
        LogisticRegression(C=10.0, solver="liblinear"),
    )
    model.fit(texts, np.concatenate(labels))
    return model


def main() -> int:
    data_dir = spam_data_dir()
    t0 = time.perf_counter()
    clf = get_classifier()
    load_ms = (time.perf_counter() - t0) * 1000
    t0 = time.perf_counter()
    baseline = train_baseline()
    baseline_s = time.perf_counter() - t0

    sets: list[tuple[str, list[str], np.ndarray, float]] = []
    if data_dir is None:
        print("spam test splits not found (../shared/data/spam or QUANZI_SPAM_DATA): only the realistic set is scored")
    else:
        for name in DATASETS:
            texts, y = read_tsv(data_dir / name / "test.tsv")
            sets.append((name, texts, y, F1_TARGETS[name]))
    texts, y = read_tsv(REALISTIC)
    sets.append(("realistic (hand-written)", texts, y, REALISTIC_TARGET))

    rows = []
    failed = False
    all_texts: list[str] = []
    for name, texts, y, target in sets:
        ours = metrics(y, (clf.scores(texts) >= 0.5).astype(np.int8))
        base = metrics(y, baseline.predict(texts).astype(np.int8))
        ok = ours["f1"] >= target
        failed |= not ok
        rows.append((name, len(texts), ours, base, target, ok))
        all_texts += texts

    # Latency: single-message calls on a fixed random sample of every set, after a warm-up.
    rng = random.Random(7699)
    sample = rng.sample(all_texts, min(3000, len(all_texts)))
    for t in sample[:200]:
        clf.score(t)
    lat = []
    for t in sample:
        s = time.perf_counter()
        clf.score(t)
        lat.append((time.perf_counter() - s) * 1000)
    lat.sort()
    p50, p99 = statistics.median(lat), lat[int(0.99 * (len(lat) - 1))]
    base_lat = []
    for t in sample[:500]:
        s = time.perf_counter()
        baseline.predict([t])
        base_lat.append((time.perf_counter() - s) * 1000)
    base_lat.sort()
    batch = (all_texts * (1 + 5000 // max(len(all_texts), 1)))[:5000]
    s = time.perf_counter()
    clf.score_many(batch)
    tput = len(batch) / (time.perf_counter() - s)
    s = time.perf_counter()
    baseline.predict(batch)
    base_tput = len(batch) / (time.perf_counter() - s)
    # A 100k-character message: bounded by the feature cap.
    s = time.perf_counter()
    clf.score("加微信 " * 20000)
    huge_ms = (time.perf_counter() - s) * 1000

    print()
    print(f"Spam/ad classifier: ours (shipped model, loaded in {load_ms:.0f} ms) vs baseline")
    print(f"(TF-IDF word 1-2-grams + logistic regression, raw text, trained here in {baseline_s:.1f} s)")
    print()
    hdr = f"{'set':26} {'n':>5} | {'P':>6} {'R':>6} {'F1':>6} {'acc':>6} | {'base P':>6} {'base R':>6} "
    hdr += f"{'base F1':>7} {'acc':>6} | {'target F1':>9}  result"
    print(hdr)
    print("-" * len(hdr))
    for name, n, o, b, target, ok in rows:
        print(
            f"{name:26} {n:>5} | {o['p']:6.3f} {o['r']:6.3f} {o['f1']:6.3f} {o['acc']:6.3f} | "
            f"{b['p']:6.3f} {b['r']:6.3f} {b['f1']:7.3f} {b['acc']:6.3f} | {'>= ' + format(target, '.2f'):>9}  "
            f"{'PASS' if ok else 'FAIL'}"
        )
    print()
    lat_ok = p99 < P99_TARGET_MS
    tput_ok = tput >= THROUGHPUT_TARGET
    failed |= not (lat_ok and tput_ok)
    print(
        f"{'latency per message':26} ours p50 {p50:.3f} ms, p99 {p99:.3f} ms; baseline p50 "
        f"{statistics.median(base_lat):.3f} ms, p99 {base_lat[int(0.99 * (len(base_lat) - 1))]:.3f} ms"
        f"   target p99 < {P99_TARGET_MS} ms  {'PASS' if lat_ok else 'FAIL'}"
    )
    print(
        f"{'batch throughput':26} ours {tput:,.0f} msg/s; baseline {base_tput:,.0f} msg/s"
        f"   target >= {THROUGHPUT_TARGET:,.0f} msg/s  {'PASS' if tput_ok else 'FAIL'}"
    )
    print(f"{'100k-character message':26} {huge_ms:.2f} ms (features use the first 2,000 characters)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
