"""End to end in a real browser: a deposit challenge from creation to the settlement report.

An organiser (desktop) creates a circle in Asia/Shanghai and a challenge with a ¥20.00 deposit
and a 10 % organiser fee, one check-in day needed, its window open now. A member (phone) tries
to join with an empty wallet (refused: top up first), tops up ¥50.00 on the sandbox checkout,
joins paying the deposit and checks in. A second member tops up, joins and never checks in.
Then the challenge ends (its dates are moved into the past in the server's database) and the
settlement runs through ``quanzi manage settle_challenge`` against the same database. The
organiser's report shows the pool, the forfeit, the fee and each member's amount; the member
sees their own row and ¥38.00 more in the wallet. Fails on any JavaScript error or CSP violation.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from .conftest import manage
from .test_e2e_chat import sign_up, watch_for_errors

TZ = ZoneInfo("Asia/Shanghai")


def top_up(page: Page, server_url: str, amount: str) -> None:
    page.goto(server_url + "/me/wallet/")
    page.fill("#id_amount", amount)
    page.select_option("#id_currency", "CNY")
    page.select_option("#id_provider", "sandbox")
    page.click("#topup-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/payments/sandbox/ord_[\w-]+/$"))
    page.click("button[value=pay]")
    expect(page).to_have_url(re.compile(r"/me/wallet/$"))


def join_circle(page: Page, server_url: str, name: str) -> None:
    page.goto(server_url + "/accounts/signup/")
    sign_up(page, name)
    page.goto(server_url + "/c/early-risers/")
    page.click("form[action$='/join/'] button[type=submit]")
    expect(page).to_have_url(re.compile(r"/c/early-risers/welcome/$"))


@pytest.mark.timeout(420)  # three people, two sandbox checkouts, and management commands in subprocesses
def test_deposit_challenge_from_creation_to_settlement(server_url, server_data_dir, browser, shots_dir):
    errors: list[str] = []
    contexts = [
        browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US"),
        browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US", is_mobile=True, has_touch=True),
        browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US", is_mobile=True, has_touch=True),
    ]
    organiser, member, quitter = (ctx.new_page() for ctx in contexts)
    for page in (organiser, member, quitter):
        watch_for_errors(page, errors)
        page.on("dialog", lambda dialog: dialog.accept())
    now = datetime.now(TZ)
    opens, closes = now - timedelta(hours=1), now + timedelta(hours=2)
    try:
        # --- the organiser: a circle in Shanghai time and a deposit challenge open now -----------
        organiser.goto(server_url + "/accounts/signup/")
        sign_up(organiser, "olga")
        organiser.goto(server_url + "/new/")
        organiser.fill("#id_name", "Early Risers")
        organiser.fill("#id_slug", "early-risers")
        organiser.fill("#id_rules_text", "Up before the sun.")
        organiser.select_option("#id_timezone", "Asia/Shanghai")
        organiser.click("form.form button[type=submit]")
        expect(organiser).to_have_url(re.compile(r"/c/early-risers/$"))

        organiser.goto(server_url + "/c/early-risers/challenges/new/")
        organiser.fill("#id_title", "早起打卡 Sunrise week")
        organiser.fill("#id_start_date", (now - timedelta(days=1)).date().isoformat())
        organiser.fill("#id_end_date", (now + timedelta(days=1)).date().isoformat())
        for day in range(7):
            organiser.check(f"#id_weekdays_{day}")
        organiser.fill("#id_window_start", opens.strftime("%H:%M"))
        organiser.fill("#id_window_end", closes.strftime("%H:%M"))
        organiser.fill("#id_days_to_complete", "1")
        organiser.fill("#id_join_deadline", (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
        organiser.fill("#id_deposit", "20.00")
        organiser.select_option("#id_share_mode", "even")
        organiser.fill("#id_organiser_fee_bps", "1000")
        organiser.screenshot(path=str(shots_dir / "organiser-new-challenge.png"), full_page=True)
        organiser.click("form.challenge-form button[type=submit]")
        expect(organiser).to_have_url(re.compile(r"/c/early-risers/challenges/\d+/$"))
        challenge_url = organiser.url
        challenge_id = int(re.search(r"/challenges/(\d+)/$", challenge_url).group(1))
        expect(organiser.locator("#challenge-rules")).to_contain_text("¥20.00")

        # --- a member: refused with an empty wallet, tops up, joins paying, checks in -------------
        join_circle(member, server_url, "mina")
        member.goto(challenge_url)
        member.click("#join-challenge")
        expect(member.locator(".flash")).to_contain_text("Top up your wallet first")
        expect(member.locator("#join-challenge")).to_be_visible()  # nothing was stored: still joinable

        top_up(member, server_url, "50.00")
        expect(member.locator(".balance")).to_have_text("¥50.00")
        expect(member.locator("tr.topup-row .status")).to_have_text("Paid")
        member.screenshot(path=str(shots_dir / "member-wallet-phone.png"), full_page=True)

        member.goto(challenge_url)
        member.click("#join-challenge")
        expect(member.locator(".flash")).to_contain_text("You joined the challenge")
        member.fill("#checkin-form textarea", "起床了！Up at dawn, 5 km run.")
        member.click("#checkin-form button[type=submit]")
        expect(member.locator("#checked-in")).to_be_visible()
        member.screenshot(path=str(shots_dir / "member-checked-in-phone.png"), full_page=True)
        member.goto(server_url + "/me/wallet/")
        expect(member.locator(".balance")).to_have_text("¥30.00")

        # --- a second member pays the deposit and never checks in ---------------------------------
        join_circle(quitter, server_url, "leo")
        top_up(quitter, server_url, "20.00")
        quitter.goto(challenge_url)
        quitter.click("#join-challenge")
        expect(quitter.locator(".flash")).to_contain_text("You joined the challenge")

        # --- before the end the organiser's report is a projection ---------------------------------
        organiser.goto(server_url + f"/c/early-risers/challenges/{challenge_id}/settlement/")
        expect(organiser.locator("#settlement-status")).to_contain_text("Not settled yet")
        expect(organiser.locator("#settlement-pool")).to_have_text("¥40.00")

        # --- the challenge ends; the settlement runs as the task would ----------------------------
        past = (now - timedelta(days=5)).date()
        moved = manage(server_data_dir, "shell", "-c", (
            "from quanzi.checkins.models import Challenge; import datetime; "
            f"Challenge.objects.filter(id={challenge_id}).update(start_date=datetime.date.fromisoformat('{past}'), "
            f"end_date=datetime.date.fromisoformat('{past}') + datetime.timedelta(days=2))"
        ))
        assert moved.returncode == 0, moved.stderr[-3000:]
        settled = manage(server_data_dir, "settle_challenge", str(challenge_id))
        assert settled.returncode == 0, settled.stderr[-3000:]
        assert "paid 2 member(s) now" in settled.stdout
        again = manage(server_data_dir, "settle_challenge", str(challenge_id))
        assert again.returncode == 0 and "already_settled" in again.stdout, again.stdout + again.stderr[-2000:]
        verified = manage(server_data_dir, "ledger_verify")
        assert verified.returncode == 0 and "ledger OK" in verified.stdout, verified.stdout + verified.stderr

        # --- the report: pool, forfeit, fee, amounts ------------------------------------------------
        organiser.goto(server_url + f"/c/early-risers/challenges/{challenge_id}/settlement/")
        expect(organiser.locator("#settlement-status")).to_contain_text("Settled on")
        expect(organiser.locator("#settlement-pool")).to_have_text("¥40.00")
        expect(organiser.locator("#settlement-forfeited")).to_have_text("¥20.00")
        expect(organiser.locator("#settlement-fee")).to_contain_text("¥2.00")
        mia = organiser.locator("#settlement-row-mina")
        expect(mia).to_contain_text("Completed")
        expect(mia.locator(".amount")).to_have_text("¥38.00")
        leo = organiser.locator("#settlement-row-leo")
        expect(leo).to_contain_text("Failed")
        expect(leo.locator(".amount")).to_have_text("¥0.00")
        organiser.screenshot(path=str(shots_dir / "organiser-settlement-report.png"), full_page=True)

        member.goto(server_url + f"/c/early-risers/challenges/{challenge_id}/settlement/")
        expect(member.locator("#settlement-row-mina .amount")).to_have_text("¥38.00")
        expect(member.locator("#settlement-row-leo")).to_have_count(0)
        member.goto(server_url + "/me/wallet/")
        expect(member.locator(".balance")).to_have_text("¥68.00")
        member.screenshot(path=str(shots_dir / "member-wallet-after-phone.png"), full_page=True)
        quitter.goto(server_url + "/me/wallet/")
        expect(quitter.locator(".balance")).to_have_text("¥0.00")
        assert errors == []
    finally:
        for ctx in contexts:
            ctx.close()
