"""The ``quanzi`` command: run, worker, demo, and ``manage`` passing through to Django."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quanzi.settings")
    import django

    django.setup()


def _manage(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quanzi.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["quanzi manage", *argv])
    return 0


def _run(args: argparse.Namespace) -> int:
    """Serve HTTP and WebSocket with uvicorn, with the task worker as a child process."""
    import uvicorn

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quanzi.settings")
    worker = None
    mode = args.worker
    if mode == "auto":
        # Embedded default: run tasks in a thread of the server process, so events they emit
        # reach this process's sockets without Redis. With Redis, a separate process.
        mode = "process" if os.environ.get("QUANZI_REDIS_URL") or args.workers > 1 else "thread"
    if mode == "thread":
        _start_worker_thread()
    elif mode == "process":
        worker = subprocess.Popen([sys.executable, "-m", "quanzi.cli", "worker"])
    print(f"Quanzi is serving on http://{args.host}:{args.port}/ (Ctrl+C to stop)", flush=True)
    try:
        uvicorn.run(
            "quanzi.asgi:application",
            host=args.host,
            port=args.port,
            workers=args.workers if args.workers > 1 else None,
            log_level=args.log_level,
            # Access lines are logged at INFO: above that level uvicorn would still build each line's
            # arguments (client address, path) for nothing.
            access_log=args.log_level.lower() in ("trace", "debug", "info"),
            ws_max_size=128 * 1024,
            # Per-message deflate costs one compression per delivery; fan-out to big groups can't afford it.
            ws_per_message_deflate=False,
            proxy_headers=args.proxy_headers,
            lifespan="off",
        )
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
    return 0


def _start_worker_thread() -> None:
    import threading
    import uuid

    _setup_django()
    from django_tasks_db.management.commands.db_worker import Worker

    worker = Worker(
        queue_names=["default"],
        interval=0.5,
        batch=False,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=f"inproc-{os.getpid()}-{uuid.uuid4().hex[:8]}",
        excluded_queue_names=[],
    )
    threading.Thread(target=worker.run, name="quanzi-task-worker", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "manage":
        return _manage(argv[1:])
    if argv and argv[0] == "moderation":  # spam classifier tools; no Django set-up, so `score` starts fast
        from quanzi.moderation.classifier.cli import main as moderation_main

        return moderation_main(argv[1:])

    parser = argparse.ArgumentParser(prog="quanzi", description="Quanzi community platform")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="serve HTTP + WebSocket (and the task worker)")
    run.add_argument("--host", default=os.environ.get("QUANZI_HOST", "127.0.0.1"))
    run.add_argument("--port", type=int, default=int(os.environ.get("QUANZI_PORT", "8000")))
    run.add_argument("--workers", type=int, default=1, help="ASGI processes (needs QUANZI_REDIS_URL if > 1)")
    run.add_argument(
        "--worker",
        choices=["auto", "thread", "process", "none"],
        default="auto",
        help="where background tasks run (auto: a thread without Redis, a process with it)",
    )
    run.add_argument("--proxy-headers", action="store_true", help="trust X-Forwarded-* from a proxy")
    run.add_argument("--log-level", default="info")
    sub.add_parser("worker", help="run the background-task worker (django-tasks-db)")
    demo = sub.add_parser("demo", help="load (or refresh) the demo circle and print the owner login")
    demo.add_argument("--members", type=int, default=12)
    sub.add_parser("manage", help="run a Django management command: quanzi manage <command> …")
    sub.add_parser("moderation", help="spam classifier: quanzi moderation train|score")
    args = parser.parse_args(argv)

    if args.command == "run":
        if args.workers > 1 and not os.environ.get("QUANZI_REDIS_URL"):
            parser.error("--workers > 1 needs QUANZI_REDIS_URL: processes share real-time events through Redis")
        return _run(args)
    if args.command == "worker":
        return _manage(["db_worker"])
    if args.command == "demo":
        return _manage(["quanzi_demo", "--members", str(args.members)])
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
