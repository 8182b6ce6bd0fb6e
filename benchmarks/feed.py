"""`make bench`: reading the feed deep in a 100,000-post circle, against a bare hello view on the same server.

Builds a fresh database (SQLite by default; PostgreSQL too when reachable at
``QUANZI_BENCH_DATABASE_URL`` or postgres://postgres@127.0.0.1:5432/, in a database of its own that
is created and dropped here) with two circles: "big" (100,000 posts) and "small" (1,000 posts), with
tags, likes, comments, pinned and featured posts and attached files. Serves it the way ``quanzi run
--workers 2`` does on a 2-core server (uvicorn, two processes sharing Redis, ``quanzi.asgi:application``,
uvloop when installed, lifespan off; ``--workers 1`` for the single embedded process) with
``QUANZI_BENCH=1``, which routes the hidden ``/bench/hello/`` view (same middleware, no work). Server CPU
is that of the whole process tree.

Measured with concurrent keep-alive HTTP/1.1 clients (raw asyncio, in this process):
  - hello: ``GET /bench/hello/``
  - api:   ``GET /api/circles/<slug>/posts?cursor=…`` (bearer token, JSON, 20 posts) with random
           cursors spread over the whole circle (deep pages)
  - html:  ``GET /c/<slug>/feed/?cursor=…`` with ``HX-Request`` (the "load more" fragment, session cookie)

Targets (the feed issue): api pages/s >= 400, p99 <= 150 ms, pages/s >= 0.35 x hello req/s (all
from "api 100k"), and the 100k circle's pages no slower than the 1k circle's (ratio of p50 within
1.5x). The depth is measured in "api mixed": each request is a page of either circle at random, so
both circles' p50 come from the same windows (two separate windows on this VM differed by up to 2x
in cost whatever the circle). The measurements take turns (hello, api 100k, api mixed, html 100k,
html mixed, then again, ``--rounds`` times) so that the machine's drift hits them alike. Options:
``--posts N`` (default 100000), ``--seconds S`` per measurement (default 9, split over the rounds),
``--rounds R`` (default 6: windows of 1.5 s, so that a slow moment of the VM falls on all measurements
alike rather than on one of them), ``--clients C`` (default 16),
``--no-postgres``, ``--workers N`` (default 2; more than 1 needs Redis), ``--http-threads N``, ``--keep``.
Exit status 1 when a target fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import (  # noqa: E402
    HOST,
    Server,
    base_env,
    django_run,
    free_port,
    redis_ok,
    spawn,
    tree_cpu_seconds,
    wait_listening,
)

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/quanzi_bench"

TARGET_PAGES = 400.0
TARGET_P99_MS = 150.0
TARGET_RATIO = 0.35
TARGET_DEPTH = 1.5  # p50 at 100k may be at most this times p50 at 1k


# --- data (runs in a child process with the server's environment) -----------------------------


SETUP = r'''
import base64, hashlib, json, os, random, sys
from datetime import timedelta
import django
django.setup()
from django.db import connection, transaction
from django.utils import timezone
from quanzi.accounts.models import ApiToken, User, hash_token
from quanzi.archive.models import Blob, CircleFile
from quanzi.chat import markdown
from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Membership
from quanzi.feed.models import Post, PostAttachment, PostLike, PostTag
from django.contrib.sessions.backends.db import SessionStore

big_n, small_n, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(7)
owner = User.objects.create_user(username="feed-owner", email="o@bench.invalid")
reader = User.objects.create_user(username="feed-reader", email="r@bench.invalid")
ApiToken.objects.create(user=reader, name="bench", key_hash=hash_token(token), key_prefix=token[:10])
session = SessionStore()
session["_auth_user_id"] = str(reader.pk)
session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
session["_auth_user_hash"] = reader.get_session_auth_hash()
session.create()
authors = User.objects.bulk_create([User(username=f"author{i}", password="!", email="") for i in range(40)])
TAGS = ["读书", "running", "早起", "python", "marathon", "思考", "notes", "weekly"]
BODIES = [
    "Morning run: **10 km** in 52 minutes. Legs fine.\n\n- warm up\n- intervals\n- cool down",
    "今天读完了《百年孤独》，最打动我的是马孔多的雨。推荐给大家 https://example.com/book",
    "A short note with `code`, a [link](https://example.com) and *emphasis*.",
    "打卡第 30 天：早上 5:30 起床，冥想 15 分钟，读书 40 分钟。",
]
out = {}
for slug, n in (("big", big_n), ("small", small_n)):
    circle = circle_actions.do_create_circle(owner=owner, name=f"Feed {slug}", slug=f"feed-{slug}")
    circle_actions.do_join_circle(user=reader, circle=circle)
    circle_actions.do_finish_onboarding(user=reader, circle=circle)
    Membership.objects.bulk_create([Membership(circle=circle, user=a) for a in authors])
    html = [markdown.render(b) for b in BODIES]
    start = timezone.now() - timedelta(days=400)
    step = timedelta(days=400) / max(n, 1)
    batch = 5000
    ids = []
    with transaction.atomic():
        for lo in range(0, n, batch):
            rows = []
            for i in range(lo, min(n, lo + batch)):
                k = i % len(BODIES)
                # every 7th post shares its timestamp with the previous one: ties broken by id
                moment = start + step * (i - (i % 7 == 0))
                tags = rng.sample(TAGS, rng.randint(0, 3))
                rows.append(Post(circle=circle, author=authors[i % len(authors)], title=f"Day {i}" if i % 3 else "",
                                 body=BODIES[k], body_html=html[k], tags=tags, like_count=rng.randint(0, 30),
                                 comment_count=rng.randint(0, 12), featured=(i % 50 == 0), created_at=moment))
            created = Post.objects.bulk_create(rows, batch_size=batch)
            ids += [p.id for p in created]
            PostTag.objects.bulk_create([PostTag(circle=circle, post_id=p.id, name=t) for p in created for t in p.tags],
                                        batch_size=batch)
            PostLike.objects.bulk_create([PostLike(post_id=p.id, user=reader) for p in created if rng.random() < 0.2],
                                         batch_size=batch)
        Post.objects.filter(id__in=rng.sample(ids, 3)).update(pinned=True, pinned_at=timezone.now())
        # one attached image or file on every 10th post
        files = []
        for j, pid in enumerate(ids[::10]):
            digest = hashlib.sha256(f"{slug}{j}".encode()).hexdigest()
            blob = Blob.objects.create(sha256=digest, size=1000 + j, content_type="image/png",
                                       storage_key=f"bench/{slug}/{j}")
            files.append(CircleFile(circle=circle, uploader=authors[0], blob=blob, name=f"img{j}.png", kind="image",
                                    attached_kind="post", attached_id=pid))
        files = CircleFile.objects.bulk_create(files, batch_size=batch)
        PostAttachment.objects.bulk_create([PostAttachment(post_id=f.attached_id, file=f, position=0) for f in files],
                                           batch_size=batch)
    rows = list(Post.objects.filter(circle=circle, pinned=False).values_list("created_at", "id"))
    sample = rng.sample(rows, min(3000, len(rows)))
    def cursor(created, pid):
        d = created - timezone.datetime(1970, 1, 1, tzinfo=created.tzinfo)
        micros = (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds
        return base64.urlsafe_b64encode(f"0.{micros}.{pid}".encode()).decode().rstrip("=")
    out[slug] = {"slug": circle.slug, "cursors": [cursor(c, p) for c, p in sample]}
with connection.cursor() as c:
    c.execute("ANALYZE")
out["session"] = session.session_key
print(json.dumps(out))
'''


# --- load client ---------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    count: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    tagged: dict[str, list[float]] = field(default_factory=dict)  # latencies by circle, in a mixed measurement
    bytes: int = 0
    cpu: float = 0.0  # server CPU seconds (utime + stime) over the measurement

    @property
    def cpu_ms(self) -> float:
        """Server CPU per request: unlike req/s, it hardly moves when other work shares the machine."""
        return self.cpu / self.count * 1000 if self.count else float("nan")

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def pct(self, p: float, tag: str | None = None) -> float:
        """Percentile latency in ms, of all requests or of those of one circle (``tag``)."""
        latencies = self.latencies if tag is None else self.tagged.get(tag, [])
        if not latencies:
            return float("nan")
        data = sorted(latencies)
        return data[min(len(data) - 1, int(p / 100 * len(data)))] * 1000


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def open_connections(port: int, count: int) -> list[Connection]:
    """``count`` keep-alive connections, shared by all the measurements of a round.

    With ``--workers 2`` the server's processes take turns accepting from one socket, and a burst of
    new connections is split between them at random: 8/8, 6/10, sometimes 1/15 or all 16 on one
    process (seen with ``ss``), which then runs everything on one core. A measurement on a lopsided
    split ran up to 2x slower, so when each measurement opened its own connections, hello and the page
    were often measured on different splits. Measured on the same connections, they share the split.
    """
    return list(await asyncio.gather(*(asyncio.open_connection(HOST, port) for _ in range(count))))


async def _client(connection: Connection, paths: list[str], headers: str, deadline: float, result: Result,
                  rng: random.Random, tag_of: Callable[[str], str] | None = None):
    reader, writer = connection
    # The connection stays open: the round's next measurement uses it too.
    while time.perf_counter() < deadline:
        path = rng.choice(paths)
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode()
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        chunked = False
        for line in head.split(b"\r\n"):
            low = line.lower()
            if low.startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
            elif low.startswith(b"transfer-encoding:") and b"chunked" in low:
                chunked = True
        if chunked:
            body = b""
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = await reader.readexactly(length)
        elapsed = time.perf_counter() - started
        if status != 200:
            result.errors += 1
            if result.errors == 1:
                print(f"  {result.name}: HTTP {status}: {body[:300]!r}", flush=True)
            continue
        result.count += 1
        result.bytes += len(body)
        result.latencies.append(elapsed)
        if tag_of is not None:
            result.tagged.setdefault(tag_of(path), []).append(elapsed)


async def measure(name: str, connections: list[Connection], paths: list[str], headers: dict[str, str],
                  seconds: float, pid: int, *, warm_up: bool = True, seed: int = 100,
                  tag_of: Callable[[str], str] | None = None) -> Result:
    """One measurement: each connection sends requests one after another for ``seconds``."""
    header_text = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    result = Result(name)
    if warm_up:  # caches, the first request's lazy imports, prepared statements: not counted
        warm = Result(name + " warm-up")
        await asyncio.gather(*(_client(c, paths, header_text, time.perf_counter() + 1.0, warm, random.Random(i))
                               for i, c in enumerate(connections)))
    started, cpu_before = time.perf_counter(), tree_cpu_seconds(pid)
    deadline = started + seconds
    await asyncio.gather(*(_client(c, paths, header_text, deadline, result, random.Random(seed + i), tag_of)
                           for i, c in enumerate(connections)))
    result.seconds = time.perf_counter() - started
    result.cpu = tree_cpu_seconds(pid) - cpu_before
    return result


async def measure_round(port: int, plan: list[tuple[str, list[str], dict[str, str]]], seconds: float, clients: int,
                        pid: int, *, warm_up: bool, seed: int,
                        tag_of: Callable[[str], str]) -> list[Result]:
    """The plan's measurements one after another, on one set of ``clients`` connections."""
    connections = await open_connections(port, clients)
    try:
        return [await measure(name, connections, paths, headers, seconds, pid, warm_up=warm_up, seed=seed,
                              tag_of=tag_of if name.endswith("mixed") else None)
                for name, paths, headers in plan]
    finally:
        for _reader, writer in connections:
            writer.close()


