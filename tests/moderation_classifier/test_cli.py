"""`quanzi moderation score`: the contract scripts rely on."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.db_independent  # no database or Redis: make test runs it in the SQLite pass only

LINE = re.compile(r"^(spam|ham)\t(0(\.\d+)?|1(\.0+)?)$")


def run(args, data: bytes):
    return subprocess.run(
        [sys.executable, "-m", "quanzi.cli", "moderation", *args], input=data, capture_output=True, timeout=120
    )


def test_one_line_per_input_line_in_order():
    lines = [
        "兼职刷单，日结300，加V：sx111505",
        "",
        "周六早上8点集合跑步，报名请回复",
        "   ",
        "I made $8,000 in 5 days thanks to @trader_amy, DM her now",
        "x" * 50_000,
        "Book club is on Thursday at 7pm",
    ]
    proc = run(["score"], ("\n".join(lines) + "\n").encode())
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode().split("\n")
    assert out[-1] == ""
    out = out[:-1]
    assert len(out) == len(lines)
    assert all(LINE.match(line) for line in out), out
    assert out[0].startswith("spam\t") and out[2].startswith("ham\t") and out[4].startswith("spam\t")


def test_last_line_without_newline_crlf_and_bad_bytes():
    proc = run(["score"], b"hello\r\nbad \xff\xfe bytes \x00\nno newline at end")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode().splitlines()
    assert len(out) == 3 and all(LINE.match(line) for line in out)


def test_empty_input_gives_empty_output():
    proc = run(["score"], b"")
    assert proc.returncode == 0 and proc.stdout == b""


def test_missing_model_is_a_clear_error_on_stderr(tmp_path):
    proc = run(["score", "--model-dir", str(tmp_path)], b"hello\n")
    assert proc.returncode == 2
    assert proc.stdout == b""
    assert b"missing" in proc.stderr and b"quanzi moderation train" in proc.stderr


def test_usage_errors():
    proc = run([], b"")
    assert proc.returncode == 2 and proc.stdout == b""
