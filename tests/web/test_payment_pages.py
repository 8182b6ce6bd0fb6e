"""The payment screens with the Django client: who sees what, forms that refuse bad input and
write nothing, the order form's idempotency key, refunds, revenue and the staff payout queue."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from quanzi.circles.models import Membership
from quanzi.payments import actions
from quanzi.payments.models import Order, OrderStatus, PayoutRequest, PlanKind, PricePlan
from quanzi.web.money import format_money, parse_major

KEY_RE = re.compile(r'name="idempotency_key" value="([^"]+)"')


@pytest.fixture(autouse=True)
def _providers(settings):
    settings.QUANZI_PAYMENT_PROVIDERS = ["sandbox", "manual"]
    settings.QUANZI_PLATFORM_FEE_BPS = 500


@pytest.fixture
def yearly(circle, owner):
    return actions.do_create_plan(actor=owner, circle=circle, name="Yearly", kind=PlanKind.YEARLY, amount=9900)


@pytest.fixture
def payer(make_user):
    return make_user("payer")


def pay(user, circle, plan, key="k1"):
    order = actions.do_create_order(user=user, circle=circle, plan_id=plan.id, provider="sandbox",
                                    idempotency_key=key).order
    return actions.do_mark_order_paid(order=order, provider_ref="test")


# --- money parsing ------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "currency", "minor"), [
    ("99.00", "CNY", 9900), ("99", "CNY", 9900), ("0.1", "CNY", 10), ("19.99", "CNY", 1999),
    ("1,234.56", "USD", 123456), ("500", "JPY", 500), (" 9.99 ", "USD", 999),
])
def test_parse_major_is_exact(text, currency, minor):
    assert parse_major(text, currency) == minor


@pytest.mark.parametrize(("text", "currency", "code"), [
    ("9.999", "CNY", "too_many_decimals"), ("1.5", "JPY", "too_many_decimals"), ("-1", "CNY", "negative_amount"),
    ("0", "CNY", "zero_amount"), ("0.00", "CNY", "zero_amount"), ("abc", "CNY", "invalid_amount"),
    ("1e3", "CNY", "invalid_amount"), ("NaN", "CNY", "invalid_amount"), ("", "CNY", "invalid_amount"),
    ("1.", "CNY", "invalid_amount"),
])
def test_parse_major_refuses(text, currency, code):
    with pytest.raises(ValidationError) as info:
        parse_major(text, currency)
    assert info.value.code == code


def test_format_money():
    assert format_money(9900, "CNY") == "¥99.00"
    assert format_money(999, "USD") == "$9.99"
    assert format_money(123456789, "CNY") == "¥1,234,567.89"
    assert format_money(500, "JPY") == "¥500"
    assert format_money(-150, "EUR") == "-€1.50"


# --- circle page and ordering -------------------------------------------------------------


def test_paid_circle_page_shows_pricing_and_hides_join(client_as, circle, yearly, payer):
    page = client_as(payer).get(reverse("circle", args=[circle.slug])).content.decode()
    assert "¥99.00" in page and "per year" in page
    assert "Join for ¥99.00/year" in page
    assert reverse("circle_join", args=[circle.slug]) not in page
    assert len(KEY_RE.findall(page)) == 1


def test_free_circle_page_keeps_the_join_button(client_as, circle, payer):
    page = client_as(payer).get(reverse("circle", args=[circle.slug])).content.decode()
    assert reverse("circle_join", args=[circle.slug]) in page
    assert 'id="pricing"' not in page


def test_each_render_gets_a_new_key(client_as, circle, yearly, payer):
    client = client_as(payer)
    first = KEY_RE.findall(client.get(reverse("circle", args=[circle.slug])).content.decode())
    second = KEY_RE.findall(client.get(reverse("circle", args=[circle.slug])).content.decode())
    assert first and second and first != second


def test_order_form_is_idempotent(client_as, circle, yearly, payer):
    client = client_as(payer)
    key = KEY_RE.findall(client.get(reverse("circle", args=[circle.slug])).content.decode())[0]
    data = {"plan": yearly.id, "provider": "sandbox", "idempotency_key": key}
    first = client.post(reverse("order_create", args=[circle.slug]), data)
    second = client.post(reverse("order_create", args=[circle.slug]), data)
    assert Order.objects.filter(user=payer).count() == 1
    order = Order.objects.get(user=payer)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == order.checkout_url
    assert order.amount == 9900 and order.status == OrderStatus.PENDING


def test_manual_order_goes_to_the_order_page_with_instructions(client_as, circle, yearly, payer):
    client = client_as(payer)
    response = client.post(reverse("order_create", args=[circle.slug]),
                           {"plan": yearly.id, "provider": "manual", "idempotency_key": "m1"})
    order = Order.objects.get(user=payer)
    assert response["Location"] == reverse("my_order", args=[order.public_id])
    page = client.get(response["Location"]).content.decode()
    assert order.public_id in page and "bank transfer or cash" in page


@pytest.mark.parametrize("data", [
    {"plan": "x", "provider": "sandbox", "idempotency_key": "k"},
    {"plan": "999999", "provider": "sandbox", "idempotency_key": "k"},
    {"provider": "sandbox", "idempotency_key": "k"},
    {"plan": "PLAN", "provider": "paypal", "idempotency_key": "k"},
    {"plan": "PLAN", "provider": "sandbox"},
])
def test_bad_order_forms_write_nothing(client_as, circle, yearly, payer, data):
    data = {k: (str(yearly.id) if v == "PLAN" else v) for k, v in data.items()}
    response = client_as(payer).post(reverse("order_create", args=[circle.slug]), data, follow=True)
    assert response.status_code == 200
    assert list(response.context["messages"])
    assert not Order.objects.exists()


def test_direct_join_of_a_paid_circle_is_refused(client_as, circle, yearly, payer):
    response = client_as(payer).post(reverse("circle_join", args=[circle.slug]), follow=True)
    assert "This circle is paid" in response.content.decode()
    assert not Membership.objects.filter(circle=circle, user=payer).exists()


def test_paid_member_sees_active_until_on_welcome_and_order(client_as, circle, yearly, payer):
    order = pay(payer, circle, yearly)
    client = client_as(payer)
    welcome = client.get(reverse("welcome", args=[circle.slug])).content.decode()
    assert "Your membership is active until" in welcome
    page = client.get(reverse("my_order", args=[order.public_id])).content.decode()
    assert "Your membership is active until" in page and "Request a refund" in page


# --- my orders and refunds ----------------------------------------------------------------


def test_my_orders_lists_only_mine_with_refund_button(client_as, circle, yearly, payer, make_user):
    mine = pay(payer, circle, yearly)
    other = pay(make_user("someone"), circle, yearly, key="k2")
    page = client_as(payer).get(reverse("my_orders")).content.decode()
    assert mine.public_id in page and other.public_id not in page
    assert reverse("order_refund", args=[mine.public_id]) in page


def test_refund_needs_a_confirm_step_then_refunds(client_as, circle, yearly, payer):
    order = pay(payer, circle, yearly)
    client = client_as(payer)
    confirm = client.get(reverse("order_refund", args=[order.public_id]))
    assert confirm.status_code == 200 and "Yes, refund" in confirm.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    response = client.post(reverse("order_refund", args=[order.public_id]), follow=True)
    assert "Refunded ¥99.00" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    again = client.post(reverse("order_refund", args=[order.public_id]), follow=True)
    assert "already refunded" in again.content.decode()


def test_refund_after_the_window_is_refused(client_as, circle, yearly, payer):
    order = pay(payer, circle, yearly)
    Order.objects.filter(id=order.id).update(refund_until=timezone.now() - timedelta(minutes=1))
    client = client_as(payer)
    assert reverse("order_refund", args=[order.public_id]) not in client.get(reverse("my_orders")).content.decode()
    response = client.post(reverse("order_refund", args=[order.public_id]), follow=True)
    assert "refund window for this payment has passed" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_someone_elses_order_is_404(client_as, circle, outsider, member, yearly, payer):
    order = pay(payer, circle, yearly)
    for user in (outsider, member):
        client = client_as(user)
        assert client.get(reverse("my_order", args=[order.public_id])).status_code == 404
        assert client.post(reverse("order_refund", args=[order.public_id])).status_code == 404
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_wallet_page_renders(client_as, payer):
    page = client_as(payer).get(reverse("wallet"))
    assert page.status_code == 200 and "Wallet" in page.content.decode()


# --- admins: payment settings and plans ---------------------------------------------------


def test_admin_creates_a_plan_in_major_units(client_as, circle, admin):
    client = client_as(admin)
    response = client.post(reverse("plan_create", args=[circle.slug]),
                           {"name": "Yearly", "kind": "yearly", "amount": "99.00", "trial_days": "7"})
    assert response.status_code == 302
    plan = PricePlan.objects.get(circle=circle)
    assert (plan.amount, plan.currency, plan.kind, plan.trial_days) == (9900, "CNY", "yearly", 7)


@pytest.mark.parametrize(("data", "error"), [
    ({"name": "P", "kind": "yearly", "amount": "9.999"}, "at most 2 decimals"),
    ({"name": "P", "kind": "yearly", "amount": "-5"}, "cannot be negative"),
    ({"name": "P", "kind": "yearly", "amount": "0"}, "more than zero"),
    ({"name": "P", "kind": "yearly", "amount": ""}, "Enter the price"),
    ({"name": "P", "kind": "yearly", "amount": "1.5e2"}, "such as 99.00"),
    ({"name": "P", "kind": "free", "amount": "5"}, "A free plan costs nothing"),
    ({"name": "P", "kind": "one_time", "amount": "5", "trial_days": "3"}, "Only monthly and yearly"),
    ({"name": "P", "kind": "yearly", "amount": "2000000"}, "at most"),
    ({"name": "", "kind": "yearly", "amount": "5"}, "required"),
])
def test_bad_plan_forms_write_nothing(client_as, circle, admin, data, error):
    response = client_as(admin).post(reverse("plan_create", args=[circle.slug]), data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not PricePlan.objects.exists()


def test_edit_and_archive_a_plan(client_as, circle, owner, yearly):
    client = client_as(owner)
    response = client.post(reverse("plan_update", args=[circle.slug, yearly.id]),
                           {"name": "Annual", "amount": "88.50", "trial_days": "0"})
    assert response.status_code == 302
    yearly.refresh_from_db()
    assert (yearly.name, yearly.amount) == ("Annual", 8850)
    bad = client.post(reverse("plan_update", args=[circle.slug, yearly.id]), {"name": "X", "amount": "1.001"})
    assert bad.status_code == 400
    yearly.refresh_from_db()
    assert yearly.name == "Annual"
    client.post(reverse("plan_archive", args=[circle.slug, yearly.id]))
    yearly.refresh_from_db()
    assert not yearly.active


def test_plans_of_other_circles_are_404(client_as, circle, owner, make_user):
    from quanzi.circles import actions as circle_actions

    stranger = make_user("stranger")
    other = circle_actions.do_create_circle(owner=stranger, name="Other", slug="other")
    plan = actions.do_create_plan(actor=stranger, circle=other, name="P", kind=PlanKind.YEARLY, amount=100)
    client = client_as(owner)
    assert client.post(reverse("plan_archive", args=[circle.slug, plan.id])).status_code == 404
    assert client.post(reverse("plan_update", args=[circle.slug, plan.id]), {"name": "X", "amount": "1"}
                       ).status_code == 404
    plan.refresh_from_db()
    assert plan.active and plan.name == "P"


def test_payment_settings(client_as, circle, owner, yearly):
    client = client_as(owner)
    ok = client.post(reverse("payment_settings", args=[circle.slug]), {
        "currency": "CNY", "refund_window_hours": "48", "expiry_action": "remove", "renewal_reminder_days": "5"})
    assert ok.status_code == 302
    circle.refresh_from_db()
    assert (circle.refund_window_hours, circle.expiry_action, circle.renewal_reminder_days) == (48, "remove", 5)
    # A plan priced in CNY is still active: switching currency is refused, nothing changes.
    bad = client.post(reverse("payment_settings", args=[circle.slug]), {
        "currency": "USD", "refund_window_hours": "1", "expiry_action": "read_only", "renewal_reminder_days": "1"})
    assert bad.status_code == 400 and "Archive the plans" in bad.content.decode()
    for field, value in [("refund_window_hours", "-1"), ("refund_window_hours", "721"),
                         ("renewal_reminder_days", "61"), ("expiry_action", "explode"), ("currency", "XXX")]:
        data = {"currency": "CNY", "refund_window_hours": "2", "expiry_action": "read_only",
                "renewal_reminder_days": "2", field: value}
        assert client.post(reverse("payment_settings", args=[circle.slug]), data).status_code == 400
    circle.refresh_from_db()
    assert (circle.currency, circle.refund_window_hours) == ("CNY", 48)


@pytest.mark.parametrize("name", ["payment_settings", "revenue"])
def test_admin_pages_roles(client_as, circle, owner, admin, moderator, member, outsider, onboarded, name):
    onboarded(admin, moderator, member)
    url = reverse(name, args=[circle.slug])
    assert client_as(owner).get(url).status_code == 200
    assert client_as(admin).get(url).status_code == 200
    assert client_as(moderator).get(url).status_code == 403
    assert client_as(member).get(url).status_code == 403


# --- revenue, manual payments, payouts ----------------------------------------------------


def test_revenue_page_figures(client_as, circle, owner, yearly, payer, make_user):
    pay(payer, circle, yearly)
    refunded = pay(make_user("second"), circle, yearly, key="k2")
    actions.do_refund_order(actor=refunded.user, order=refunded)
    page = client_as(owner).get(reverse("revenue", args=[circle.slug])).content.decode()
    assert re.search(r'id="rev-gross">¥198.00<', page)
    assert re.search(r'id="rev-fees">¥4.95<', page)  # 5 % of two payments, one fee given back
    assert re.search(r'id="rev-refunds">¥99.00<', page)
    assert re.search(r'id="rev-net">¥94.05<', page)
    assert re.search(r'id="rev-pending">¥94.05<', page)
    assert "<svg" in page and "<rect" in page


def test_admin_confirms_a_manual_payment(client_as, circle, admin, yearly, payer, onboarded):
    onboarded(admin)
    order = actions.do_create_order(user=payer, circle=circle, plan_id=yearly.id, provider="manual",
                                    idempotency_key="m").order
    client = client_as(admin)
    assert order.public_id in client.get(reverse("revenue", args=[circle.slug])).content.decode()
    client.post(reverse("manual_confirm", args=[circle.slug, order.public_id]))
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert Membership.objects.get(circle=circle, user=payer).paid_until is not None


def test_payouts_owner_only_and_bounded(client_as, circle, owner, admin, yearly, payer, onboarded):
    onboarded(admin)
    order = pay(payer, circle, yearly)
    from quanzi.payments import tasks

    Order.objects.filter(id=order.id).update(refund_until=timezone.now() - timedelta(seconds=1))
    tasks.settle_order_revenue.call(order_id=order.id)
    order.refresh_from_db()
    assert order.settled_at is not None
    url = reverse("payout_request", args=[circle.slug])
    assert client_as(admin).post(url, {"amount": "1.00"}).status_code == 403
    client = client_as(owner)
    too_much = client.post(url, {"amount": "1000.00"})
    assert too_much.status_code == 400
    assert client.post(url, {"amount": "0.001"}).status_code == 400
    assert not PayoutRequest.objects.exists()
    assert client.post(url, {"amount": "10.00", "note": "bank"}).status_code == 302
    assert PayoutRequest.objects.get().amount == 1000


def test_staff_payout_queue(client_as, circle, owner, make_user):
    staff = make_user("staffer", is_staff=True)
    assert client_as(owner).get(reverse("staff_payouts")).status_code == 403
    assert client_as(staff).get(reverse("staff_payouts")).status_code == 200
    response = client_as(owner).post(reverse("staff_payout_decide", args=[1]), {"decision": "paid"})
    assert response.status_code == 403


def test_staff_marks_paid_and_rejects(client_as, circle, owner, yearly, payer, make_user):
    from quanzi.payments import tasks

    order = pay(payer, circle, yearly)
    Order.objects.filter(id=order.id).update(refund_until=timezone.now() - timedelta(seconds=1))
    tasks.settle_order_revenue.call(order_id=order.id)
    first = actions.do_request_payout(actor=owner, circle=circle, amount=5000)
    second = actions.do_request_payout(actor=owner, circle=circle, amount=1000)
    staff = make_user("staffer", is_staff=True)
    client = client_as(staff)
    page = client.get(reverse("staff_payouts")).content.decode()
    assert "¥50.00" in page and "¥10.00" in page
    client.post(reverse("staff_payout_decide", args=[first.id]), {"decision": "paid", "text": "TX-1"})
    client.post(reverse("staff_payout_decide", args=[second.id]), {"decision": "reject", "text": "wrong account"})
    bad = client.post(reverse("staff_payout_decide", args=[second.id]), {"decision": "explode"}, follow=True)
    assert bad.status_code == 200
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.reference, second.status) == ("paid", "TX-1", "rejected")
    again = client.post(reverse("staff_payout_decide", args=[first.id]), {"decision": "reject"}, follow=True)
    assert "already decided" in again.content.decode()
    assert client.post(reverse("staff_payout_decide", args=[999999]), {"decision": "paid"}).status_code == 404
    owner_page = client_as(owner).get(reverse("revenue", args=[circle.slug])).content.decode()
    assert "TX-1" in owner_page


def test_pricing_in_chinese(client_as, circle, yearly, payer):
    client = client_as(payer)
    payer.language = "zh-hans"
    payer.save(update_fields=["language"])
    page = client.get(reverse("circle", args=[circle.slug]), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "¥99.00/年 加入" in page and "每年" in page


def test_circle_page_mentions_a_waiting_manual_order(client_as, circle, yearly, payer):
    order = actions.do_create_order(user=payer, circle=circle, plan_id=yearly.id, provider="manual",
                                    idempotency_key="m").order
    page = client_as(payer).get(reverse("circle", args=[circle.slug])).content.decode()
    assert f"Your order {order.public_id} waits for an admin" in page
