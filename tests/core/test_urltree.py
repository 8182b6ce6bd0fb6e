"""Nesting routes by segment resolves every path exactly as the flat list did (core/urltree.py)."""

from __future__ import annotations

import re

import pytest
from django.urls import NoReverseMatch, URLResolver, include, path, resolve, reverse
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RoutePattern

from quanzi.api import fastfeed
from quanzi.api.api import api
from quanzi.core.urltree import nest_routes


def view(name):
    def _view(request, **kwargs):
        return name

    _view.__name__ = name
    return _view


def flat_and_nested(patterns):
    flat = URLResolver(RoutePattern(""), [path("x/", include(patterns))])
    nested = URLResolver(RoutePattern(""), [path("x/", include(nest_routes(patterns)))])
    return flat, nested


def outcome(resolver, p):
    try:
        m = resolver.resolve(p)
    except Resolver404:
        return None
    return m.url_name, m.kwargs, m.route


SAMPLES = ("7", "x7", "circles", "posts", "me", "a-b", "中文")


def sample_paths(route: str) -> list[str]:
    route = route.replace("<path:unknown>", "a/b/c")
    return [re.sub(r"<(?:\w+:)?\w+>", value, route) for value in SAMPLES] + [route + "/extra", route.rstrip("/") + "x"]


def test_every_api_route_resolves_as_before():
    patterns, app_name, namespace = api.urls
    flat = URLResolver(RoutePattern(""), [path("api/", (patterns, app_name, namespace))])
    checked = 0
    for pattern in patterns:
        for sample in sample_paths(pattern.pattern._route):
            try:
                mine = resolve("/api/" + sample)
                # The feed page's fast lane (api/fastfeed.py) answers list_posts' paths before the API's
                # routes, and hands everything it doesn't take to list_posts' view.
                name = fastfeed.ROUTE_NAME if mine.url_name == fastfeed.LANE_NAME else mine.url_name
                mine = (name, mine.kwargs, mine.route)
            except Resolver404:
                mine = None
            assert mine == outcome(flat, "api/" + sample), sample
            checked += 1
    assert checked > 1000


def test_the_api_is_actually_nested_and_still_reverses():
    from quanzi import urls

    api_include = next(p for p in urls.urlpatterns if str(p.pattern) == "api/")
    assert len(api_include.url_patterns) < 40  # was ~130 flat routes
    assert reverse("api:check_in", kwargs={"challenge_id": 7}) == "/api/challenges/7/checkins"
    assert reverse("api:list_posts", kwargs={"slug": "runners"}) == "/api/circles/runners/posts"
    assert resolve("/api/challenges/7/checkins").url_name == "check_in"
    assert resolve("/api/no/such/thing").url_name == "unknown_path"


def test_groups_of_literals_and_a_shared_converter_are_nested():
    patterns = [path(f"a/<slug>/{leaf}", view(f"a-{leaf}"), name=f"a-{leaf}") for leaf in "pqrst"]
    patterns += [path("a", view("a"), name="a"), path("b/1", view("b1"), name="b1")]
    flat, nested = flat_and_nested(patterns)
    nested_list = nest_routes(patterns)
    assert len(nested_list) == 3  # a/ (include), a, b/1 (a group of one stays flat)
    for leaf in "pqrst":
        assert outcome(nested, f"x/a/s1/{leaf}") == outcome(flat, f"x/a/s1/{leaf}") == (
            f"a-{leaf}", {"slug": "s1"}, f"x/a/<slug>/{leaf}")
    assert outcome(nested, "x/a") == outcome(flat, "x/a")
    assert outcome(nested, "x/b/1") == outcome(flat, "x/b/1")
    assert outcome(nested, "x/a/s1") is None


def test_mixed_literal_and_converter_segments_keep_their_order():
    # "<slug>/p" comes first and would catch "mine/p"; nesting by segment could reorder them, so it isn't done.
    patterns = [path(f"<slug>/{leaf}", view(f"slug-{leaf}"), name=f"slug-{leaf}") for leaf in "pqrs"]
    patterns += [path(f"mine/{leaf}", view(f"mine-{leaf}"), name=f"mine-{leaf}") for leaf in "pqrs"]
    assert nest_routes(patterns) == patterns
    flat, nested = flat_and_nested(patterns)
    assert outcome(nested, "x/mine/p") == outcome(flat, "x/mine/p") == ("slug-p", {"slug": "mine"}, "x/<slug>/p")


def test_a_catch_all_route_and_what_follows_stay_in_place():
    patterns = [path(f"a/{leaf}", view(f"a-{leaf}"), name=f"a-{leaf}") for leaf in "pq"]
    patterns += [path("<path:rest>", view("all"), name="all")]
    patterns += [path(f"a/{leaf}", view(f"late-{leaf}"), name=f"late-{leaf}") for leaf in "rstu"]
    nested = nest_routes(patterns)
    assert nested[-5:] == patterns[-5:]
    flat, nested_resolver = flat_and_nested(patterns)
    for p in ("x/a/p", "x/a/r", "x/zzz/1"):
        assert outcome(nested_resolver, p) == outcome(flat, p)
    assert outcome(nested_resolver, "x/a/r")[0] == "all"


def test_unknown_names_still_fail_to_reverse():
    with pytest.raises(NoReverseMatch):
        reverse("api:no_such_operation")
