"""End to end in a real browser: two people exchange direct messages live, then one blocks the other.

Also fails on any JavaScript error or Content-Security-Policy violation.
"""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from .test_e2e_chat import sign_up, watch_for_errors


def test_dm_live_both_ways_then_block(server_url, browser, shots_dir):
    errors: list[str] = []
    owner_ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    member_ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US", is_mobile=True,
                                     has_touch=True)
    owner = owner_ctx.new_page()
    member = member_ctx.new_page()
    watch_for_errors(owner, errors)
    watch_for_errors(member, errors)
    try:
        owner.goto(server_url + "/accounts/signup/")
        sign_up(owner, "dora")
        owner.goto(server_url + "/new/")
        owner.fill("#id_name", "DM Club")
        owner.fill("#id_slug", "dm-club")
        owner.click("form.form button[type=submit]")
        expect(owner).to_have_url(re.compile(r"/c/dm-club/$"))

        member.goto(server_url + "/accounts/signup/")
        sign_up(member, "max")
        member.goto(server_url + "/c/dm-club/")
        member.click("text=Join circle")
        member.click("#skip-onboarding")

        # The member opens a conversation from the owner's row on the members page.
        member.goto(server_url + "/c/dm-club/members/")
        member.locator("li.member", has_text="@dora").locator(".member-dm button").click()
        expect(member).to_have_url(re.compile(r"/c/dm-club/g/\d+/$"))
        expect(member.locator(".room-title h1")).to_have_text("dora")
        dm_url = member.url

        # The owner finds it under Messages.
        owner.click(".tabs >> text=Messages")
        expect(owner.locator(".dm-list")).to_contain_text("max")
        owner.click(".dm-list >> text=max")
        expect(owner).to_have_url(dm_url)
        for page in (owner, member):
            expect(page.locator("#conn-status")).to_have_attribute("data-state", "live", timeout=10_000)

        member.fill("#composer-input", "Hi **dora**, a private question")
        started = time.monotonic()
        member.press("#composer-input", "Enter")
        expect(owner.locator(".msg", has_text="a private question")).to_be_visible(timeout=1000)
        member_to_owner = time.monotonic() - started
        owner.fill("#composer-input", "Sure, ask away 你好")
        started = time.monotonic()
        owner.press("#composer-input", "Enter")
        expect(member.locator(".msg", has_text="ask away 你好")).to_be_visible(timeout=1000)
        owner_to_member = time.monotonic() - started
        print(f"live DM: member→owner {member_to_owner * 1000:.0f} ms, owner→member {owner_to_member * 1000:.0f} ms")
        owner.screenshot(path=str(shots_dir / "dm-owner.png"))
        member.screenshot(path=str(shots_dir / "dm-member-phone.png"))

        # The owner blocks the member: the member's next message is refused, visibly, and not stored.
        owner.locator(".dm-actions summary").click()
        owner.once("dialog", lambda dialog: dialog.accept())  # data-confirm asks first
        owner.locator(".dm-actions button").click()
        expect(owner.locator("#dm-note")).to_contain_text("You blocked this person")
        member.fill("#composer-input", "Are you still there?")
        member.press("#composer-input", "Enter")
        error = member.locator("#composer-error")
        expect(error).to_be_visible(timeout=5000)
        expect(error).to_contain_text("You can't message this person.")
        owner.reload()
        expect(owner.locator(".msg", has_text="ask away")).to_be_visible()
        expect(owner.locator(".msg", has_text="Are you still there?")).to_have_count(0)
        # The blocked person shows on the owner's profile page.
        owner.goto(server_url + "/me/")
        expect(owner.locator("#blocked")).to_contain_text("@max")
        assert not errors, errors
    finally:
        owner_ctx.close()
        member_ctx.close()
