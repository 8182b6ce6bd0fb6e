"""Starting the same conversation from parallel connections makes exactly one (PostgreSQL only:
row locks are a no-op on SQLite, where writes are serialised anyway)."""

from __future__ import annotations

from collections import Counter

import pytest
from django.conf import settings
from racing import outcomes, race

from quanzi.chat import dms
from quanzi.chat.models import DmPair, Group, GroupKind, GroupMember
from quanzi.circles import actions as circle_actions

pytestmark = [
    pytest.mark.skipif(
        not settings.IS_POSTGRES,
        reason="row locks (select_for_update) are a no-op on SQLite; these races run against PostgreSQL "
        "(set QUANZI_DATABASE_URL, as the second `make test` pass does)",
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(60),
]


def test_two_people_starting_each_other_at_once_get_one_conversation(circle, make_user):
    pairs = []
    for i in range(5):
        a, b = make_user(f"a{i}"), make_user(f"b{i}")
        for user in (a, b):
            circle_actions.do_join_circle(user=user, circle=circle)
        pairs.append((a, b))
    for a, b in pairs:
        # Thread 0 starts a→b while thread 1 starts b→a: the two requests meet in the middle.
        results = race(2, lambda i, a=a, b=b: dms.do_start_dm(actor=(a, b)[i], circle=circle,
                                                              user_id=(b, a)[i].id).id, threads=2)
        assert [kind for kind, _value in results] == ["ok", "ok"], results
        assert results[0][1] == results[1][1]
    assert DmPair.objects.count() == 5
    assert Group.objects.filter(kind=GroupKind.DM).count() == 5
    assert GroupMember.objects.filter(group__kind=GroupKind.DM).count() == 10


def test_many_parallel_starts_of_one_pair(circle, member, make_user):
    other = make_user("other")
    circle_actions.do_join_circle(user=other, circle=circle)
    results = race(12, lambda i: dms.do_start_dm(actor=(member, other)[i % 2], circle=circle,
                                                   user_id=(other, member)[i % 2].id).id)
    assert outcomes(results) == Counter({"ok": 12}), results
    assert len({value for _kind, value in results}) == 1
    assert DmPair.objects.count() == 1 and Group.objects.filter(kind=GroupKind.DM).count() == 1

