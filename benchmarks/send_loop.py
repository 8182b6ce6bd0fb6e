"""CPU and wall time of one chat message: a loop of ``do_send_message`` calls, no sockets.

The 500-member fan-out figure of ``make bench`` is bound by this per-message cost. Run it
in a throwaway database (it migrates and writes one circle)::

    QUANZI_DATA_DIR=$(mktemp -d) .venv/bin/python benchmarks/send_loop.py [N]

With ``QUANZI_DATABASE_URL`` it measures PostgreSQL instead (use a scratch database).
Each of three rounds sends N messages (default 500) the way the WebSocket does (a
``Group`` with only its ids, every other one with a client_id, which adds one lookup); the
best round is printed, with the statements of one send without a client_id.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quanzi.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from quanzi.accounts.models import User  # noqa: E402
from quanzi.chat import actions as chat_actions  # noqa: E402
from quanzi.chat.models import Group  # noqa: E402
from quanzi.circles import actions as circle_actions  # noqa: E402


def main(n: int) -> None:
    call_command("migrate", verbosity=0)
    owner = User.objects.create_user(username="loop-owner", email="owner@loop.invalid")
    circle = circle_actions.do_create_circle(owner=owner, name="Send loop", slug="send-loop")
    member = User.objects.create_user(username="loop-member", email="member@loop.invalid")
    circle_actions.do_join_circle(user=member, circle=circle)
    # One member's steady stream is what this measures: the anti-ad gate still screens every
    # message, but its flood control (10 messages in 15 s by default) would mute the member.
    from quanzi.moderation.actions import do_update_policy

    do_update_policy(actor=owner, circle=circle, flood_messages=0)

    def send(i: int) -> None:
        group = Group(id=circle.main_group_id, circle_id=circle.id)
        body, client_id = f"a plain chat message, number {i}", f"c{i}" if i % 2 else ""
        chat_actions.do_send_message(sender=member, group=group, body=body, client_id=client_id)

    for i in range(50):  # warm up
        send(-i - 1)
    with CaptureQueriesContext(connection) as queries:
        send(10**9)
    print(f"{len(queries.captured_queries)} statements per send ({connection.vendor}):")
    for query in queries.captured_queries:
        print("   ", query["sql"][:110])
    best: tuple[float, float] | None = None
    for round_ in range(3):
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            send(round_ * n + i)
        result = ((time.perf_counter() - wall) / n * 1e3, (time.process_time() - cpu) / n * 1e3)
        print(f"round {round_ + 1}: {result[0]:.3f} ms wall, {result[1]:.3f} ms CPU per send")
        best = result if best is None or result[1] < best[1] else best
    print(f"best: {best[0]:.3f} ms wall, {best[1]:.3f} ms CPU per send")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
