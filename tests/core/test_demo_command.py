from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from quanzi.circles.models import Circle, Membership
from quanzi.payments.models import PricePlan


@pytest.mark.django_db
def test_demo_loads_once_and_prints_a_working_login(settings):
    settings.QUANZI_DEMO_PASSWORD = "demo-password-for-tests"
    out = StringIO()
    call_command("quanzi_demo", members=4, stdout=out)
    call_command("quanzi_demo", members=4, stdout=StringIO())  # again: reuses, doesn't duplicate
    demo = Circle.objects.get(slug="demo")
    assert Membership.objects.filter(circle=demo, status="active").count() == 5
    assert demo.main_group.messages.exists()
    paid = Circle.objects.get(slug="reading-club")
    assert PricePlan.objects.filter(circle=paid, active=True).count() == 2
    assert "demo-password-for-tests" in out.getvalue()
    assert authenticate(username="demo", password="demo-password-for-tests") is not None


@pytest.mark.django_db
def test_demo_refuses_a_bad_member_count():
    with pytest.raises(CommandError):
        call_command("quanzi_demo", members=999, stdout=StringIO())
