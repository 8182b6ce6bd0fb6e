"""A real server for browser tests: uvicorn (ASGI, so WebSockets work) on a free port.

pytest-django's ``live_server`` is WSGI-only, so the server runs as a subprocess with its
own fresh data directory (SQLite), migrated first.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(data_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUANZI_", "DJANGO_SETTINGS"))}
    env.update(
        QUANZI_DATA_DIR=data_dir,
        QUANZI_DEBUG="1",
        QUANZI_ALLOWED_HOSTS="127.0.0.1,localhost",
        QUANZI_HTTPS="0",
        QUANZI_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="quanzi.settings",
    )
    return env


@pytest.fixture(scope="session")
def server_data_dir() -> str:
    """The server's data directory (its SQLite database), for tests that run a management command
    against the same database (e.g. moving a challenge's dates, then settling it)."""
    return tempfile.mkdtemp(prefix="quanzi-e2e-")


def manage(data_dir: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``django-admin <args>`` against the e2e server's database (a separate process)."""
    python = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
    return subprocess.run([python, "-m", "django", *args, "--settings=quanzi.settings"], env=_server_env(data_dir),
                          cwd=data_dir, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def server_url(server_data_dir):
    data_dir = server_data_dir
    env = _server_env(data_dir)
    python = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
    subprocess.run(
        [python, "-m", "django", "migrate", "--no-input", "-v", "0", "--settings=quanzi.settings"],
        env=env, cwd=data_dir, check=True, timeout=120,
    )
    port = _free_port()
    log = open(Path(data_dir) / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [python, "-m", "uvicorn", "quanzi.asgi:application", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        env=env, cwd=data_dir, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("uvicorn did not start:\n" + (Path(data_dir) / "server.log").read_text()[-4000:])
        time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    if os.environ.get("QUANZI_E2E_KEEP"):
        print("e2e data dir kept:", data_dir)
    else:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def shots_dir():
    """Screenshots go to QUANZI_E2E_SHOTS if set (to look at them), else a temp dir."""
    target = os.environ.get("QUANZI_E2E_SHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        yield Path(target)
    else:
        with tempfile.TemporaryDirectory(prefix="quanzi-shots-") as tmp:
            yield Path(tmp)
