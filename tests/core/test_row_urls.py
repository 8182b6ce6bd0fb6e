"""``{% row_url %}`` gives exactly what ``{% url %}`` gives (core/templatetags/row_urls.py)."""

from __future__ import annotations

import pytest
from django.template import engines
from django.urls import NoReverseMatch, reverse

from quanzi.core.templatetags.row_urls import row_url

CASES = [
    ("feed", ("runners",)),
    ("feed_post", ("runners", 1)),
    ("feed_post", ("Run_ners-2", 987654321)),
    ("feed_post_edit", ("runners", 42)),
    ("feed_post_like", ("runners", 7)),
    ("feed_post_flag", ("runners", 7, "pin")),
    ("feed_post_flag", ("runners", 8, "unfeature")),
    ("feed_comment_delete", ("a-b", 2**62)),
    ("moderation_report", ("runners",)),
]


@pytest.mark.parametrize(("name", "args"), CASES)
def test_same_as_reverse(name, args):
    assert row_url(name, *args) == reverse(name, args=args)
    assert row_url(name, *args) == reverse(name, args=args)  # the cached route gives the same again


def test_many_ids_through_one_cached_route():
    for post_id in (1, 9, 10, 99, 100, 123456, 8675309):
        assert row_url("feed_post_flag", "runners", post_id, "pin") == reverse("feed_post_flag",
                                                                               args=["runners", post_id, "pin"])


def test_what_reverse_refuses_is_still_refused():
    with pytest.raises(NoReverseMatch):
        row_url("feed_post", "runners", -1)  # <int:…> takes no sign: no placeholder trick around that
    with pytest.raises(NoReverseMatch):
        row_url("no_such_route", "runners", 1)
    with pytest.raises(NoReverseMatch):
        row_url("feed_post", "runners")  # missing argument
    with pytest.raises(NoReverseMatch):
        row_url("feed_post", "跑步 club", 1)  # not a slug


def test_in_a_template_like_url():
    engine = engines["django"]
    source = ("{% load row_urls %}{% for i in ids %}"
              "{% row_url 'feed_post' slug i %} {% url 'feed_post' slug i %}|{% endfor %}")
    out = engine.from_string(source).render({"ids": [1, 2, 30], "slug": "run-ners_2"})
    for pair in out.rstrip("|").split("|"):
        mine, theirs = pair.split(" ")
        assert mine == theirs
