"""Bilingual (Chinese + English) ad/spam classifier for chat messages, posts, comments, DMs and bios.

    from quanzi.moderation.classifier import get_classifier, check_model, normalise
    verdict = get_classifier().score("加V：sx111505 日赚500")  # Verdict(score, is_spam, reasons, normalised)

See docs/classifier.md for the data, features, figures and per-circle adaptation.
"""

from .model import (
    CircleClassifier,
    CircleModel,
    Classifier,
    ModelError,
    Verdict,
    check_model,
    get_classifier,
    load,
    reset_classifier,
    train_circle_model,
)
from .normalise import normalise

__all__ = [
    "CircleClassifier",
    "CircleModel",
    "Classifier",
    "ModelError",
    "Verdict",
    "check_model",
    "get_classifier",
    "load",
    "normalise",
    "reset_classifier",
    "train_circle_model",
]
