"""The shipped linear spam model: loading, scoring, explaining, and per-circle corrections.

Runtime needs only numpy: the model is one float32 weight vector over hashed feature buckets plus a bias, stored
as ``model/classifier.npz`` with a JSON header (``model/classifier.json``) holding the configuration and a SHA-256
of the weights, so a truncated or swapped file fails at load with `ModelError` instead of scoring garbage.
The bias already includes the decision threshold tuned on the dev splits, so ``score >= 0.5`` means spam.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import features as F

MODEL_DIR = Path(__file__).resolve().parent.parent / "model"
MODEL_NAME = "classifier"
FORMAT_VERSION = 1
MAX_REASONS = 6
IDF_SCALE = 20.0  # idf is stored as uint8 in steps of 1/20
REASONS_MIN_SCORE = 0.1  # below this nothing needs explaining (saves the sort on the common case)
BATCH = 512  # messages per vectorised chunk in score_many


class ModelError(RuntimeError):
    """The shipped model is missing, unreadable or does not match this code: retrain with `quanzi moderation train`."""


@dataclass(frozen=True, slots=True)
class Verdict:
    score: float  # probability-like spam score in [0, 1]
    is_spam: bool  # score >= 0.5 (the tuned threshold is folded into the model's bias)
    reasons: list[str]  # signals and strongest n-grams that pushed towards spam, most important first
    normalised: str  # the text after normalisation, as features and keyword rules see it


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


class Classifier:
    """Immutable after construction, hence safe to share between threads."""

    def __init__(self, weights: np.ndarray, bias: float, meta: dict, idf: np.ndarray) -> None:
        self.weights = weights
        self.idf = idf
        self.bias = float(bias)
        self.meta = meta
        self.mask = F.MASK  # main-view buckets; the second view uses the upper half of the weights
        # Added to the margin of mostly-Chinese messages: the per-script decision threshold tuned on the dev
        # splits, relative to the Latin-script one already folded into the bias.
        self.chinese_shift = float(meta.get("chinese_shift", 0.0))

    # --- scoring -----------------------------------------------------------------------------------------------
    def _parts(self, feats: F.Features) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """(margin, bucket indices, feature values, per-feature contributions) of one message."""
        idx = feats.buckets(self.mask)
        vals = F.values(feats, idx, self.idf)
        contrib = self.weights[idx] * vals
        shift = self.chinese_shift if feats.chinese else 0.0
        return self.bias + shift + float(contrib.sum()) + self._second_view(feats), idx, vals, contrib

    def _second_view(self, feats: F.Features) -> float:
        """Margin of the second linear model (word-bounded n-grams, sublinear tf; not itemised in reasons)."""
        if feats.wb_idx is None or not len(feats.wb_idx):
            return 0.0
        return float(np.dot(self.weights[feats.wb_idx], F.wb_values(feats, self.idf)))

    def margin(self, text: str) -> float:
        """Log-odds of spam before any circle correction (used by per-circle training)."""
        return self._parts(F.extract(text))[0]

    def _verdict(
        self, feats: F.Features, margin: float, contrib: np.ndarray, extra: list[str] | None = None
    ) -> Verdict:
        score = _sigmoid(margin)
        reasons = self._reasons(feats, contrib) if score >= REASONS_MIN_SCORE else []
        return Verdict(score=score, is_spam=score >= 0.5, reasons=(extra or []) + reasons, normalised=feats.normalised)

    def _batch(self, feats: list[F.Features]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(margins, per-feature contributions, start offsets) of many messages in one vectorised pass."""
        idx = np.concatenate([f.idx for f in feats])
        sizes = np.fromiter((len(f.idx) for f in feats), dtype=np.int64, count=len(feats))
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        # Four segments per message: three n-gram channels (normalised separately) and the signals.
        seg_len = np.array(
            [[c[0], c[1] - c[0], c[2] - c[1], n - c[2]] for c, n in ((f.channels, len(f.idx)) for f in feats)],
            dtype=np.int64,
        ).ravel()
        seg = np.repeat(np.arange(len(seg_len)), seg_len)
        is_signal = (seg % 4) == 3
        w = self.idf[idx]
        norms = np.sqrt(np.bincount(seg, weights=(w.astype(np.float64) ** 2), minlength=len(seg_len)))
        vals = np.where(is_signal, 1.0, w / np.maximum(norms[seg], 1e-6)).astype(np.float32)
        contrib = self.weights[idx] * vals
        msg = np.repeat(np.arange(len(feats)), sizes)
        margins = np.bincount(msg, weights=contrib.astype(np.float64), minlength=len(feats)) + self.bias
        # The second view: sublinear tf × idf, L2-normalised per message.
        wb_idx = np.concatenate([f.wb_idx for f in feats])
        if len(wb_idx):
            wb_msg = np.repeat(np.arange(len(feats)), [len(f.wb_idx) for f in feats])
            v = np.concatenate([f.wb_tf for f in feats]) * self.idf[wb_idx]
            norm = np.sqrt(np.bincount(wb_msg, weights=(v.astype(np.float64) ** 2), minlength=len(feats)))
            wb_contrib = (self.weights[wb_idx] * v).astype(np.float64) / np.maximum(norm[wb_msg], 1e-6)
            margins += np.bincount(wb_msg, weights=wb_contrib, minlength=len(feats))
        if self.chinese_shift:
            margins += self.chinese_shift * np.fromiter((f.chinese for f in feats), dtype=np.float64, count=len(feats))
        return margins, contrib, starts

    def _reasons(self, feats: F.Features, contrib: np.ndarray) -> list[str]:
        """Signals that pushed towards spam first, then the strongest spam-side n-grams, with their weight."""
        signals: list[str] = []
        grams: list[str] = []
        seen: set[str] = set()
        for i in np.argsort(-contrib, kind="stable")[: 4 * MAX_REASONS]:
            c = float(contrib[i])
            if c <= 0.05:
                break
            key = feats.signal_key(int(i))
            is_signal = key is not None
            if is_signal and key not in feats.signal_labels:
                continue  # the length prior explains nothing
            text = feats.describe(int(i))
            if text in seen or (not is_signal and len(grams) >= 3):
                continue
            seen.add(text)
            (signals if is_signal else grams).append(f"{text} (+{c:.1f})")
        return (signals + grams)[:MAX_REASONS]

    def score(self, text: str) -> Verdict:
        feats = F.extract(text if isinstance(text, str) else str(text))
        margin, _, _, contrib = self._parts(feats)
        return self._verdict(feats, margin, contrib)

    def score_many(self, texts: Iterable[str]) -> list[Verdict]:
        """Verdicts of many texts, vectorised in chunks (same results as `score`, several times the throughput)."""
        texts = list(texts)
        out: list[Verdict] = []
        for i in range(0, len(texts), BATCH):
            feats = F.extract_many(texts[i : i + BATCH])
            margins, contrib, starts = self._batch(feats)
            for f, m, a in zip(feats, margins.tolist(), starts.tolist(), strict=True):
                out.append(self._verdict(f, m, contrib[a : a + len(f.idx)]))
        return out

    def scores(self, texts: Iterable[str]) -> np.ndarray:
        """Just the spam scores of many texts (no explanations): for bulk evaluation."""
        texts = list(texts)
        margins = [self._batch(F.extract_many(texts[i : i + BATCH]))[0] for i in range(0, len(texts), BATCH)]
        if not margins:
            return np.zeros(0)
        return 1.0 / (1.0 + np.exp(-np.clip(np.concatenate(margins), -30, 30)))

    # --- per-circle adaptation ---------------------------------------------------------------------------------
    def with_circle(self, circle_model: CircleModel | dict | None) -> Classifier | CircleClassifier:
        """This classifier corrected by a circle's learned model (a `CircleModel` or its `to_json()` dict)."""
        if circle_model is None:
            return self
        if isinstance(circle_model, dict):
            circle_model = CircleModel.from_json(circle_model)
        return CircleClassifier(self, circle_model)

    def with_circle_examples(self, examples: Sequence[tuple[str, bool]]) -> CircleClassifier:
        """Convenience: train a circle correction from (text, is_spam) decisions and apply it."""
        return CircleClassifier(self, train_circle_model(self, examples))


