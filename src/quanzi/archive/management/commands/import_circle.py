"""quanzi manage import_circle <zip>: restore a circle export (see docs/storage.md)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from quanzi.archive.importer import ImportRefused, import_circle


class Command(BaseCommand):
    help = "Import a circle export zip (made by the owner's Export page) into this instance."

    def add_arguments(self, parser) -> None:
        parser.add_argument("zip", help="path of the export zip")

    def handle(self, *args, **options) -> None:
        try:
            result = import_circle(options["zip"])
        except ImportRefused as exc:
            raise CommandError(f"Not imported: {exc}") from None
        except FileNotFoundError:
            raise CommandError(f"Not imported: no such file {options['zip']}") from None
        self.stdout.write(self.style.SUCCESS(f"Imported circle {result.slug!r} (id {result.circle_id})."))
        for kind, count in result.counts.items():
            self.stdout.write(f"  {kind}: {count}")
        for kind, count in result.skipped.items():
            if count < 0:
                self.stdout.write(self.style.WARNING(f"  {kind}: not imported (this installation lacks the model)"))
            else:
                self.stdout.write(self.style.WARNING(f"  {kind}: {count} row(s) skipped (a required link was missing)"))
        if result.indexed:
            indexed = ", ".join(f"{kind} {count}" for kind, count in sorted(result.indexed.items()))
            self.stdout.write(f"  search index: {indexed}")
        self.stdout.write("People were imported without passwords: they set one with 'Forgot password'.")
