"""Production defaults: `check --deploy` is clean when DEBUG is off and HTTPS is on."""

from __future__ import annotations

import os
import subprocess
import sys


def test_check_deploy_is_clean_with_production_defaults(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANZI_")}
    env.update(
        DJANGO_SETTINGS_MODULE="quanzi.settings",
        QUANZI_SECRET_KEY="a-long-random-production-secret-" + "x9Yz" * 12,
        QUANZI_DATA_DIR=str(tmp_path),
        QUANZI_ALLOWED_HOSTS="circle.example.com",
    )
    result = subprocess.run(
        [sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