def _text_key(normalised: str) -> str:
    return hashlib.sha256(normalised.encode("utf-8", "surrogatepass")).hexdigest()[:20]


@dataclass(slots=True)
class CircleModel:
    """A circle's small correction on top of the fixed base model, learned from its moderators' decisions.

    ``deltas`` adds to the base weights of a few thousand feature buckets and ``bias_delta`` to the bias (an L2-
    regularised logistic regression on the same features with the base margin as a fixed offset, so a handful of
    decisions nudges the model rather than replacing it); ``memory`` remembers exact (normalised) texts moderators
    decided, so the same ad pasted again is caught at once and an approved message is not held again.
    Serialise with `to_json()` (plain JSON, a few hundred KB at most) and restore with `from_json()`.
    """

    deltas: dict[int, float] = field(default_factory=dict)
    bias_delta: float = 0.0
    memory: dict[str, bool] = field(default_factory=dict)
    n_examples: int = 0
    n_spam: int = 0
    n_ham: int = 0
    n_buckets: int = 0

    def to_json(self) -> dict:
        return {
            "format": 1,
            "n_buckets": self.n_buckets,
            "bias_delta": round(self.bias_delta, 6),
            "deltas": {str(k): round(v, 6) for k, v in self.deltas.items()},
            "memory": self.memory,
            "n_examples": self.n_examples,
            "n_spam": self.n_spam,
            "n_ham": self.n_ham,
        }

    @classmethod
    def from_json(cls, data: dict) -> CircleModel:
        if not isinstance(data, dict) or data.get("format") != 1:
            raise ModelError("unsupported circle model data")
        try:
            return cls(
                deltas={int(k): float(v) for k, v in data.get("deltas", {}).items()},
                bias_delta=float(data.get("bias_delta", 0.0)),
                memory={str(k): bool(v) for k, v in data.get("memory", {}).items()},
                n_examples=int(data.get("n_examples", 0)),
                n_spam=int(data.get("n_spam", 0)),
                n_ham=int(data.get("n_ham", 0)),
                n_buckets=int(data.get("n_buckets", 0)),
            )
        except (TypeError, ValueError) as exc:
            raise ModelError(f"corrupt circle model data: {exc}") from exc