# --- one database ------------------------------------------------------------------------------------


def run_backend(label: str, env: dict, workdir: Path, args) -> list[tuple[str, Result]]:
    print(f"[{label}] migrating and building {args.posts:,} + 1,000 posts …", flush=True)
    t0 = time.perf_counter()
    django_run(["-m", "django", "migrate", "--settings=quanzi.settings", "--no-input", "-v", "0"], env, timeout=600)
    token = "qz_" + secrets.token_urlsafe(24)
    out = django_run(["-c", SETUP, str(args.posts), "1000", token], env, timeout=1800)
    data = json.loads(out.strip().splitlines()[-1])
    print(f"[{label}] data ready in {time.perf_counter() - t0:.0f}s", flush=True)
    port = free_port()
    loop = "uvloop" if _has_uvloop() else "asyncio"
    argv = [PY, "-m", "uvicorn", "quanzi.asgi:application", "--host", HOST, "--port", str(port), "--loop", loop,
            "--log-level", "warning", "--no-access-log", "--lifespan", "off", "--backlog", "4096"]
    if args.workers > 1:  # what `quanzi run --workers N` starts (it requires Redis for the events)
        argv += ["--workers", str(args.workers)]
    server: Server = spawn(f"quanzi-{label}", argv, env, port, workdir)
    results: list[tuple[str, Result]] = []
    try:
        asyncio.run(wait_listening(server))
        bearer = {"Authorization": f"Bearer {token}"}
        cookie = {"Cookie": f"quanzi_session={data['session']}; sessionid={data['session']}", "HX-Request": "true"}

        def api_paths(which: str) -> list[str]:
            return [f"/api/circles/{data[which]['slug']}/posts?cursor={c}" for c in data[which]["cursors"]]

        def html_paths(which: str) -> list[str]:
            return [f"/c/{data[which]['slug']}/feed/?cursor={c}" for c in data[which]["cursors"]]

        small_slug = f"/{data['small']['slug']}/"

        def circle_of(path: str) -> str:
            return "1k" if small_slug in path else "100k"

        # "mixed": pages of both circles at random in the same window, so the depth check compares
        # the 100k and the 1k circle under the same load and the same moment of the VM's drift (two
        # separate 2-second windows differed by up to 2x in cost on this VM, whatever the circle).
        plan = [
            ("hello", ["/bench/hello/"], {}),
            ("api 100k", api_paths("big"), bearer),
            ("api mixed", api_paths("big") + api_paths("small"), bearer),
            ("html 100k", html_paths("big"), cookie),
            ("html mixed", html_paths("big") + html_paths("small"), cookie),
        ]
        # The measurements take turns, ``--rounds`` times, each for its share of ``--seconds``: this VM's
        # speed drifts by up to 2x within minutes, and a ratio of two measurements taken a minute
        # apart measured the drift as much as the page.
        totals = {name: Result(name) for name, _paths, _headers in plan}
        for round_no in range(args.rounds):
            parts = asyncio.run(measure_round(port, plan, args.seconds / args.rounds, args.clients, server.pid,
                                              warm_up=round_no == 0, seed=100 + 1000 * round_no, tag_of=circle_of))
            for (name, _paths, _headers), part in zip(plan, parts, strict=True):
                _add(totals[name], part)
                depth = (f"  p50 100k {part.pct(50, '100k'):.1f} / 1k {part.pct(50, '1k'):.1f} ms"
                         if part.tagged else "")
                print(f"[{label}] round {round_no + 1}: {name:<10} {part.rate:8.0f}/s  p50 {part.pct(50):6.1f} ms"
                      f"  p99 {part.pct(99):6.1f} ms  server CPU {part.cpu_ms:.2f} ms/req  errors {part.errors}{depth}",
                      flush=True)
        results = [(name, totals[name]) for name, _paths, _headers in plan]
    finally:
        server.stop()
    return results


