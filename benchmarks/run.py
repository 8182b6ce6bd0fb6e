"""`make bench`: real-time fan-out of Quanzi against a raw `websockets` broadcast server.

Starts every server it needs on free loopback ports (and stops them by PID), drives
them with one asyncio load client (benchmarks/wsload.py), and prints one table: our
figure, the baseline measured in the same run, the ratio and PASS/FAIL against the
target. Each figure is the median of three short runs. Takes about a minute.

Targets (docs/performance.md, the real-time issue):
 1. fan-out capacity with 500 connected members: ours >= 0.5 x raw deliveries/s
 2. p99 latency at 5,000 deliveries/s (500 members, 10 messages/s): ours <= 2 x raw p99 + 20 ms
 3. server CPU per delivery at 2,000 members <= 1.5 x its value at 500
 4. the same (3) with two server processes sharing Redis (PostgreSQL database), the
    sender on one and the members split across both; capacity and latency shown beside
    it (skipped when Redis or PostgreSQL is unreachable)

Our sender posts with the WebSocket ``message.send`` frame, so every message is
validated and persisted (SQLite WAL; PostgreSQL for the two-process rows) before it is
delivered. Options: --quick (one run each, fewer messages), --loop asyncio|uvloop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

sys.path.insert(0, str(Path(__file__).resolve().parent))

import wsload  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")

MEMBERS_SMALL = 500
MEMBERS_LARGE = 2000
LATENCY_RATE = 10  # messages per second, x 500 members = 5,000 deliveries/s


# --- processes ------------------------------------------------------------------------------


def raise_open_files_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and its children (uvicorn's worker processes), from /proc."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            total += cpu_seconds(current)
            with open(f"/proc/{current}/task/{current}/children") as f:
                pending += [int(c) for c in f.read().split()]
        except OSError:
            continue
    return total


def redis_ok(url: str) -> bool:
    """Whether Redis answers at ``url`` (benchmarks with several server processes need it)."""
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        return True
    except Exception:  # noqa: BLE001 - unreachable for any reason
        return False


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return ""


async def wait_listening(server: Server, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited:\n{server.tail()}")
        try:
            _reader, writer = await asyncio.open_connection(HOST, server.port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{server.name} did not start listening in {timeout:.0f}s:\n{server.tail()}")


def spawn(name: str, argv: list[str], env: dict, port: int, workdir: Path) -> Server:
    log = workdir / f"{name}.log"
    handle = open(log, "wb")
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)
    handle.close()
    return Server(name, port, proc, log)


def start_quanzi(name: str, env: dict, workdir: Path, loop: str) -> Server:
    port = free_port()
    argv = [PY, "-m", "uvicorn", "quanzi.asgi:application", "--host", HOST, "--port", str(port),
            "--loop", loop, "--log-level", "warning", "--no-access-log", "--lifespan", "off",
            "--ws-max-size", str(128 * 1024), "--backlog", "4096"]
    return spawn(name, argv, env, port, workdir)


def start_raw(workdir: Path) -> Server:
    port = free_port()
    return spawn("raw-websockets", [PY, str(ROOT / "benchmarks" / "raw_server.py"), str(port)], dict(os.environ),
                 port, workdir)


def django_run(argv: list[str], env: dict, timeout: float = 180) -> str:
    done = subprocess.run([PY, *argv], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def prepare_database(env: dict, tokens_file: Path) -> dict:
    django_run(["-m", "django", "migrate", "--settings=quanzi.settings", "--no-input", "-v", "0"], env)
    out = django_run([str(ROOT / "benchmarks" / "setup_data.py"), str(tokens_file)], env)
    return json.loads(out.strip().splitlines()[-1])


def base_env(data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANZI_")}
    env.update(
        QUANZI_DATA_DIR=str(data_dir),
        QUANZI_SECRET_KEY="bench-" + secrets.token_urlsafe(32),
        QUANZI_HTTPS="0",
        QUANZI_ALLOWED_HOSTS="127.0.0.1,localhost",
        QUANZI_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="quanzi.settings",
    )
    return env


# --- load -----------------------------------------------------------------------------------


@dataclass
class Target:
    """One system under test: where members connect, and how the sender posts."""

    name: str
    servers: list[Server]
    member_paths: list[tuple[int, str]]  # (port, path) per member, in connection order
    sender_port: int
    sender_path: str
    make_frame: object  # (seq, body) -> str
    wait_ready: bool
    payload_size: int = 0
    members: list[wsload.Client] = field(default_factory=list)
    sender: wsload.Client | None = None
    stats: wsload.Stats = field(default_factory=wsload.Stats)

    def cpu(self) -> float:
        return sum(cpu_seconds(s.pid) for s in self.servers)

    async def connect_members(self, count: int) -> None:
        todo = self.member_paths[len(self.members) : count]
        by_port: dict[int, list[str]] = {}
        for port, path in todo:
            by_port.setdefault(port, []).append(path)
        for port, paths in by_port.items():
            self.members += await wsload.connect_many(HOST, port, paths, self.stats, wait_first_text=self.wait_ready)

    async def connect_sender(self) -> None:
        self.sender = await wsload.connect(HOST, self.sender_port, self.sender_path, None,
                                           wait_first_text=self.wait_ready)

    def send(self, seq: int) -> None:
        body = f"bench-{seq}-at-{time.monotonic():.6f}-end"
        self.sender.send_text(self.make_frame(seq, body))

    def trim(self, count: int) -> None:
        """Disconnect members beyond the first ``count``."""
        for client in self.members[count:]:
            client.close()
        del self.members[count:]

    def close(self) -> None:
        for client in [*self.members, *([self.sender] if self.sender else [])]:
            client.close()
        self.members, self.sender = [], None


async def wait_deliveries(stats: wsload.Stats, expected: int, stall: float = 5.0) -> None:
    last, last_change = -1, time.monotonic()
    while stats.deliveries < expected:
        if stats.deliveries != last:
            last, last_change = stats.deliveries, time.monotonic()
        elif time.monotonic() - last_change > stall:
            return
        await asyncio.sleep(0.01)


@dataclass
class Capacity:
    rate: float  # deliveries per second
    cpu_us: float  # server CPU per delivery, microseconds
    lost: int


async def run_capacity(target: Target, messages: int) -> Capacity:
    """Send ``messages`` back to back; deliveries / (last receipt - first send)."""
    members = len(target.members)
    target.stats.reset()
    cpu0 = target.cpu()
    start = time.monotonic()
    for seq in range(messages):
        target.send(seq)
    await wait_deliveries(target.stats, messages * members)
    cpu1 = target.cpu()
    got = target.stats.deliveries
    elapsed = max(target.stats.last_recv - start, 1e-6)
    return Capacity(rate=got / elapsed, cpu_us=(cpu1 - cpu0) / max(got, 1) * 1e6, lost=messages * members - got)


@dataclass
class Latency:
    p50_ms: float
    p99_ms: float
    lost: int
    rate: float


async def run_latency(target: Target, seconds: float, rate: float = LATENCY_RATE) -> Latency:
    members = len(target.members)
    count = int(seconds * rate)
    target.stats.reset()
    start = time.monotonic()
    for seq in range(count):
        delay = start + seq / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        target.send(seq)
    await wait_deliveries(target.stats, count * members)
    lat = sorted(target.stats.latencies)
    if not lat:
        return Latency(float("nan"), float("nan"), count * members, 0.0)
    p50 = lat[len(lat) // 2]
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return Latency(p50 * 1000, p99 * 1000, count * members - len(lat), len(lat) / seconds)


def median(values: list[float]) -> float:
    return statistics.median(values)


async def measure(targets: list[Target], *, runs: int, capacity_messages: int,
                  latency_seconds: float | None, log) -> dict[str, dict]:
    """Capacity (and latency) runs, alternating between the targets so that both see the same
    background load on a shared machine; medians per target."""
    for target in targets:  # warm-up: first messages pay for imports, caches, connections
        await run_capacity(target, 3)
    caps: dict[str, list[Capacity]] = {t.name: [] for t in targets}
    lats: dict[str, list[Latency]] = {t.name: [] for t in targets}
    for _ in range(runs):
        for target in targets:
            await asyncio.sleep(0.2)
            caps[target.name].append(await run_capacity(target, capacity_messages))
    if latency_seconds:
        for _ in range(runs):
            for target in targets:
                await asyncio.sleep(0.2)
                lats[target.name].append(await run_latency(target, latency_seconds))
    results = {}
    for target in targets:
        c, members = caps[target.name], len(target.members)
        result = {
            "rate": median([x.rate for x in c]),
            "cpu_us": median([x.cpu_us for x in c]),
            "lost": sum(x.lost for x in c),
            "payload": target.stats.payload_bytes / max(target.stats.deliveries, 1),
        }
        log(f"  {target.name}, {members} members: capacity " + ", ".join(f"{x.rate:,.0f}/s ({x.cpu_us:.1f} us CPU)"
                                                                         for x in c))
        if lats[target.name]:
            la = lats[target.name]
            result.update(p50=median([x.p50_ms for x in la]), p99=median([x.p99_ms for x in la]),
                          lat_lost=sum(x.lost for x in la))
            log(f"  {target.name}, {members} members: latency " + ", ".join(
                f"p50 {x.p50_ms:.1f} / p99 {x.p99_ms:.1f} ms" for x in la))
        results[target.name] = result
    return results


# --- the report -----------------------------------------------------------------------------


@dataclass
class Row:
    metric: str
    ours: str
    base: str
    ratio: str
    target: str
    verdict: str


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}/s"


def print_table(rows: list[Row], notes: list[str]) -> None:
    header = Row("metric", "Quanzi", "raw websockets", "ratio", "target", "result")
    table = [header, *rows]
    widths = [max(len(getattr(r, f)) for r in table) for f in ("metric", "ours", "base", "ratio", "target", "verdict")]

    def line(r: Row) -> str:
        cells = [r.metric, r.ours, r.base, r.ratio, r.target, r.verdict]
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    print()
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    for note in notes:
        print(note)


# --- the scenarios --------------------------------------------------------------------------


def tokens_for(count: int) -> dict:
    return {"owner": "qz_benchowner" + secrets.token_hex(12),
            "members": [f"qz_bench{i:05d}" + secrets.token_hex(12) for i in range(count)]}


def quanzi_frame(group_id: int):
    def make(seq: int, body: str) -> str:
        return json.dumps({"type": "message.send", "group_id": group_id, "body": body})

    return make


def raw_frame(size: int):
    def make(seq: int, body: str) -> str:
        text = json.dumps({"type": "message.new", "body": body, "pad": ""})
        return text[:-2] + "x" * max(0, size - len(text)) + '"}'

    return make


def redis_reachable(url: str) -> str | None:
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        return None
    except Exception as exc:
        return f"Redis at {url} unreachable ({exc.__class__.__name__})"


def postgres_admin(url: str):
    import psycopg

    parsed = urlparse(url)
    admin = urlunparse(parsed._replace(path="/postgres"))
    return psycopg.connect(admin, autocommit=True, connect_timeout=3)


async def main_async(args, log) -> tuple[list[Row], list[str]]:
    runs = 1 if args.quick else 3
    cap_small = 20 if args.quick else 60
    cap_large = 6 if args.quick else 15
    lat_seconds = 1.5 if args.quick else 2.0
    rows: list[Row] = []
    notes: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="quanzi-bench-"))
    servers: list[Server] = []
    try:
        tokens = tokens_for(MEMBERS_LARGE)
        tokens_file = workdir / "tokens.json"
        tokens_file.write_text(json.dumps(tokens))
        env = base_env(workdir / "embedded")
        t0 = time.monotonic()
        ids = prepare_database(env, tokens_file)
        log(f"database ready in {time.monotonic() - t0:.1f}s (SQLite, {MEMBERS_LARGE} members)")

        ours_server = start_quanzi("quanzi", env, workdir, args.loop)
        raw_server = start_raw(workdir)
        servers += [ours_server, raw_server]
        await asyncio.gather(wait_listening(ours_server), wait_listening(raw_server))

        ours = Target(
            name="Quanzi", servers=[ours_server],
            member_paths=[(ours_server.port, f"/ws/?token={t}") for t in tokens["members"]],
            sender_port=ours_server.port, sender_path=f"/ws/?token={tokens['owner']}",
            make_frame=quanzi_frame(ids["group_id"]), wait_ready=True,
        )
        t0 = time.monotonic()
        await ours.connect_sender()
        await ours.connect_members(MEMBERS_SMALL)
        log(f"{MEMBERS_SMALL} members connected to Quanzi in {time.monotonic() - t0:.1f}s")
        # Size the baseline's payload like our event JSON.
        await run_capacity(ours, 2)
        payload = int(ours.stats.payload_bytes / max(ours.stats.deliveries, 1))
        raw = Target(
            name="raw", servers=[raw_server],
            member_paths=[(raw_server.port, "/") for _ in tokens["members"]],
            sender_port=raw_server.port, sender_path="/send",
            make_frame=raw_frame(payload), wait_ready=False,
        )
        await raw.connect_sender()
        await raw.connect_members(MEMBERS_SMALL)

        small = await measure([ours, raw], runs=runs, capacity_messages=cap_small, latency_seconds=lat_seconds,
                              log=log)
        ours_small, raw_small = small["Quanzi"], small["raw"]

        t0 = time.monotonic()
        await ours.connect_members(MEMBERS_LARGE)
        await raw.connect_members(MEMBERS_LARGE)
        log(f"{MEMBERS_LARGE} members connected to each server in {time.monotonic() - t0:.1f}s")
        large = await measure([ours, raw], runs=runs, capacity_messages=cap_large, latency_seconds=None, log=log)
        ours_large, raw_large = large["Quanzi"], large["raw"]
        ours.close()
        ours_server.stop()
        raw.trim(MEMBERS_SMALL)

        ratio = ours_small["rate"] / raw_small["rate"]
        rows.append(Row(f"1. fan-out capacity, {MEMBERS_SMALL} members", fmt_rate(ours_small["rate"]),
                        fmt_rate(raw_small["rate"]), f"{ratio:.2f}x", ">= 0.50x",
                        "PASS" if ratio >= 0.5 and not ours_small["lost"] else "FAIL"))
        limit = 2 * raw_small["p99"] + 20
        rows.append(Row("2. p99 latency at 5,000 deliveries/s", f"{ours_small['p99']:.1f} ms",
                        f"{raw_small['p99']:.1f} ms", f"{ours_small['p99'] / raw_small['p99']:.2f}x",
                        f"<= {limit:.1f} ms", "PASS" if ours_small["p99"] <= limit and not ours_small["lat_lost"]
                        else "FAIL"))
        rows.append(Row("   p50 latency at 5,000 deliveries/s", f"{ours_small['p50']:.1f} ms",
                        f"{raw_small['p50']:.1f} ms", f"{ours_small['p50'] / raw_small['p50']:.2f}x", "(info)", ""))
        scale = ours_large["cpu_us"] / ours_small["cpu_us"]
        raw_scale = raw_large["cpu_us"] / raw_small["cpu_us"]
        rows.append(Row(f"3. CPU/delivery {MEMBERS_LARGE} vs {MEMBERS_SMALL} members", f"{scale:.2f}x",
                        f"{raw_scale:.2f}x", "", "<= 1.50x", "PASS" if scale <= 1.5 and not ours_large["lost"]
                        else "FAIL"))
        for label, o, r in ((MEMBERS_SMALL, ours_small, raw_small), (MEMBERS_LARGE, ours_large, raw_large)):
            rows.append(Row(f"   server CPU per delivery, {label} members", f"{o['cpu_us']:.1f} us",
                            f"{r['cpu_us']:.1f} us", f"{o['cpu_us'] / r['cpu_us']:.2f}x", "(info)", ""))
        rows.append(Row(f"   fan-out capacity, {MEMBERS_LARGE} members", fmt_rate(ours_large["rate"]),
                        fmt_rate(raw_large["rate"]), f"{ours_large['rate'] / raw_large['rate']:.2f}x", "(info)",
                        ""))
        lost = ours_small["lost"] + ours_small.get("lat_lost", 0) + ours_large["lost"]
        notes.append(f"Payload per delivery: {ours_small['payload']:.0f} bytes (the raw baseline is padded to it). "
                     f"Deliveries lost by Quanzi: {lost}.")

        try:
            await two_process_rows(args, log, rows, notes, workdir, raw, runs, cap_small, cap_large, lat_seconds)
        except Exception as exc:  # report it as a failed row; rows 1-3 stand
            rows.append(Row("4. two processes + Redis", "error", "", "", "", "FAIL"))
            notes.append(f"Row 4 failed: {exc.__class__.__name__}: {exc}")
        raw.close()
    finally:
        for server in servers:
            server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return rows, notes


async def two_process_rows(args, log, rows, notes, workdir, raw: Target, runs, cap_small, cap_large,
                           lat_seconds) -> None:
    """Row 4: two uvicorn processes on PostgreSQL + Redis, against the raw server (run alternately)."""
    redis_url = os.environ.get("QUANZI_REDIS_URL") or "redis://127.0.0.1:6379/0"
    pg_url = os.environ.get("QUANZI_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/quanzi"
    reason = redis_reachable(redis_url)
    if reason is None and not pg_url.startswith("postgres"):
        reason = "QUANZI_DATABASE_URL is not PostgreSQL"
    admin = None
    if reason is None:
        try:
            admin = postgres_admin(pg_url)
        except Exception as exc:
            reason = f"PostgreSQL unreachable ({exc.__class__.__name__})"
    if reason is not None:
        rows.append(Row("4. two processes + Redis", "skipped", "", "", "", "SKIP"))
        notes.append(f"Row 4 skipped: {reason}.")
        return
    db_name = f"quanzi_bench_{os.getpid()}_{secrets.token_hex(3)}"
    servers: list[Server] = []
    try:
        admin.execute(f'CREATE DATABASE "{db_name}"')
        env = base_env(workdir / "pg")
        env.update(
            QUANZI_DATABASE_URL=urlunparse(urlparse(pg_url)._replace(path="/" + db_name)),
            QUANZI_REDIS_URL=redis_url,
            QUANZI_REDIS_PREFIX="quanzi-bench-" + secrets.token_hex(4),
            QUANZI_DB_CONN_MAX_AGE=str(args.pg_conn_max_age),
        )
        tokens = tokens_for(MEMBERS_LARGE)
        tokens_file = workdir / "tokens-pg.json"
        tokens_file.write_text(json.dumps(tokens))
        t0 = time.monotonic()
        ids = prepare_database(env, tokens_file)
        log(f"PostgreSQL database {db_name} ready in {time.monotonic() - t0:.1f}s")
        a = start_quanzi("quanzi-a", env, workdir, args.loop)
        b = start_quanzi("quanzi-b", env, workdir, args.loop)
        servers += [a, b]
        await asyncio.gather(wait_listening(a), wait_listening(b))
        # Alternate members between the servers, so any prefix is split evenly.
        paths = [((a if i % 2 == 0 else b).port, f"/ws/?token={t}") for i, t in enumerate(tokens["members"])]
        target = Target(
            name="Quanzi x2 + Redis", servers=[a, b], member_paths=paths,
            sender_port=a.port, sender_path=f"/ws/?token={tokens['owner']}",
            make_frame=quanzi_frame(ids["group_id"]), wait_ready=True,
        )
        await target.connect_sender()
        await target.connect_members(MEMBERS_SMALL)
        small = await measure([target, raw], runs=runs, capacity_messages=cap_small, latency_seconds=lat_seconds,
                              log=log)
        await target.connect_members(MEMBERS_LARGE)
        large = await measure([target], runs=runs, capacity_messages=cap_large, latency_seconds=None, log=log)
        target.close()
        two, base, two_large = small[target.name], small["raw"], large[target.name]
        scale = two_large["cpu_us"] / two["cpu_us"]
        rows.append(Row(f"4. 2 processes + Redis: CPU/delivery {MEMBERS_LARGE} vs {MEMBERS_SMALL}", f"{scale:.2f}x",
                        "", "", "<= 1.50x", "PASS" if scale <= 1.5 and not (two["lost"] or two_large["lost"])
                        else "FAIL"))
        for label, o in ((MEMBERS_SMALL, two), (MEMBERS_LARGE, two_large)):
            rows.append(Row(f"   2 processes: CPU per delivery, {label} members", f"{o['cpu_us']:.1f} us",
                            f"{base['cpu_us']:.1f} us" if label == MEMBERS_SMALL else "",
                            f"{o['cpu_us'] / base['cpu_us']:.2f}x" if label == MEMBERS_SMALL else "", "(info)", ""))
        rows.append(Row(f"   2 processes: fan-out capacity, {MEMBERS_SMALL} members", fmt_rate(two["rate"]),
                        fmt_rate(base["rate"]), f"{two['rate'] / base['rate']:.2f}x", "(info)", ""))
        rows.append(Row(f"   2 processes: fan-out capacity, {MEMBERS_LARGE} members", fmt_rate(two_large["rate"]),
                        "", "", "(info)", ""))
        limit = 2 * base["p99"] + 20
        rows.append(Row("   2 processes: p99 latency at 5,000 deliveries/s", f"{two['p99']:.1f} ms",
                        f"{base['p99']:.1f} ms", f"{two['p99'] / base['p99']:.2f}x", f"(info, <= {limit:.1f} ms)",
                        ""))
        lost = two["lost"] + two["lat_lost"] + two_large["lost"]
        notes.append(f"Row 4: members alternate between two uvicorn processes (PostgreSQL, Redis pub/sub), the sender "
                     f"on the first, QUANZI_DB_CONN_MAX_AGE={args.pg_conn_max_age}; CPU is the sum of both "
                     f"processes; the raw figures beside it were measured alternately with it; deliveries lost: "
                     f"{lost}.")
    finally:
        for server in servers:
            server.stop()
        try:
            admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        finally:
            admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short run per figure")
    parser.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"],
                        help="event loop of our uvicorn servers (default auto: uvloop when installed, as `quanzi run`)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    parser.add_argument("--pg-conn-max-age", type=int, default=60,
                        help="QUANZI_DB_CONN_MAX_AGE for the PostgreSQL servers of row 4 (default 60)")
    args = parser.parse_args()
    nofile = raise_open_files_limit()
    if nofile < 2 * MEMBERS_LARGE + 200:
        print(f"The open-files limit is {nofile}; {2 * MEMBERS_LARGE + 200} are needed.", file=sys.stderr)
        return 2
    started = time.monotonic()

    def log(msg: str) -> None:
        print(f"[{time.monotonic() - started:5.1f}s] {msg}", flush=True)

    try:
        rows, notes = asyncio.run(main_async(args, log))
    except Exception:
        traceback.print_exc()
        print("The benchmark could not finish (see above).", file=sys.stderr)
        return 2
    print_table(rows, notes)
    print(f"Total time {time.monotonic() - started:.0f}s, uvicorn loop: {args.loop}. Figures move +-25% between "
          "runs on a shared 2-core machine; compare within one run.")
    return 1 if any(r.verdict == "FAIL" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
