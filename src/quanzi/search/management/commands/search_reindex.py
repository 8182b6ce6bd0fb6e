"""``quanzi manage search_reindex [--circle SLUG] [--kind KIND …]``: rebuild the search index."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from quanzi.circles.models import Circle
from quanzi.search.actions import reindex
from quanzi.search.rules import KINDS


class Command(BaseCommand):
    help = "Rebuild the search index from the content tables (all circles, or one)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--circle", help="the circle's address (slug); all circles if left out")
        parser.add_argument("--kind", action="append", choices=KINDS, help="only this kind (repeatable)")

    def handle(self, *args, circle: str | None = None, kind: list[str] | None = None, **options) -> None:
        circle_id = None
        if circle:
            found = Circle.objects.filter(slug=circle).values_list("id", flat=True).first()
            if found is None:
                raise CommandError(f"No circle with the address {circle!r}.")
            circle_id = found
        counts = reindex(circle_id, kinds=kind)
        for name, count in counts.items():
            self.stdout.write(f"{name}: {count}")
        self.stdout.write(self.style.SUCCESS(f"Indexed {sum(counts.values())} documents."))
