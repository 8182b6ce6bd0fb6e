"""The archive storage is wired from the environment: local disk by default, S3 when a bucket is set."""

from __future__ import annotations

import json
import os
import subprocess
import sys

SCRIPT = """
import json, django
django.setup()
from django.core.files.storage import storages
s = storages["archive"]
print(json.dumps({"cls": type(s).__module__ + "." + type(s).__name__, "bucket": getattr(s, "bucket_name", None),
                  "endpoint": getattr(s, "endpoint_url", None), "region": getattr(s, "region_name", None),
                  "location": getattr(s, "location", None), "acl": getattr(s, "default_acl", None),
                  "overwrite": getattr(s, "file_overwrite", None)}))
"""


def _storage_with(env: dict) -> dict:
    full = {k: v for k, v in os.environ.items() if not k.startswith("QUANZI_S3_")}
    full.update(env, DJANGO_SETTINGS_MODULE="quanzi.settings", QUANZI_TESTING="1")
    full.pop("QUANZI_DATABASE_URL", None)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=full, capture_output=True, text=True, check=True,
                         timeout=60)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_s3_storage_from_environment():
    got = _storage_with({"QUANZI_S3_BUCKET": "quanzi-files", "QUANZI_S3_ENDPOINT_URL": "https://s3.example.test",
                         "QUANZI_S3_REGION": "eu-central-1", "QUANZI_S3_ACCESS_KEY_ID": "AKIA",
                         "QUANZI_S3_SECRET_ACCESS_KEY": "secret", "QUANZI_S3_PREFIX": "prod"})
    assert got == {"cls": "storages.backends.s3.S3Storage", "bucket": "quanzi-files",
                   "endpoint": "https://s3.example.test", "region": "eu-central-1", "location": "prod",
                   "acl": "private", "overwrite": False}


def test_local_storage_by_default():
    got = _storage_with({})
    assert got["cls"] == "django.core.files.storage.filesystem.FileSystemStorage"
    assert got["bucket"] is None
