"""``quanzi manage settle_challenge <id>``: (re)run the deposit settlement of one challenge.

Safe to run any number of times, also after a worker died midway: members already paid are
skipped, the rest are paid once (see ``quanzi.checkins.settlement``). Refuses before the last
day's window has closed unless ``--force``. Exits non-zero if the final check finds a mismatch.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from quanzi.core.errors import QuanziError


class Command(BaseCommand):
    help = "Settle (or finish settling) the deposits of a check-in challenge; idempotent."
    requires_system_checks = []  # an operational rerun must not depend on unrelated checks (URLs, templates)

    def add_arguments(self, parser) -> None:
        parser.add_argument("challenge_id", type=int)
        parser.add_argument("--force", action="store_true",
                            help="settle even though the last day's window has not closed yet")

    def handle(self, *args, challenge_id: int, force: bool = False, **options) -> None:
        from quanzi.checkins.settlement import settle_challenge

        try:
            result = settle_challenge(challenge_id, force=force)
        except QuanziError as error:
            raise CommandError(f"{error.code}: {error.message}")
        if result.status == "not_ended":
            raise CommandError(f"challenge {challenge_id} has not ended yet (its last window is still to close); "
                               "use --force to settle now")
        if result.problems:
            raise CommandError("settlement does not add up: " + "; ".join(result.problems))
        self.stdout.write(self.style.SUCCESS(
            f"challenge {challenge_id}: {result.status}; paid {result.paid_now} member(s) now, "
            f"{result.skipped} already paid earlier"
        ))
