"""A missing or broken model file stops start-up (AppConfig.ready), instead of failing at the first message."""

from __future__ import annotations

import pytest
from django.apps import apps

from quanzi.moderation.classifier import model


@pytest.fixture
def broken_model_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(model, "MODEL_DIR", tmp_path)
    model.reset_classifier()
    yield tmp_path
    monkeypatch.undo()
    model.reset_classifier()
    model.check_model()  # the real one loads again for the other tests


def test_missing_model_fails_loudly_at_start(broken_model_dir):
    with pytest.raises(model.ModelError):
        apps.get_app_config("moderation").ready()


def test_corrupt_model_fails_loudly_at_start(broken_model_dir):
    for path in model._paths(broken_model_dir):
        path.write_bytes(b"\x00garbage")
    with pytest.raises(model.ModelError):
        apps.get_app_config("moderation").ready()
