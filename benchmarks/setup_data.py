"""Create the benchmark circle fast: one owner, N members in the main group, an API token each.

Runs in its own process against the server's database (same environment as the
server). Reads the raw tokens from the JSON file given as argument
(``{"owner": "...", "members": [...]}``) and prints ``{"circle_id", "group_id"}``.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quanzi.settings")

import django  # noqa: E402

django.setup()

from django.db import transaction  # noqa: E402

from quanzi.accounts.models import ApiToken, User, hash_token  # noqa: E402
from quanzi.chat.models import GroupMember  # noqa: E402
from quanzi.circles import actions as circle_actions  # noqa: E402
from quanzi.circles.models import Circle, Membership, MembershipStatus, Role  # noqa: E402


def token_row(user_id: int, raw: str) -> ApiToken:
    return ApiToken(user_id=user_id, name="bench", key_hash=hash_token(raw), key_prefix=raw[:10])


def main(path: str) -> None:
    tokens = json.loads(open(path).read())
    owner = User.objects.create_user(username="bench-owner", email="owner@bench.invalid")
    circle = circle_actions.do_create_circle(owner=owner, name="Benchmark", slug="bench")
    members = tokens["members"]
    with transaction.atomic():
        users = User.objects.bulk_create(
            [User(username=f"bench{i:05d}", password="!", email="") for i in range(len(members))], batch_size=500
        )
        if any(u.id is None for u in users):  # backends without RETURNING
            users = list(User.objects.filter(username__startswith="bench0").order_by("username"))
        Membership.objects.bulk_create(
            [Membership(circle=circle, user=u, role=Role.MEMBER, status=MembershipStatus.ACTIVE) for u in users],
            batch_size=500,
        )
        GroupMember.objects.bulk_create(
            [GroupMember(group_id=circle.main_group_id, user=u) for u in users], batch_size=500
        )
        ApiToken.objects.bulk_create(
            [token_row(owner.id, tokens["owner"])] + [token_row(u.id, raw) for u, raw in zip(users, members)],
            batch_size=500,
        )
        Circle.objects.filter(id=circle.id).update(member_count=len(users) + 1)
    print(json.dumps({"circle_id": circle.id, "group_id": circle.main_group_id}))


if __name__ == "__main__":
    main(sys.argv[1])