def _add(total: Result, part: Result) -> None:
    total.count += part.count
    total.errors += part.errors
    total.seconds += part.seconds
    total.latencies += part.latencies
    for tag, latencies in part.tagged.items():
        total.tagged.setdefault(tag, []).extend(latencies)
    total.bytes += part.bytes
    total.cpu += part.cpu


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def report(label: str, results: list[tuple[str, Result]]) -> bool:
    r = dict(results)
    hello = r["hello"].rate
    ok = True
    server = "one uvicorn process" if ARGS.workers == 1 else f"{ARGS.workers} uvicorn processes (Redis)"
    print(f"\n### feed, {label} ({server}, {ARGS.clients} keep-alive clients, random deep cursors)\n")
    print("| measurement | req/s | p50 ms | p99 ms | server CPU ms/req | errors |")
    print("|---|---|---|---|---|---|")
    for name, res in results:
        print(f"| {name} | {res.rate:,.0f} | {res.pct(50):.1f} | {res.pct(99):.1f} | {res.cpu_ms:.2f} | {res.errors} |")
    print("\n| target | measured | result |")
    print("|---|---|---|")
    for kind in ("api", "html"):
        big, mixed = r[f"{kind} 100k"], r[f"{kind} mixed"]
        deep, shallow = mixed.pct(50, "100k"), mixed.pct(50, "1k")
        rows = [
            (f"{kind}: pages/s at 100k ≥ {TARGET_PAGES:.0f}", f"{big.rate:,.0f}", big.rate >= TARGET_PAGES),
            (f"{kind}: p99 at 100k ≤ {TARGET_P99_MS:.0f} ms", f"{big.pct(99):.1f} ms", big.pct(99) <= TARGET_P99_MS),
            (f"{kind}: pages/s ≥ {TARGET_RATIO} × hello ({hello:,.0f}/s)", f"{big.rate / hello:.2f} ×",
             big.rate >= TARGET_RATIO * hello),
            (f"{kind}: p50 at 100k vs 1k, same window ≤ {TARGET_DEPTH} ×",
             f"{deep:.1f} vs {shallow:.1f} ms ({deep / shallow:.2f} ×)", deep <= TARGET_DEPTH * shallow),
            (f"{kind}: no errors", f"{big.errors + mixed.errors}", big.errors + mixed.errors == 0),
        ]
        # The same ratio from server CPU per request (information: robust when the machine is shared).
        cpu_ratio = r["hello"].cpu_ms / big.cpu_ms if big.cpu_ms else float("nan")
        print(f"| {kind}: CPU-based ratio, hello CPU / page CPU (information) | {cpu_ratio:.2f} × | info |")
        for text, value, passed in rows:
            # The API JSON page is the measured target; the HTML fragment is shown for information.
            verdict = ("PASS" if passed else "FAIL") if kind == "api" else ("pass" if passed else "info: miss")
            ok = ok and (passed or kind != "api")
            print(f"| {text} | {value} | {verdict} |")
    return ok


