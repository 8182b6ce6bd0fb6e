"""End to end in a real browser: a paid circle, a sandbox payment, a refund, the owner's revenue.

The owner (desktop) creates a circle and a ¥99.00 yearly plan; a second person (phone) pays on
the sandbox checkout page, lands as an active member, refunds from My orders inside the
window, and sees the pricing again; the owner's revenue page shows the payment and the refund.
Fails on any JavaScript error or Content-Security-Policy violation.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .test_e2e_chat import sign_up, watch_for_errors


def test_pay_join_refund_and_revenue(server_url, browser, shots_dir):
    errors: list[str] = []
    owner_ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    payer_ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US", is_mobile=True,
                                    has_touch=True)
    owner = owner_ctx.new_page()
    payer = payer_ctx.new_page()
    watch_for_errors(owner, errors)
    watch_for_errors(payer, errors)
    owner.on("dialog", lambda dialog: dialog.accept())
    payer.on("dialog", lambda dialog: dialog.accept())
    try:
        # --- the owner creates a circle and a yearly plan of ¥99.00 ---------------------------
        owner.goto(server_url + "/accounts/signup/")
        sign_up(owner, "paula")
        expect(owner.locator("h1")).to_have_text("My circles")
        owner.click("text=Create circle >> nth=0")
        owner.fill("#id_name", "Paid Readers")
        owner.fill("#id_slug", "paid-readers")
        owner.fill("#id_rules_text", "Read one book a month.")
        owner.click("form.form button[type=submit]")
        expect(owner).to_have_url(re.compile(r"/c/paid-readers/$"))

        owner.click(".tabs >> text=Payments")
        owner.fill("#id_new_name", "Yearly")
        owner.select_option("#id_new_kind", "yearly")
        owner.fill("#id_new_amount", "99.00")
        owner.click("#plan-create-form button[type=submit]")
        expect(owner.locator(".flash")).to_contain_text("Plan created")
        expect(owner.locator(".plan-admin").first).to_contain_text("¥99.00")
        owner.screenshot(path=str(shots_dir / "owner-payments-desktop.png"), full_page=True)

        # --- a second person picks the plan and pays on the sandbox page ----------------------
        payer.goto(server_url + "/accounts/signup/")
        sign_up(payer, "pete")
        payer.goto(server_url + "/c/paid-readers/")
        expect(payer.locator("#pricing")).to_contain_text("¥99.00")
        expect(payer.locator("#paid-circle-note")).to_be_visible()
        expect(payer.locator("form[action$='/join/']")).to_have_count(0)
        payer.screenshot(path=str(shots_dir / "payer-pricing-phone.png"), full_page=True)
        buy = payer.locator(".plan-buy")
        expect(buy).to_have_text("Join for ¥99.00/year")
        buy.click()
        expect(payer).to_have_url(re.compile(r"/payments/sandbox/ord_[\w-]+/$"))
        payer.screenshot(path=str(shots_dir / "payer-sandbox-phone.png"), full_page=True)
        payer.click("button[value=pay]")
        expect(payer.locator("main")).to_contain_text("Paid")

        # --- the payer is an active member: the welcome says until when ------------------------
        payer.goto(server_url + "/c/paid-readers/")
        expect(payer).to_have_url(re.compile(r"/c/paid-readers/welcome/$"))
        expect(payer.locator("#membership-active")).to_contain_text("Your membership is active until")
        expect(payer.locator("#welcome-text")).to_contain_text("Read one book a month.")
        payer.screenshot(path=str(shots_dir / "payer-welcome-phone.png"), full_page=True)

        # --- My orders: refund inside the window ----------------------------------------------
        payer.click("a.nav-orders")
        expect(payer.locator("h1")).to_have_text("My orders")
        row = payer.locator("tr.order-row").first
        expect(row).to_contain_text("Paid Readers")
        expect(row).to_contain_text("¥99.00")
        expect(row.locator(".status")).to_have_text("Paid")
        payer.screenshot(path=str(shots_dir / "payer-orders-phone.png"), full_page=True)
        row.locator(".refund-link").click()
        expect(payer.locator("h1")).to_have_text("Refund this payment?")
        payer.click("#confirm-refund")
        expect(payer.locator(".flash")).to_contain_text("Refunded ¥99.00")
        expect(payer.locator("#order-status")).to_have_text("Refunded")

        # Membership ended: the circle page offers the plan again.
        payer.goto(server_url + "/c/paid-readers/")
        expect(payer.locator(".plan-buy")).to_have_text("Join for ¥99.00/year")
        expect(payer.locator(".tabs")).to_have_count(0)
        # ...also in Chinese.
        payer.click(".lang-switch button")
        expect(payer.locator(".plan-buy")).to_have_text("¥99.00/年 加入")
        payer.screenshot(path=str(shots_dir / "payer-pricing-zh-phone.png"), full_page=True)

        # --- the owner's revenue page ---------------------------------------------------------
        owner.click(".tabs >> text=Revenue")
        expect(owner.locator("#rev-gross")).to_have_text("¥99.00")
        expect(owner.locator("#rev-refunds")).to_have_text("¥99.00")
        expect(owner.locator("#rev-net")).to_have_text("¥0.00")
        expect(owner.locator("#revenue-months tbody tr")).to_have_count(1)
        owner.screenshot(path=str(shots_dir / "owner-revenue-desktop.png"), full_page=True)
        owner.set_viewport_size({"width": 390, "height": 844})
        owner.screenshot(path=str(shots_dir / "owner-revenue-phone.png"), full_page=True)
        assert errors == [], errors
    finally:
        owner_ctx.close()
        payer_ctx.close()
