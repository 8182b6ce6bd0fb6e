"""`quanzi manage moderation train|score`: the same tools as `quanzi moderation …` (which skips Django set-up)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Spam classifier tools: `train` (retrain the shipped model) or `score` (stdin lines → spam|ham<TAB>score)"

    def add_arguments(self, parser):
        parser.add_argument("args", nargs="*", help="train [--seed N] [--no-grid] | score [--model-dir DIR]")

    def run_from_argv(self, argv):
        # Pass everything after the command name through untouched (argparse in the classifier CLI parses it).
        from quanzi.moderation.classifier.cli import main

        code = main(argv[2:])
        if code:
            raise SystemExit(code)

    def handle(self, *args, **options):
        from quanzi.moderation.classifier.cli import main

        code = main(list(args))
        if code:
            raise CommandError(f"moderation {' '.join(args)} failed (exit status {code})")