def postgres_url(args) -> str | None:
    if args.no_postgres:
        return None
    url = os.environ.get("QUANZI_BENCH_DATABASE_URL", DEFAULT_PG)
    try:
        import psycopg
    except ImportError:
        return None
    parsed = urlparse(url)
    admin = urlunparse(parsed._replace(path="/postgres"))
    name = f"{parsed.path.lstrip('/') or 'quanzi_bench'}_feed_{os.getpid()}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # unreachable or no rights: skip with a message
        print(f"PostgreSQL skipped ({type(exc).__name__}: {str(exc).strip()[:120]})")
        return None
    return urlunparse(parsed._replace(path=f"/{name}"))


def drop_postgres(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.path.lstrip("/")}" WITH (FORCE)')


def main() -> int:
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=9.0, help="per measurement, over all rounds")
    parser.add_argument("--rounds", type=int, default=6,
                        help="the measurements take turns this many times (default 6), so drift hits all alike")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--workers", type=int, default=2,
                        help="server processes (default: one per core of the 2-core target machine; more than 1 "
                             "uses Redis, as `quanzi run --workers` does)")
    parser.add_argument("--http-threads", type=int, default=0,
                        help="QUANZI_HTTP_THREADS of the servers (default: the server's own default, 8)")
    ARGS = args = parser.parse_args()
    redis_url = os.environ.get("QUANZI_REDIS_URL") or "redis://127.0.0.1:6379/0"
    if args.workers > 1 and not redis_ok(redis_url):
        print(f"--workers {args.workers} needs Redis at {redis_url} (as `quanzi run --workers` does)")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="quanzi-bench-feed-"))
    ok = True
    try:
        env = base_env(workdir / "sqlite")
        env["QUANZI_BENCH"] = "1"
        if args.http_threads:
            env["QUANZI_HTTP_THREADS"] = str(args.http_threads)
        if args.workers > 1:
            env.update(QUANZI_REDIS_URL=redis_url, QUANZI_REDIS_PREFIX="quanzi-feed-" + secrets.token_hex(4))
        tables = [("SQLite", run_backend("sqlite", env, workdir, args))]
        pg = postgres_url(args)
        if pg:
            try:
                env_pg = base_env(workdir / "pg")
                env_pg.update(QUANZI_BENCH="1", QUANZI_DATABASE_URL=pg, QUANZI_DB_CONN_MAX_AGE="60")
                if args.http_threads:
                    env_pg["QUANZI_HTTP_THREADS"] = str(args.http_threads)
                if args.workers > 1:
                    env_pg.update(QUANZI_REDIS_URL=redis_url, QUANZI_REDIS_PREFIX=env["QUANZI_REDIS_PREFIX"])
                tables.append(("PostgreSQL", run_backend("postgres", env_pg, workdir, args)))
            except Exception as exc:  # a PostgreSQL hiccup must not hide the SQLite table
                print(f"PostgreSQL run failed: {type(exc).__name__}: {str(exc)[-300:]}")
                ok = False
            finally:
                try:
                    drop_postgres(pg)
                except Exception as exc:
                    print(f"could not drop {pg}: {exc}")
        for label, results in tables:
            ok = report(label, results) and ok
        print("\nMeasured: the API JSON page (bearer token) is the target; the htmx HTML fragment is shown beside it.")
        print("RESULT:", "PASS" if ok else "FAIL")
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


ARGS: argparse.Namespace


if __name__ == "__main__":
    sys.exit(main())
