"""End to end: ads posted in a circle with the default policy are stopped live, explained in the review queue.

A spammer, another member and a moderator in three browser contexts. With the defaults an
obvious ad is removed at once (the spammer sees why, nobody else sees it, the queue keeps it
with the explanation). Then the owner lowers the bar to "hold everything doubtful" on the
settings page: the next ad waits for review (only its author sees "awaiting review"), the
moderator is told live, opens the queue, sees score and reasons, and deletes it.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .conftest import manage
from .test_e2e_chat import watch_for_errors

PASSWORD = "e2e-Correct-Horse-42"
AD_REMOVED = "兼职刷单日结，加我微信 sx111505，月入过万，名额有限，速来"
AD_HELD = "Earn $500 a day from home! Join my telegram @cryptosignalz for 100% profit, DM me now"

SETUP = f"""
from quanzi.accounts.models import User
from quanzi.circles import actions as c
from quanzi.moderation.policy import ensure_policy
users = {{n: User.objects.create_user(username=n, email=n + "@example.com", password="{PASSWORD}")
         for n in ("mod_owner", "sam_spam", "nina", "max_mod")}}
circle = c.do_create_circle(owner=users["mod_owner"], name="Ad-free Runners", slug="ad-free", with_channel=True,
                            rules_text="No ads.")
for n in ("sam_spam", "nina", "max_mod"):
    c.do_join_circle(user=users[n], circle=circle)
c.do_set_role(actor=users["mod_owner"], circle=circle, user_id=users["max_mod"].id, role="moderator")
ensure_policy(circle.id)
print(circle.main_group_id)
"""


def log_in(page: Page, server_url: str, username: str) -> None:
    page.goto(server_url + "/accounts/login/")
    page.fill("#id_login", username)
    page.fill("#id_password", PASSWORD)
    page.click("form.form button[type=submit]")
    expect(page.locator("h1")).to_have_text("My circles")


def test_ads_are_held_or_removed_live_and_reviewed(server_url, server_data_dir, browser, shots_dir):
    made = manage(server_data_dir, "shell", "-c", SETUP)
    assert made.returncode == 0, made.stderr
    main_id = int(made.stdout.strip().splitlines()[-1])
    room = f"{server_url}/c/ad-free/g/{main_id}/"
    errors: list[str] = []
    contexts = {name: browser.new_context(viewport={"width": 1200, "height": 800}, locale="en-US")
                for name in ("sam_spam", "nina", "max_mod", "mod_owner")}
    pages = {name: ctx.new_page() for name, ctx in contexts.items()}
    for page in pages.values():
        watch_for_errors(page, errors)
    spammer, nina, mod, owner = pages["sam_spam"], pages["nina"], pages["max_mod"], pages["mod_owner"]
    try:
        for name, page in pages.items():
            log_in(page, server_url, name)
        for page in (spammer, nina, mod):
            page.goto(room)
            expect(page.locator("#conn-status")).to_have_attribute("data-state", "live", timeout=10_000)

        # --- defaults: an obvious ad is removed on the spot, with the reason for its author ----------
        nina.fill("#composer-input", "Morning run at 6, who's in?")
        nina.press("#composer-input", "Enter")
        expect(spammer.locator(".msg", has_text="who's in?")).to_be_visible(timeout=3000)
        spammer.fill("#composer-input", AD_REMOVED)
        spammer.press("#composer-input", "Enter")
        mine = spammer.locator(".msg", has_text="sx111505")
        expect(mine).to_be_visible(timeout=3000)
        expect(mine.locator(".msg-moderation")).to_contain_text("Removed: this looks like an ad")

        # --- the owner holds doubtful content instead of deleting it (settings page) ------------------
        owner.goto(server_url + "/c/ad-free/moderation/settings/")
        expect(owner.locator("#id_hold_threshold")).to_have_value("0.5")
        owner.fill("#id_delete_threshold", "1")
        owner.click("#policy-form button[type=submit]")
        expect(owner.locator(".flash")).to_contain_text("Moderation settings saved")

        spammer.fill("#composer-input", AD_HELD)
        spammer.press("#composer-input", "Enter")
        held = spammer.locator(".msg", has_text="cryptosignalz")
        expect(held).to_be_visible(timeout=3000)
        expect(held.locator(".msg-moderation")).to_contain_text("Awaiting review")
        # The moderator is told live (a notice), nobody else sees the ad.
        expect(mod.locator("#notice-badge")).not_to_have_text("0", timeout=5000)
        spammer.screenshot(path=str(shots_dir / "spammer-awaiting-review.png"))

        # --- the moderator reviews: score and explanation beside the ad, one click to delete --------
        mod.goto(server_url + "/c/ad-free/moderation/queue/")
        expect(mod.locator(".tabs").first).to_contain_text(re.compile(r"Review queue \(1\)"))
        item = mod.locator(".review-item", has_text="cryptosignalz")
        expect(item).to_be_visible()
        expect(item.locator(".review-why")).to_contain_text("score")
        expect(item.locator(".review-reasons li").first).to_be_visible()
        expect(item.locator(".review-reasons")).to_contain_text("ad")
        mod.screenshot(path=str(shots_dir / "review-queue.png"), full_page=True)
        item.locator("button[value=delete]").click()
        expect(mod.locator(".review-item", has_text="cryptosignalz")).to_contain_text("Removed")
        # The automatic removal is there too, with its explanation.
        mod.goto(server_url + "/c/ad-free/moderation/queue/?status=removed")
        expect(mod.locator(".review-item", has_text="sx111505")).to_contain_text("automatic")

        # --- the other member never saw either ad, live or after a reload ----------------------------
        expect(nina.locator(".msg", has_text="sx111505")).to_have_count(0)
        expect(nina.locator(".msg", has_text="cryptosignalz")).to_have_count(0)
        nina.reload()
        expect(nina.locator(".msg", has_text="who's in?")).to_be_visible()
        expect(nina.locator(".msg", has_text="cryptosignalz")).to_have_count(0)
        expect(nina.locator(".msg", has_text="sx111505")).to_have_count(0)
        assert not errors, errors
    finally:
        for ctx in contexts.values():
            ctx.close()
