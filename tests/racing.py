"""Running one action from many threads at once, for the PostgreSQL race tests.

Each thread has its own database connection (closed at the end); all are released
together by a barrier. A domain refusal is recorded as ``("error", code)`` and anything
else raised (e.g. PostgreSQL's "deadlock detected") as ``("crash", repr)``, so it shows up
in the test's assertion instead of vanishing in a thread.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.db import connection

from quanzi.core.errors import QuanziError

# Connections in flight: the local server allows 100 and other test runs may share it.
MAX_THREADS = 25


def race(
    total: int, action: Callable[[int], Any], *, threads: int = MAX_THREADS, raw: bool = False,
    join_timeout: float = 100,
) -> list[Any]:
    """Run ``action(i)`` for i in range(total) and return the outcomes in order of i.

    Outcomes are ``("ok", value)`` / ``("error", code)`` / ``("crash", repr)``; with
    ``raw`` a successful call's own return value is kept as is.
    """
    threads = min(threads, total)
    barrier = threading.Barrier(threads)
    results: list[Any] = [("missing", None)] * total

    def run(worker: int) -> None:
        try:
            barrier.wait(timeout=20)
            for i in range(worker, total, threads):
                try:
                    value = action(i)
                    results[i] = value if raw else ("ok", value)
                except QuanziError as error:
                    results[i] = ("error", error.code)
                except Exception as error:  # noqa: BLE001 - a crash must show up in the assertion
                    results[i] = ("crash", repr(error))
        finally:
            connection.close()

    workers = [threading.Thread(target=run, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=join_timeout)
    assert not any(w.is_alive() for w in workers), "a racing thread hung (deadlock?)"
    return results


def outcomes(results: list[tuple[str, Any]]) -> Counter:
    """``ok`` counts plus ``error:<code>`` / ``crash:<repr>`` counts."""
    return Counter(kind if kind == "ok" else f"{kind}:{value}" for kind, value in results)
