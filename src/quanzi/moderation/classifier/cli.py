"""`quanzi moderation train|score` — runs without Django so that `score` starts fast.

`score` contract (for scripts): UTF-8 text on stdin, one message per line; exactly one line per input line on
stdout, ``spam<TAB>score`` or ``ham<TAB>score``, in order, and nothing else (diagnostics go to stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _score(args: argparse.Namespace) -> int:
    from .model import ModelError, load

    try:
        clf = load(args.model_dir)
    except ModelError as exc:
        print(f"quanzi moderation score: {exc}", file=sys.stderr)
        return 2
    # Undecodable bytes become U+FFFD instead of aborting the run: every input line still gets its output line.
    stdin = open(sys.stdin.fileno(), encoding="utf-8", errors="replace", newline="\n", closefd=False)  # noqa: SIM115
    out = sys.stdout
    write = out.write
    for line in stdin:
        if line.endswith("\n"):
            line = line[:-1]
        if line.endswith("\r"):
            line = line[:-1]
        verdict = clf.score(line)
        write(f"{'spam' if verdict.is_spam else 'ham'}\t{verdict.score:.4f}\n")
    out.flush()
    return 0


def _train(args: argparse.Namespace) -> int:
    try:
        from .train import DATA_DIR, train
    except ImportError as exc:  # scikit-learn missing
        print(f"quanzi moderation train needs scikit-learn: pip install 'quanzi[train]' ({exc})", file=sys.stderr)
        return 2
    try:
        train(
            data_dir=Path(args.data_dir) if args.data_dir else DATA_DIR,
            out_dir=Path(args.model_dir) if args.model_dir else _default_model_dir(),
            seed=args.seed,
            grid=not args.no_grid,
            limit=args.limit,
        )
    except ImportError as exc:
        print(f"quanzi moderation train needs scikit-learn: pip install 'quanzi[train]' ({exc})", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"quanzi moderation train: {exc}", file=sys.stderr)
        return 2
    from .model import reset_classifier

    reset_classifier()
    return 0


def _default_model_dir() -> Path:
    from .model import MODEL_DIR

    return MODEL_DIR


def main(argv: list[str] | None = None) -> int:
    from .train import SEED

    parser = argparse.ArgumentParser(prog="quanzi moderation", description="Spam/ad classifier tools")
    sub = parser.add_subparsers(dest="action", required=True)
    score = sub.add_parser("score", help="score stdin lines: writes spam|ham<TAB>score per line")
    score.add_argument("--model-dir", default=None, help="model directory (default: the shipped model)")
    train = sub.add_parser("train", help="retrain the shipped model from the shipped data (deterministic)")
    train.add_argument("--seed", type=int, default=SEED)
    train.add_argument("--data-dir", default=None, help="training data directory (default: the shipped data)")
    train.add_argument("--model-dir", default=None, help="where to write the model (default: the shipped model)")
    train.add_argument("--no-grid", action="store_true", help="skip the dev-set grid search (fast, for tests)")
    train.add_argument("--limit", type=int, default=None, help="use only the first N lines of each split")
    args = parser.parse_args(argv)
    if args.action == "score":
        return _score(args)
    return _train(args)


if __name__ == "__main__":
    sys.exit(main())
