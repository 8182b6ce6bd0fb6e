"""Pages of paid circles: ordering a plan, my orders and wallet, the admins' payment settings,
plans and revenue, and the instance staff's payout queue.

Thin like ``views``: parse the form, call the ``payments.actions`` function (which checks the
rule from ``circles.rules``), show its :class:`QuanziError` message. Reads come from
``payments.selectors``; the page-only reads are the two small querysets below.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from quanzi.circles import rules
from quanzi.circles.models import Circle, Membership
from quanzi.core.errors import Forbidden, NotFound, QuanziError
from quanzi.payments import actions as payment_actions
from quanzi.payments import selectors as payment_selectors
from quanzi.payments.models import Order, OrderStatus, PayoutRequest, PayoutStatus

from . import payment_forms
from .money import format_money
from .views import _circle, _circle_nav, _first_error, _require

# --- helpers ------------------------------------------------------------------------------


def refundable(order: Order, now=None) -> bool:
    """Mirrors the refund action's window test, to decide whether to show the button."""
    now = now or timezone.now()
    return (
        order.status == OrderStatus.PAID and order.settled_at is None and order.refund_until is not None
        and now < order.refund_until
    )


def _admin_circle(request: HttpRequest, slug: str) -> tuple[Circle, Membership]:
    circle, membership = _circle(request, slug, require_member=True)
    _require(rules.check_manage_payments, membership)
    return circle, membership


def _order(request: HttpRequest, public_id: str) -> Order:
    try:
        order = payment_selectors.access_order(request.user, public_id)
    except NotFound:
        raise Http404(_("No such order."))
    if order.is_topup:  # circle order pages only; top-ups are shown on the wallet page
        raise Http404(_("No such order."))
    return order


def _manual_orders_waiting(circle: Circle):
    return Order.objects.filter(circle_id=circle.id, provider="manual", status=OrderStatus.PENDING).select_related(
        "user", "plan"
    )


# --- ordering -----------------------------------------------------------------------------


@login_required
@require_POST
def order_create(request: HttpRequest, slug: str) -> HttpResponse:
    """Choose a plan and a provider: create the order (once per form key) and go and pay."""
    circle, _membership = _circle(request, slug)
    form = payment_forms.OrderForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a plan and a way to pay."))
        return redirect("circle", slug=circle.slug)
    data = form.cleaned_data
    try:
        checkout = payment_actions.do_create_order(
            user=request.user, circle=circle, plan_id=data["plan"], provider=data["provider"],
            idempotency_key=data["idempotency_key"],
        )
    except QuanziError as exc:
        messages.error(request, exc.message)
        return redirect("circle", slug=circle.slug)
    if checkout.order is None:  # a free plan: joined (or asked to) directly
        if checkout.status == "requested":
            messages.success(request, _("Your request to join was sent to the admins."))
            return redirect("circle", slug=circle.slug)
        return redirect("welcome", slug=circle.slug)
    order = checkout.order
    if order.status == OrderStatus.PENDING and checkout.checkout_url:
        return redirect(checkout.checkout_url)
    return redirect("my_order", public_id=order.public_id)


# --- my orders and wallet -----------------------------------------------------------------


