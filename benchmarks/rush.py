"""`make bench`: the morning check-in rush, against a bare one-INSERT Django view on the same server.

5,000 members check in over HTTP (``POST /api/challenges/<id>/checkins`` with their bearer
tokens) through 64 concurrent keep-alive connections, on SQLite and on PostgreSQL. In the
same run and on the same ``quanzi run`` server, the baseline is a bare Django view doing
one INSERT (``/bench/bare-insert/``, mounted only with ``QUANZI_BENCH_URLS=1``), driven by
the same client with the same connections and request count. Runs alternate baseline /
check-ins; the table shows medians of the runs (each check-in run uses its own challenge,
so every request is a real first check-in of the day).

Targets (issue 6 §4): check-ins/s >= 0.5 x the bare-insert rate, 0 errors or timeouts;
PostgreSQL >= 500 check-ins/s with p99 <= 250 ms; SQLite >= 300/s with p99 <= 500 ms.
Also printed (info): the daily board's and a calendar's server time at 1,000 and 10,000
participants, which must not grow with the challenge.

Options: --quick (one run each), --members N, --keep. The PostgreSQL rows are skipped with
a message when PostgreSQL is unreachable. ``rush.py --setup FILE`` is the data loader the
benchmark runs in a subprocess with the server's environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse, urlunparse

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import redis_ok, tree_cpu_seconds  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
HOST = "127.0.0.1"
CONNECTIONS = 64
REQUEST_TIMEOUT = 10.0
CIRCLE_TZ = "Asia/Shanghai"


# --- data setup (runs in a subprocess with Django configured) --------------------------------


def setup(spec_path: str) -> None:
    """Bulk-create the circle, members, tokens, challenges and participants; print the ids as JSON."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quanzi.settings")
    import django

    django.setup()
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from quanzi.accounts.models import ApiToken, User, hash_token
    from quanzi.checkins import actions
    from quanzi.checkins.models import Participant
    from quanzi.checkins.schedule import zone
    from quanzi.circles import actions as circle_actions
    from quanzi.circles.models import Circle, Membership, MembershipStatus, Role

    spec = json.loads(Path(spec_path).read_text())
    tokens: list[str] = spec["tokens"]
    now = timezone.now()
    owner = User.objects.create_user(username="rush-owner", email="owner@bench.invalid")
    circle = circle_actions.do_create_circle(owner=owner, name="Rush", slug="rush", timezone_name=CIRCLE_TZ)
    with transaction.atomic():
        users = User.objects.bulk_create(
            [User(username=f"rush{i:05d}", password="!", email="") for i in range(len(tokens))], batch_size=1000)
        if any(u.id is None for u in users):
            users = list(User.objects.filter(username__startswith="rush0").order_by("username"))
        Membership.objects.bulk_create(
            [Membership(circle=circle, user=u, role=Role.MEMBER, status=MembershipStatus.ACTIVE,
                        onboarding_done=True) for u in users], batch_size=1000)
        # Members opened the app before checking in, so their tokens were used moments ago
        # (ApiToken.last_used_at is refreshed at most every 5 minutes).
        ApiToken.objects.bulk_create(
            [ApiToken(user=u, name="rush", key_hash=hash_token(raw), key_prefix=raw[:10], last_used_at=now)
             for u, raw in zip(users, tokens, strict=True)], batch_size=1000)
        Circle.objects.filter(id=circle.id).update(member_count=len(users) + 1)
    # A window open now (opened an hour ago, closes in three: it may cross midnight, which is allowed).
    local = now.astimezone(zone(CIRCLE_TZ))
    opens, closes = local - timedelta(hours=1), local + timedelta(hours=3)
    challenge_ids = []
    for run in range(spec["challenges"]):
        challenge = actions.do_create_challenge(
            actor=owner, circle=circle, title=f"Rush {run}", start_date=opens.date(),
            end_date=opens.date() + timedelta(days=6), window_start=opens.time().replace(second=0, microsecond=0),
            window_end=closes.time().replace(second=0, microsecond=0), now=now - timedelta(days=1),
        )
        Participant.objects.bulk_create(
            [Participant(challenge=challenge, user=u, joined_at=now - timedelta(days=1)) for u in users],
            batch_size=1000)
        challenge_ids.append(challenge.id)
    boards = board_timings(owner, circle, users, now) if spec.get("boards") else {}
    print(json.dumps({"challenges": challenge_ids, "boards": boards}))


