"""A lone "v" is a WeChat lure only before an id, never as the first letter of an ordinary word."""

from __future__ import annotations

import pytest

from quanzi.moderation.classifier import normalise


@pytest.mark.parametrize("text", ["visible", "the victory parade", "version 2 is out", "vintage bikes", "v8 engine"])
def test_words_starting_with_v_are_not_wechat(text):
    assert "⟨wechat⟩" not in normalise(text)


@pytest.mark.parametrize("text", ["v：hy20240818", "V: abc12345", "v sx111505", "请加v hy2024081"])
def test_lone_v_before_an_id_is_wechat(text):
    assert "⟨wechat⟩" in normalise(text)
