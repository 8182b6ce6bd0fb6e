"""Django's PostgreSQL backend, minus a round trip per request under load.

With ``CONN_HEALTH_CHECKS`` Django runs ``SELECT 1`` before the first query of *every* request that reuses
a connection: one extra round trip each time (a check-in is 3 statements plus this one). A connection that
finished a request without errors a moment ago is as good as checked, so the check runs only when the
connection has been idle for ``HEALTH_CHECK_AFTER_IDLE`` seconds (a database restart is noticed by the
first request after a pause, as before). If the server went away within that moment, that request fails
as it would without health checks, and Django drops the connection at its end.
"""

from __future__ import annotations

import time

from django.db.backends.postgresql import base

HEALTH_CHECK_AFTER_IDLE = 2.0  # seconds


class DatabaseWrapper(base.DatabaseWrapper):
    _proven_at: float | None = None  # monotonic time a request ended on this connection without errors

    def connect(self) -> None:
        self._proven_at = None
        super().connect()

    def close_if_health_check_failed(self) -> None:
        if (self.connection is not None and not self.health_check_done and self._proven_at is not None
                and time.monotonic() - self._proven_at < HEALTH_CHECK_AFTER_IDLE):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def close_if_unusable_or_obsolete(self) -> None:
        # Called as a request starts and ends. ``health_check_done`` is True here only if this request
        # used the connection (it is reset below); then its statements succeeded unless errors_occurred.
        # After errors, Django checks the connection itself (and sets health_check_done if it passed).
        used = self.connection is not None and self.health_check_done and not self.errors_occurred
        super().close_if_unusable_or_obsolete()
        if self.connection is not None and (used or self.health_check_done):
            self._proven_at = time.monotonic()