@login_required
def my_orders(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    orders = list(payment_selectors.my_orders(request.user)[:200])
    for order in orders:
        order.can_refund = refundable(order, now)
    return render(request, "web/my_orders.html", {"orders": orders})


def _paid_membership(order: Order) -> Membership | None:
    membership = Membership.objects.filter(circle_id=order.circle_id, user_id=order.user_id).first()
    return membership if rules.is_active(membership) else None


@login_required
def my_order(request: HttpRequest, public_id: str) -> HttpResponse:
    order = _order(request, public_id)
    context = {
        "order": order,
        "can_refund": refundable(order),
        "membership": _paid_membership(order) if order.user_id == request.user.id else None,
        "mine": order.user_id == request.user.id,
    }
    return render(request, "web/order.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def order_refund(request: HttpRequest, public_id: str) -> HttpResponse:
    """GET asks for confirmation; POST refunds (the payer, or an admin of the circle)."""
    order = _order(request, public_id)
    back = reverse("my_order", args=[order.public_id])
    if request.method == "GET":
        return render(request, "web/order_refund.html", {"order": order, "can_refund": refundable(order)})
    try:
        payment_actions.do_refund_order(actor=request.user, order=order,
                                        reason=request.POST.get("reason", "")[:500])
    except QuanziError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    messages.success(request, _("Refunded %(amount)s. The membership it paid for has ended.")
                     % {"amount": format_money(order.amount, order.currency)})
    return redirect(back)


@login_required
def wallet(request: HttpRequest) -> HttpResponse:
    from quanzi.payments.views import wallet_page  # balances, history and the top-up form

    return wallet_page(request)


# --- circle admins: payment settings and plans --------------------------------------------


def _plan_rows(circle: Circle, posted: dict | None = None) -> list[dict]:
    rows = []
    for plan in payment_selectors.circle_plans(circle, include_archived=True).order_by("-active", "amount", "id"):
        form = (posted or {}).get(plan.id) or payment_forms.PlanForm(
            currency=plan.currency, kind=plan.kind, auto_id=f"id_plan{plan.id}_%s",
            initial={"name": plan.name, "amount": plan.amount, "trial_days": plan.trial_days},
        )
        rows.append({"plan": plan, "form": form})
    return rows


def _payments_page(request, circle, membership, *, settings_form=None, plan_form=None, plan_forms=None,
                   status=200) -> HttpResponse:
    settings_form = settings_form or payment_forms.PaymentSettingsForm(initial={
        "currency": circle.currency, "refund_window_hours": circle.refund_window_hours,
        "expiry_action": circle.expiry_action, "renewal_reminder_days": circle.renewal_reminder_days,
    })
    context = {
        "circle": circle,
        "membership": membership,
        "nav": _circle_nav(circle, membership),
        "tab": "payments",
        "settings_form": settings_form,
        "plan_form": plan_form or payment_forms.PlanForm(currency=circle.currency, auto_id="id_new_%s"),
        "plans": _plan_rows(circle, plan_forms),
    }
    return render(request, "web/circle_payments.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def payment_settings(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _admin_circle(request, slug)
    if request.method == "GET":
        return _payments_page(request, circle, membership)
    form = payment_forms.PaymentSettingsForm(request.POST)
    if form.is_valid():
        try:
            payment_actions.do_update_payment_settings(actor=request.user, circle=circle, **form.cleaned_data)
        except QuanziError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, _("Payment settings saved."))
            return redirect("payment_settings", slug=circle.slug)
    return _payments_page(request, circle, membership, settings_form=form, status=400)


@login_required
@require_POST
def plan_create(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _admin_circle(request, slug)
    form = payment_forms.PlanForm(request.POST, currency=circle.currency, auto_id="id_new_%s")
    if form.is_valid():
        data = form.cleaned_data
        try:
            payment_actions.do_create_plan(actor=request.user, circle=circle, name=data["name"], kind=data["kind"],
                                           amount=data["amount"], trial_days=data["trial_days"])
        except QuanziError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, _("Plan created."))
            return redirect("payment_settings", slug=circle.slug)
    return _payments_page(request, circle, membership, plan_form=form, status=400)


@login_required
@require_POST
def plan_update(request: HttpRequest, slug: str, plan_id: int) -> HttpResponse:
    circle, membership = _admin_circle(request, slug)
    try:
        plan = payment_selectors.access_plan(circle, plan_id)
    except NotFound:
        raise Http404(_("No such plan."))
    form = payment_forms.PlanForm(request.POST, currency=plan.currency, kind=plan.kind,
                                  auto_id=f"id_plan{plan.id}_%s")
    if form.is_valid():
        data = form.cleaned_data
        try:
            payment_actions.do_update_plan(actor=request.user, circle=circle, plan_id=plan.id, name=data["name"],
                                           amount=data["amount"], trial_days=data["trial_days"])
        except QuanziError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, _("Plan saved."))
            return redirect("payment_settings", slug=circle.slug)
    return _payments_page(request, circle, membership, plan_forms={plan.id: form}, status=400)


@login_required
@require_POST
def plan_archive(request: HttpRequest, slug: str, plan_id: int) -> HttpResponse:
    circle, _membership = _admin_circle(request, slug)
    try:
        plan = payment_actions.do_archive_plan(actor=request.user, circle=circle, plan_id=plan_id)
    except NotFound:
        raise Http404(_("No such plan."))
    except QuanziError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Plan “%(name)s” archived.") % {"name": plan.name})
    return redirect("payment_settings", slug=circle.slug)


# --- circle admins: revenue, manual payments, payouts --------------------------------------


def chart_bars(months, currency: str, *, height: int = 120, bar: int = 30, gap: int = 16) -> dict:
    """An SVG bar chart of net revenue by month, oldest left (server-drawn: no script, CSP-safe)."""
    shown = list(reversed(months[:12]))
    top = max([m.gross for m in shown] + [1])
    bars = []
    for index, month in enumerate(shown):
        x = gap + index * (bar + gap)
        gross_h = round(month.gross * height / top)
        net_h = round(max(month.net, 0) * height / top)
        bars.append({
            "x": x, "label": month.month, "gross_y": 20 + height - gross_h, "gross_h": gross_h,
            "net_y": 20 + height - net_h, "net_h": net_h, "net": format_money(month.net, currency),
            "gross": format_money(month.gross, currency), "text_x": x + bar // 2,
        })
    return {"bars": bars, "width": gap + len(shown) * (bar + gap), "height": height + 40, "bar": bar,
            "base_y": 20 + height, "label_y": height + 35}


def _revenue_page(request, circle, membership, *, payout_form=None, status=200) -> HttpResponse:
    revenue = payment_selectors.circle_revenue(circle)
    total, months = revenue, revenue.months
    context = {
        "circle": circle,
        "membership": membership,
        "nav": _circle_nav(circle, membership),
        "tab": "revenue",
        "revenue": revenue,
        "total": total,
        "months": months,
        "chart": chart_bars(months, revenue.currency),
        "manual_orders": list(_manual_orders_waiting(circle)[:100]),
        "payouts": list(payment_selectors.circle_payouts(circle)[:100]),
        "can_request_payout": rules.has_role(membership, rules.Role.OWNER),
        "payout_form": payout_form or payment_forms.PayoutForm(currency=circle.currency),
    }
    return render(request, "web/revenue.html", context, status=status)


@login_required
def revenue(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _admin_circle(request, slug)
    return _revenue_page(request, circle, membership)


@login_required
@require_POST
def manual_confirm(request: HttpRequest, slug: str, public_id: str) -> HttpResponse:
    circle, _membership = _admin_circle(request, slug)
    order = _order(request, public_id)
    if order.circle_id != circle.id:
        raise Http404(_("No such order."))
    try:
        payment_actions.do_confirm_manual_payment(actor=request.user, order=order)
    except QuanziError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Payment confirmed: %(name)s is a member now.") % {"name": order.user.name})
    return redirect("revenue", slug=circle.slug)


@login_required
@require_POST
def payout_request(request: HttpRequest, slug: str) -> HttpResponse:
    circle, membership = _admin_circle(request, slug)
    _require(rules.check_request_payout, membership)
    form = payment_forms.PayoutForm(request.POST, currency=circle.currency)
    if form.is_valid():
        try:
            payment_actions.do_request_payout(actor=request.user, circle=circle, amount=form.cleaned_data["amount"],
                                              note=form.cleaned_data["note"])
        except QuanziError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, _("Payout requested. The instance's staff will send it."))
            return redirect("revenue", slug=circle.slug)
    return _revenue_page(request, circle, membership, payout_form=form, status=400)


# --- instance staff -----------------------------------------------------------------------


def _staff_only(request: HttpRequest) -> None:
    try:
        rules.check_instance_staff(request.user)
    except Forbidden as exc:
        raise PermissionDenied(exc.message)


@login_required
def staff_payouts(request: HttpRequest) -> HttpResponse:
    _staff_only(request)
    pending = PayoutRequest.objects.filter(status=PayoutStatus.REQUESTED).select_related("circle", "requested_by")
    decided = PayoutRequest.objects.exclude(status=PayoutStatus.REQUESTED).select_related(
        "circle", "requested_by", "decided_by"
    )
    return render(request, "web/staff_payouts.html",
                  {"pending": list(pending.order_by("id")[:200]), "decided": list(decided[:50])})


@login_required
@require_POST
def staff_payout_decide(request: HttpRequest, payout_id: int) -> HttpResponse:
    _staff_only(request)
    form = payment_forms.PayoutDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect("staff_payouts")
    text = form.cleaned_data["text"]
    try:
        if form.cleaned_data["decision"] == "paid":
            payout = payment_actions.do_mark_payout_paid(actor=request.user, payout_id=payout_id, reference=text)
            messages.success(request, _("Payout %(id)s marked as paid.") % {"id": payout.id})
        else:
            payout = payment_actions.do_reject_payout(actor=request.user, payout_id=payout_id, reason=text)
            messages.success(request, _("Payout %(id)s rejected; the money is back in the circle's available revenue.")
                             % {"id": payout.id})
    except NotFound:
        raise Http404
    except QuanziError as exc:
        messages.error(request, exc.message)
    return redirect("staff_payouts")

