"""Training is reproducible, never reads test splits, and writes a model the scorer loads."""

from __future__ import annotations

import hashlib

import pytest

pytest.importorskip("sklearn")

from quanzi.moderation.classifier import load  # noqa: E402
from quanzi.moderation.classifier.train import DATA_DIR, DATASETS, load_split, read_tsv, train  # noqa: E402

pytestmark = pytest.mark.db_independent  # no database or Redis: make test runs it in the SQLite pass only


def _digest(model_dir):
    return hashlib.sha256((model_dir / "classifier.npz").read_bytes()).hexdigest()


def test_same_seed_same_model(tmp_path):
    kwargs = {"limit": 150, "grid": False, "log": lambda _msg: None}
    a = train(out_dir=tmp_path / "a", seed=11, **kwargs)
    b = train(out_dir=tmp_path / "b", seed=11, **kwargs)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert a["weights_sha256"] == b["weights_sha256"]
    clf = load(tmp_path / "a")
    assert 0.0 <= clf.score("兼职刷单，日结300，加V：sx111505").score <= 1.0
    assert clf.meta["trained_with"]["seed"] == 11


def test_test_splits_are_refused():
    with pytest.raises(ValueError, match="test"):
        load_split("sms_en", "test")


def test_shipped_data_is_complete_and_well_formed():
    for name in DATASETS:
        for split in ("train", "dev"):
            texts, labels = read_tsv(DATA_DIR / name / f"{split}.tsv")
            assert texts and len(texts) == len(labels) and 0 < labels.sum() < len(labels)
        assert not (DATA_DIR / name / "test.tsv").exists()
    texts, labels = read_tsv(DATA_DIR / "augment.tsv")
    assert len(texts) >= 150
    assert (DATA_DIR / "ATTRIBUTION.md").exists()


def test_realistic_eval_set_is_disjoint_from_training_data():
    from pathlib import Path

    from quanzi.moderation.classifier import normalise

    realistic, _ = read_tsv(Path(__file__).parent / "realistic.tsv")
    assert len(realistic) >= 200
    training = set()
    for name in DATASETS:
        for split in ("train", "dev"):
            training.update(normalise(t) for t in read_tsv(DATA_DIR / name / f"{split}.tsv")[0])
    training.update(normalise(t) for t in read_tsv(DATA_DIR / "augment.tsv")[0])
    overlap = [t for t in realistic if normalise(t) in training]
    assert not overlap


def test_bad_training_file_is_refused(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("label\ttext\nmaybe\thello\n", encoding="utf-8")
    with pytest.raises(ValueError, match="spam|ham"):
        read_tsv(bad)


def test_nb_scale_favours_columns_that_separate_the_classes():
    import numpy as np
    from scipy.sparse import csr_matrix

    from quanzi.moderation.classifier.train import nb_scale

    # column 0 only in spam, column 1 in both classes equally, column 2 never seen
    X = csr_matrix(np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]))
    y = np.array([1, 1, 0, 0])
    scale = nb_scale(X, y, beta=0.5)
    assert scale[0] > scale[1] >= 0.5
    assert np.allclose(nb_scale(X, y, beta=0.0), 1.0)