def board_timings(owner, circle, users, now) -> dict:
    """Server time of the daily board and a calendar at 1,000 and 10,000 participants (info rows)."""
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from quanzi.accounts.models import User
    from quanzi.checkins import actions, selectors
    from quanzi.checkins.models import CheckIn, Participant

    extra = User.objects.bulk_create(
        [User(username=f"rushx{i:05d}", password="!", email="") for i in range(max(0, 10_000 - len(users)))],
        batch_size=1000)
    everyone = list(users) + list(extra)
    out = {}
    for size in (1000, 10_000):
        challenge = actions.do_create_challenge(
            actor=owner, circle=circle, title=f"Board {size}", start_date=(now - timedelta(days=40)).date(),
            end_date=(now + timedelta(days=20)).date(), window_start=__import__("datetime").time(0, 0),
            window_end=__import__("datetime").time(23, 59), now=now - timedelta(days=41))
        parts = Participant.objects.bulk_create(
            [Participant(challenge=challenge, user=u, joined_at=now - timedelta(days=41)) for u in everyone[:size]],
            batch_size=1000)
        if any(p.id is None for p in parts):
            parts = list(Participant.objects.filter(challenge=challenge).order_by("id"))
        day = selectors.board_day(challenge, now)
        # 30 past days of check-ins by everyone, today by half.
        rows = []
        for back in range(30, 0, -1):
            d = day - timedelta(days=back)
            rows += [CheckIn(challenge=challenge, participant=p, user_id=p.user_id, day=d,
                             created_at=now - timedelta(days=back)) for p in parts]
        rows += [CheckIn(challenge=challenge, participant=p, user_id=p.user_id, day=day, created_at=now)
                 for p in parts[::2]]
        CheckIn.objects.bulk_create(rows, batch_size=2000)
        if connection.vendor == "postgresql":  # what autovacuum does after a bulk load: fresh planner statistics
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        times, queries = [], 0
        for _ in range(20):
            t0 = time.perf_counter()
            with CaptureQueriesContext(connection) as ctx:
                selectors.board(challenge, day)
                selectors.calendar(challenge, parts[-1], now)
            times.append((time.perf_counter() - t0) * 1000)
            queries = len(ctx.captured_queries)
        out[str(size)] = {"ms": statistics.median(times), "queries": queries}
    return out


# --- a lean keep-alive HTTP/1.1 client ---------------------------------------------------------


@dataclass
class Result:
    latencies: list[float]
    errors: int
    timeouts: int
    statuses: dict[int, int]
    seconds: float
    cpu_ms: float = 0.0  # server CPU (user + system, all threads) per request


    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:].strip())
    if length:
        await reader.readexactly(length)
    return status


async def drive(port: int, requests: list[bytes], connections: int = CONNECTIONS) -> Result:
    """Send every request once over ``connections`` keep-alive sockets; 2xx counts as success."""
    queue = list(reversed(requests))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = timeouts = 0

    async def worker() -> None:
        nonlocal errors, timeouts
        reader = writer = None
        while queue:
            raw = queue.pop()
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            t0 = time.perf_counter()
            try:
                writer.write(raw)
                status = await asyncio.wait_for(_read_response(reader), REQUEST_TIMEOUT)
            except TimeoutError:
                timeouts += 1
                writer.close()
                reader = writer = None
                continue
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                writer.close()
                reader = writer = None
                continue
            statuses[status] = statuses.get(status, 0) + 1
            if 200 <= status < 300:
                latencies.append(time.perf_counter() - t0)
            else:
                errors += 1
        if writer is not None:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return Result(latencies, errors, timeouts, statuses, time.perf_counter() - t0)


def post(path: str, body: bytes, token: str, port: int) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


# --- servers -----------------------------------------------------------------------------------


