"""``quanzi manage ledger_verify``: check the cached balances and transaction sums against the entries.

Exits non-zero when anything disagrees, so it can run from cron or a deploy check. It is a
command rather than a system check because it reads every entry, which ``check`` (run by
every ``migrate`` and ``runserver``) must not do.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from quanzi.ledger import services


class Command(BaseCommand):
    help = "Verify the ledger: cached balances equal the entry sums, every transaction sums to zero."

    def handle(self, *args, **options) -> None:
        problems = 0
        for mismatch in services.verify_balances():
            problems += 1
            self.stdout.write(
                f"account {mismatch.account_id} ({mismatch.kind}, {mismatch.currency}): cached balance "
                f"{mismatch.cached_balance} / {mismatch.cached_count} entries, entries say "
                f"{mismatch.entry_sum} / {mismatch.entry_count}"
            )
        for unbalanced in services.verify_transactions():
            problems += 1
            self.stdout.write(
                f"transaction {unbalanced.transaction_id}: {unbalanced.currency} entries sum to {unbalanced.total}"
            )
        for currency, total in services.currency_totals().items():
            if total != 0:
                problems += 1
                self.stdout.write(f"currency {currency}: all balances sum to {total}, not 0")
        if problems:
            raise CommandError(f"ledger verification found {problems} problem(s)")
        self.stdout.write(self.style.SUCCESS("ledger OK"))
