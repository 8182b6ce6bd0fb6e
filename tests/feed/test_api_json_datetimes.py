"""The feed page writes datetimes itself; the text must be exactly DjangoJSONEncoder's (what ninja renders)."""

from __future__ import annotations

import json
import zoneinfo
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from hypothesis import given, settings
from hypothesis import strategies as st

from quanzi.api.feed import _json_datetime

pytestmark = pytest.mark.db_independent

ZONES = st.sampled_from([UTC, zoneinfo.ZoneInfo("Asia/Shanghai"), zoneinfo.ZoneInfo("America/New_York"),
                         timezone(timedelta(hours=5, minutes=30)), None])


@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1)), zone=ZONES)
def test_same_text_as_the_django_encoder(moment, zone):
    value = moment.replace(tzinfo=zone)
    assert _json_datetime(value) == json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def test_examples():
    assert _json_datetime(None) is None
    assert _json_datetime(datetime(2026, 12, 7, 8, 0, tzinfo=UTC)) == "2026-12-07T08:00:00Z"
    assert _json_datetime(datetime(2026, 12, 7, 8, 0, 0, 123456, tzinfo=UTC)) == "2026-12-07T08:00:00.123Z"