# Per-circle training knobs: L2 and a minimum batch so that a few decisions shift, not overturn, the base model
# (CIRCLE_LR * CIRCLE_L2 < 1 keeps gradient descent stable).
CIRCLE_L2 = 0.05
CIRCLE_MIN_BATCH = 20
CIRCLE_EPOCHS = 60
CIRCLE_LR = 5.0
CIRCLE_MAX_DELTAS = 5000
CIRCLE_MAX_MEMORY = 2000
MEMORY_PUSH = 4.0  # log-odds added (or removed) for a text moderators already decided


def train_circle_model(
    base: Classifier, examples: Sequence[tuple[str, bool]], *, previous: CircleModel | None = None
) -> CircleModel:
    """Fit a circle's correction from (text, is_spam) moderator decisions (approve = ham, delete = spam).

    Deterministic (full-batch gradient descent, no randomness). Pass the whole decision history each time (the
    caller keeps it, newest last); `previous` only carries over exact-text memory for texts beyond the history.
    """
    memory: dict[str, bool] = dict(previous.memory) if previous is not None else {}
    rows_idx: list[np.ndarray] = []
    rows_val: list[np.ndarray] = []
    offsets: list[float] = []
    labels: list[float] = []
    for text, is_spam in examples:
        feats = F.extract(text if isinstance(text, str) else str(text))
        margin, idx, vals, _ = base._parts(feats)
        rows_idx.append(idx)
        rows_val.append(vals.astype(np.float64))
        offsets.append(margin)
        labels.append(1.0 if is_spam else 0.0)
        key = _text_key(feats.normalised)
        memory.pop(key, None)
        memory[key] = bool(is_spam)  # re-inserted: newest decision last
    while len(memory) > CIRCLE_MAX_MEMORY:
        memory.pop(next(iter(memory)))
    model = CircleModel(
        memory=memory,
        n_examples=len(labels),
        n_spam=int(sum(labels)),
        n_ham=len(labels) - int(sum(labels)),
        n_buckets=len(base.weights),
    )
    if not labels:
        return model
    # Compact the touched buckets into a small dense problem.
    all_idx = np.concatenate(rows_idx)
    uniq, inverse = np.unique(all_idx, return_inverse=True)
    row_of = np.repeat(np.arange(len(labels)), [len(r) for r in rows_idx])
    vals = np.concatenate(rows_val)
    y = np.asarray(labels)
    off = np.asarray(offsets)
    d = np.zeros(len(uniq))
    b = 0.0
    n = len(y)
    scale = max(n, CIRCLE_MIN_BATCH)
    for _ in range(CIRCLE_EPOCHS):
        z = off + b + np.bincount(row_of, weights=d[inverse] * vals, minlength=n)
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
        err = p - y
        # Gradients are averaged over at least CIRCLE_MIN_BATCH examples, so a few decisions move little.
        grad_d = np.bincount(inverse, weights=err[row_of] * vals, minlength=len(uniq)) / scale + CIRCLE_L2 * d
        grad_b = float(err.sum()) / scale + CIRCLE_L2 * b
        d -= CIRCLE_LR * grad_d
        b -= CIRCLE_LR * grad_b
    keep = np.argsort(-np.abs(d), kind="stable")[:CIRCLE_MAX_DELTAS]
    model.deltas = {int(uniq[i]): float(d[i]) for i in keep if abs(d[i]) > 1e-4}
    model.bias_delta = float(b)
    return model