async def measured(pid: int, port: int, requests: list[bytes]) -> Result:
    before = tree_cpu_seconds(pid)
    result = await drive(port, requests)
    result.cpu_ms = (tree_cpu_seconds(pid) - before) * 1000 / max(1, len(requests))
    return result


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def base_env(data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANZI_")}
    env.update(QUANZI_DATA_DIR=str(data_dir), QUANZI_SECRET_KEY="bench-" + secrets.token_urlsafe(32),
               QUANZI_HTTPS="0", QUANZI_ALLOWED_HOSTS="127.0.0.1,localhost", QUANZI_LOG_LEVEL="WARNING",
               QUANZI_BENCH_URLS="1", DJANGO_SETTINGS_MODULE="quanzi.settings")
    return env


def run_py(argv: list[str], env: dict, timeout: float = 600) -> str:
    done = subprocess.run([PY, *argv], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout


async def wait_listening(proc: subprocess.Popen, port: int, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            _r, w = await asyncio.open_connection(HOST, port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise RuntimeError("server did not start listening")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@dataclass
class Row:
    name: str
    ours: str
    base: str
    ratio: str
    target: str
    result: str


async def scenario(label: str, env: dict, workdir: Path, args, log, boards: bool,
                   workers: int = 1) -> tuple[list[Row], list[str]]:
    """Migrate, load data, start ``quanzi run``, alternate baseline and check-in runs, make the rows."""
    runs = 1 if args.quick else 3
    tokens = [f"qz_rush{i:05d}" + secrets.token_hex(12) for i in range(args.members)]
    spec = workdir / f"spec-{label}.json"
    spec.write_text(json.dumps({"tokens": tokens, "challenges": runs + 1, "boards": boards}))
    t0 = time.monotonic()
    run_py(["-m", "django", "migrate", "--no-input", "-v", "0"], env)
    ids = json.loads(run_py([str(Path(__file__).resolve()), "--setup", str(spec)], env).strip().splitlines()[-1])
    log(f"{label}: database ready in {time.monotonic() - t0:.1f}s ({args.members} members, {runs + 1} challenges)")
    port = free_port()
    server_log = workdir / f"server-{label}.log"
    with open(server_log, "wb") as handle:
        proc = subprocess.Popen([PY, "-m", "quanzi.cli", "run", "--host", HOST, "--port", str(port),
                                 "--log-level", "warning", "--workers", str(workers)], env=env, cwd=ROOT,
                                stdout=handle, stderr=subprocess.STDOUT)
    notes: list[str] = []
    try:
        await wait_listening(proc, port, server_log)
        body = json.dumps({"text": "早起打卡 ☀️ day one"}, ensure_ascii=False).encode()
        bare = [post("/bench/bare-insert/", body, tokens[i], port) for i in range(args.members)]

        def checkins(challenge_id: int) -> list[bytes]:
            return [post(f"/api/challenges/{challenge_id}/checkins", body, tokens[i], port)
                    for i in range(args.members)]

        # Warm-up: imports, connections, caches (one challenge is spent on it).
        await drive(port, bare[:300])
        await drive(port, checkins(ids["challenges"][0])[:300])
        base_results, ours_results = [], []
        for run in range(runs):
            b = await measured(proc.pid, port, bare)
            o = await measured(proc.pid, port, checkins(ids["challenges"][run + 1]))
            log(f"{label} run {run + 1}: bare insert {b.rate:.0f}/s p99 {b.pct(99):.0f} ms {b.cpu_ms:.2f} ms CPU/req "
                f"errors {b.errors}+{b.timeouts}; check-ins {o.rate:.0f}/s p50 {o.pct(50):.0f} ms p99 {o.pct(99):.0f} "
                f"ms {o.cpu_ms:.2f} ms CPU/req errors {o.errors}+{o.timeouts} statuses {o.statuses}; "
                f"load {os.getloadavg()[0]:.1f}")
            base_results.append(b)
            ours_results.append(o)
    finally:
        stop(proc)

    def med(results: list[Result], fn) -> float:
        return statistics.median(fn(r) for r in results)

    o_rate, b_rate = med(ours_results, lambda r: r.rate), med(base_results, lambda r: r.rate)
    o50, o99 = med(ours_results, lambda r: r.pct(50)), med(ours_results, lambda r: r.pct(99))
    b50, b99 = med(base_results, lambda r: r.pct(50)), med(base_results, lambda r: r.pct(99))
    failures = sum(r.errors + r.timeouts for r in ours_results)
    min_rate, max_p99 = (500, 250) if label == "PostgreSQL" else (300, 500)
    ratio = o_rate / b_rate if b_rate else 0.0
    rows = [
        Row(f"{label}: check-ins/s vs bare INSERT", f"{o_rate:,.0f}/s", f"{b_rate:,.0f}/s", f"{ratio:.2f}x",
            ">= 0.50x", "PASS" if ratio >= 0.5 else "FAIL"),
        Row(f"{label}: check-ins/s", f"{o_rate:,.0f}/s", "", "", f">= {min_rate}/s",
            "PASS" if o_rate >= min_rate else "FAIL"),
        Row(f"{label}: p99 latency", f"{o99:.0f} ms", f"{b99:.0f} ms", f"{o99 / b99:.2f}x" if b99 else "",
            f"<= {max_p99} ms", "PASS" if o99 <= max_p99 else "FAIL"),
        Row(f"{label}: p50 latency", f"{o50:.0f} ms", f"{b50:.0f} ms", f"{o50 / b50:.2f}x" if b50 else "",
            "(info)", ""),
        Row(f"{label}: server CPU per request", f"{med(ours_results, lambda r: r.cpu_ms):.2f} ms",
            f"{med(base_results, lambda r: r.cpu_ms):.2f} ms",
            f"{med(ours_results, lambda r: r.cpu_ms) / max(1e-9, med(base_results, lambda r: r.cpu_ms)):.2f}x",
            "(info)", ""),
        Row(f"{label}: errors + timeouts", str(failures), str(sum(r.errors + r.timeouts for r in base_results)),
            "", "0", "PASS" if failures == 0 else "FAIL"),
    ]
    for size, figures in (ids.get("boards") or {}).items():
        rows.append(Row(f"{label}: board + calendar, {int(size):,} participants", f"{figures['ms']:.1f} ms",
                        "", "", f"(info, {figures['queries']} queries)", ""))
    server = "one `quanzi run` process" if workers == 1 else f"`quanzi run --workers {workers}` (Redis)"
    notes.append(f"{label}: {args.members} check-ins per run over {CONNECTIONS} keep-alive connections, {runs} "
                 f"run(s) alternating with the baseline, medians shown; {server}; load average at the end "
                 f"{os.getloadavg()[0]:.1f} (other processes on the machine skew absolute figures, not ratios).")
    return rows, notes


def postgres_admin(url: str):
    import psycopg

    parsed = urlparse(url)
    return psycopg.connect(urlunparse(parsed._replace(path="/postgres")), autocommit=True, connect_timeout=3)


async def main_async(args, log) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    notes: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="quanzi-rush-"))
    try:
        if not args.postgres_only:
            env = base_env(workdir / "sqlite")
            if args.http_threads:
                env["QUANZI_HTTP_THREADS"] = str(args.http_threads)
            r, n = await scenario("SQLite", env, workdir, args, log, boards=args.boards)
            rows += r
            notes += n
        pg_url = os.environ.get("QUANZI_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/quanzi"
        try:
            admin = postgres_admin(pg_url)
        except Exception as exc:  # noqa: BLE001 - any failure means "skip with the reason"
            rows.append(Row("PostgreSQL", "skipped", "", "", "", "SKIP"))
            notes.append(f"PostgreSQL rows skipped: unreachable ({exc.__class__.__name__}).")
            return rows, notes
        if args.sqlite_only:
            admin.close()
            return rows, notes
        db_name = f"quanzi_rush_{os.getpid()}_{secrets.token_hex(3)}"
        try:
            admin.execute(f'CREATE DATABASE "{db_name}"')
            env = base_env(workdir / "pg")
            if args.http_threads:
                env["QUANZI_HTTP_THREADS"] = str(args.http_threads)
            # HTTP requests run in a fixed thread pool (QUANZI_HTTP_THREADS, 8), each thread keeping
            # its connection (CONN_MAX_AGE, the production default 60).
            env.update(QUANZI_DATABASE_URL=urlunparse(urlparse(pg_url)._replace(path="/" + db_name)),
                       QUANZI_DB_CONN_MAX_AGE=str(args.pg_conn_max_age))
            workers = 1
            redis_url = os.environ.get("QUANZI_REDIS_URL") or "redis://127.0.0.1:6379/0"
            if args.pg_workers > 1 and redis_ok(redis_url):
                # PostgreSQL deployments run one server process per core, sharing events through Redis.
                env.update(QUANZI_REDIS_URL=redis_url, QUANZI_REDIS_PREFIX="quanzi-rush-" + secrets.token_hex(4))
                workers = args.pg_workers
            r, n = await scenario("PostgreSQL", env, workdir, args, log, boards=args.boards, workers=workers)
            rows += r
            notes += n
        finally:
            try:
                admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            finally:
                admin.close()
    finally:
        if args.keep:
            notes.append(f"Logs kept in {workdir}.")
        else:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    return rows, notes


def print_table(rows: list[Row], notes: list[str]) -> None:
    header = Row("metric", "check-ins", "bare INSERT", "ratio", "target", "result")
    widths = [max(len(getattr(r, f)) for r in [header, *rows]) for f in ("name", "ours", "base", "ratio", "target",
                                                                         "result")]

    def line(r: Row) -> str:
        cells = [r.name, r.ours, r.base, r.ratio, r.target, r.result]
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    for note in notes:
        print(f"- {note}")


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--setup":
        setup(sys.argv[2])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run per figure instead of three")
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--no-boards", dest="boards", action="store_false",
                        help="skip the board/calendar timing at 1,000 and 10,000 participants")
    parser.add_argument("--pg-workers", type=int, default=2,
                        help="server processes on PostgreSQL (one per core; more than 1 needs Redis)")
    parser.add_argument("--pg-conn-max-age", type=int, default=60, help="QUANZI_DB_CONN_MAX_AGE on PostgreSQL")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--http-threads", type=int, default=0,
                        help="QUANZI_HTTP_THREADS of the servers (default: the server's own default, 8)")
    parser.add_argument("--postgres-only", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (server logs)")
    args = parser.parse_args()
    started = time.monotonic()

    def log(msg: str) -> None:
        print(f"[{time.monotonic() - started:5.1f}s] {msg}", flush=True)

    try:
        rows, notes = asyncio.run(main_async(args, log))
    except Exception:
        traceback.print_exc()
        return 1
    print_table(rows, notes)
    return 1 if any(r.result == "FAIL" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
