"""HTTP endpoints of payments that are not the JSON API: provider webhooks, the sandbox checkout
and the wallet top-up form (the wallet page itself is ``web.payment_views.wallet``).

The webhook view is deliberately thin — read the raw body and headers, hand them to
``webhooks.handle_webhook`` — and CSRF-exempt (providers can't send our token; the
signature is the authentication). The sandbox checkout page turns the payer's choice
into a signed delivery for that same function.
"""

from __future__ import annotations

import time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from quanzi.core.errors import QuanziError

from . import actions, selectors
from .forms import TopupForm
from .models import Order, OrderStatus
from .money import format_amount
from .providers import enabled_providers
from .providers import sandbox as sandbox_provider
from .webhooks import handle_webhook


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, provider: str) -> HttpResponse:
    try:
        body = request.body
    except RequestDataTooBig:
        return JsonResponse({"code": "too_large", "message": "The webhook body is too large."}, status=413)
    try:
        result = handle_webhook(provider, body, request.headers)
    except QuanziError as error:
        return JsonResponse(error.as_dict(), status=error.status)
    return JsonResponse({"ok": True, "result": result})


def _own_order(request: HttpRequest, public_id: str) -> Order:
    order = Order.objects.select_related("circle", "plan").filter(public_id=public_id[:64], user=request.user).first()
    if order is None:
        raise Http404
    return order


@login_required
@require_http_methods(["GET", "POST"])
def sandbox_checkout(request: HttpRequest, public_id: str) -> HttpResponse:
    """The sandbox's "payment page": pay, cancel or fail, delivered as a signed webhook."""
    if "sandbox" not in enabled_providers():
        raise Http404
    order = _own_order(request, public_id)
    if order.provider != "sandbox":
        raise Http404
    if request.method == "POST":
        outcome = request.POST.get("outcome", "")
        if outcome in sandbox_provider.OUTCOMES and order.status == "pending":
            body = sandbox_provider.build_event(order.public_id, outcome, amount=order.amount, currency=order.currency)
            headers = {sandbox_provider.SIGNATURE_HEADER: sandbox_provider.sign(body, int(time.time()))}
            try:
                handle_webhook("sandbox", body, headers)
            except QuanziError as error:
                messages.error(request, error.message)
        return redirect("payments:order_return", public_id=order.public_id)
    amount = format_amount(order.amount, order.currency)
    return render(request, "payments/sandbox_checkout.html", {"order": order, "amount": amount})


@login_required
def order_return(request: HttpRequest, public_id: str) -> HttpResponse:
    """Where a checkout sends the payer back: the order page (status, paid-through date, way in)."""
    order = _own_order(request, public_id)
    if order.is_topup:
        return redirect("wallet")
    return redirect("my_order", public_id=order.public_id)


def wallet_page(request: HttpRequest, *, topup_form: TopupForm | None = None, status: int = 200) -> HttpResponse:
    """The wallet: balances and history per currency, the top-up form and the recent top-ups."""
    wallets = []
    for currency in selectors.wallet_currencies(request.user):
        balance, entries = selectors.wallet(request.user, currency)
        wallets.append({"currency": currency, "balance": balance, "entries": list(entries[:100])})
    initial = {}
    if request.GET.get("currency", "") in dict(TopupForm.base_fields["currency"].choices):
        initial["currency"] = request.GET["currency"]
    context = {
        "wallets": wallets,
        "topup_form": topup_form or TopupForm(initial=initial),
        "topups": list(selectors.my_topups(request.user)[:20]),
    }
    return render(request, "web/wallet.html", context, status=status)


@login_required
@require_POST
def wallet_topup(request: HttpRequest) -> HttpResponse:
    """Put money into your wallet: create the top-up order (once per form key) and go and pay."""
    form = TopupForm(request.POST)
    if not form.is_valid():
        return wallet_page(request, topup_form=form, status=400)
    data = form.cleaned_data
    try:
        checkout = actions.do_create_topup_order(
            user=request.user, amount=data["amount"], currency=data["currency"], provider=data["provider"],
            idempotency_key=data["idempotency_key"],
        )
    except QuanziError as error:
        form.add_domain_error(error)
        return wallet_page(request, topup_form=form, status=error.status)
    order = checkout.order
    if order.status == OrderStatus.PENDING and checkout.checkout_url:
        return redirect(checkout.checkout_url)
    if order.status == OrderStatus.PENDING:
        messages.info(request, _("Top-up %(order)s is waiting: the instance's staff add it to your wallet when "
                                 "they receive your payment.") % {"order": order.public_id})
    return redirect("wallet")