class CircleClassifier:
    """The base classifier plus one circle's correction; same interface as `Classifier`."""

    def __init__(self, base: Classifier, circle: CircleModel) -> None:
        if circle.n_buckets and circle.n_buckets != len(base.weights):
            raise ModelError("circle model was trained for a different base model; retrain it")
        self.base = base
        self.circle = circle

    @property
    def n_examples(self) -> int:
        return self.circle.n_examples

    def score(self, text: str) -> Verdict:
        feats = F.extract(text if isinstance(text, str) else str(text))
        margin, idx, vals, contrib = self.base._parts(feats)
        extra: list[str] = []
        deltas = self.circle.deltas
        if deltas:
            delta = np.fromiter((deltas.get(int(i), 0.0) for i in idx), dtype=np.float32, count=len(idx)) * vals
            contrib = contrib + delta
            margin += float(delta.sum())
        margin += self.circle.bias_delta
        decided = self.circle.memory.get(_text_key(feats.normalised))
        if decided is not None:
            margin += MEMORY_PUSH if decided else -MEMORY_PUSH
            if decided:
                extra.append("same text as a message this circle's moderators removed")
        return self.base._verdict(feats, margin, contrib, extra)

    def score_many(self, texts: Iterable[str]) -> list[Verdict]:
        return [self.score(t) for t in texts]


# --- loading ---------------------------------------------------------------------------------------------------


def _paths(model_dir: Path) -> tuple[Path, Path]:
    return model_dir / f"{MODEL_NAME}.json", model_dir / f"{MODEL_NAME}.npz"


def load(model_dir: Path | str | None = None) -> Classifier:
    """Load and verify a model directory; any problem raises `ModelError` with what to do."""
    model_dir = Path(model_dir) if model_dir is not None else MODEL_DIR
    meta_path, weights_path = _paths(model_dir)
    hint = "run `quanzi moderation train` to rebuild it"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"spam model header {meta_path} is missing; {hint}")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"spam model header {meta_path} is unreadable ({exc}); {hint}")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        raise ModelError(f"spam model {meta_path} has an unsupported format; {hint}")
    if meta.get("feature_version") != F.FEATURE_VERSION:
        raise ModelError(f"spam model {meta_path} was trained for other features; {hint}")
    try:
        raw = weights_path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"spam model weights {weights_path} are missing; {hint}")
    except OSError as exc:
        raise ModelError(f"spam model weights {weights_path} are unreadable ({exc}); {hint}")
    if hashlib.sha256(raw).hexdigest() != meta.get("weights_sha256"):
        raise ModelError(f"spam model weights {weights_path} do not match their header (corrupt or stale); {hint}")
    try:
        import io

        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            weights = np.ascontiguousarray(npz["weights"], dtype=np.float32)
            idf = np.ascontiguousarray(npz["idf"], dtype=np.float32) / IDF_SCALE
    except Exception as exc:  # numpy raises several types for a damaged archive
        raise ModelError(f"spam model weights {weights_path} are unreadable ({exc}); {hint}")
    n = int(meta.get("n_buckets", 0))
    if (
        weights.ndim != 1
        or n != F.N_WEIGHTS
        or len(weights) != n
        or idf.shape != weights.shape
        or n & (n - 1)
        or not np.isfinite(weights).all()
    ):
        raise ModelError(f"spam model weights {weights_path} have the wrong shape or values; {hint}")
    bias = meta.get("bias")
    if not isinstance(bias, (int, float)) or not math.isfinite(bias):
        raise ModelError(f"spam model header {meta_path} has no valid bias; {hint}")
    shift = meta.get("chinese_shift", 0.0)
    if not isinstance(shift, (int, float)) or not math.isfinite(shift):
        raise ModelError(f"spam model header {meta_path} has no valid chinese_shift; {hint}")
    return Classifier(weights, float(bias), meta, idf)


def quantise_idf(idf: np.ndarray) -> np.ndarray:
    """idf as stored (uint8 steps of 1/IDF_SCALE): 1 MB instead of 4, and training uses the same rounded values."""
    return np.clip(np.round(np.asarray(idf) * IDF_SCALE), 0, 255).astype(np.uint8)


def save(model_dir: Path, weights: np.ndarray, bias: float, meta: dict, idf_q: np.ndarray) -> dict:
    """Write weights + header atomically enough for a CLI (write then rename); returns the header."""
    import io

    model_dir.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez_compressed(buf, weights=np.asarray(weights, dtype=np.float16), idf=np.asarray(idf_q, dtype=np.uint8))
    raw = buf.getvalue()
    header = {
        **meta,
        "format": FORMAT_VERSION,
        "feature_version": F.FEATURE_VERSION,
        "n_buckets": len(weights),
        "bias": float(bias),
        "weights_sha256": hashlib.sha256(raw).hexdigest(),
    }
    meta_path, weights_path = _paths(model_dir)
    tmp_w = weights_path.with_suffix(".npz.tmp")
    tmp_m = meta_path.with_suffix(".json.tmp")
    tmp_w.write_bytes(raw)
    tmp_m.write_text(json.dumps(header, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
    tmp_w.replace(weights_path)
    tmp_m.replace(meta_path)
    return header


_lock = threading.Lock()
_classifier: Classifier | None = None


def get_classifier() -> Classifier:
    """The process-wide classifier, loaded once (thread-safe)."""
    global _classifier
    clf = _classifier
    if clf is None:
        with _lock:
            if _classifier is None:
                _classifier = load()
            clf = _classifier
    return clf


def check_model() -> None:
    """Load the shipped model now (raises `ModelError`): call at start-up so a broken model fails loudly."""
    get_classifier()


def reset_classifier() -> None:
    """Forget the loaded model (tests, and after `quanzi moderation train` in the same process)."""
    global _classifier
    with _lock:
        _classifier = None
