"""End to end in a real browser: sign up, create a circle, invite, join, chat live, mute.

Two browser contexts (two people): the owner on a desktop viewport, the member on a
phone-sized one. Also fails on any JavaScript error or Content-Security-Policy violation.
"""

from __future__ import annotations

import re
import time

from playwright.sync_api import Page, expect

PASSWORD = "e2e-Correct-Horse-42"


def watch_for_errors(page: Page, errors: list[str]) -> None:
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))

    def on_console(message) -> None:
        text = message.text
        if message.type == "error" and ("Content Security Policy" in text or "Refused to" in text):
            errors.append(f"csp: {text}")

    page.on("console", on_console)


def sign_up(page: Page, username: str) -> None:
    page.fill("#id_username", username)
    page.fill("#id_email", f"{username}@example.com")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("form.form button[type=submit]")


def new_owner_in_chat(server_url: str, page: Page, username: str, name: str, slug: str) -> None:
    """Sign up ``username``, create the circle ``name``/``slug`` from the home page and open its chat."""
    page.goto(server_url + "/accounts/signup/")
    sign_up(page, username)
    page.click("text=Create circle >> nth=0")
    page.fill("#id_name", name)
    page.fill("#id_slug", slug)
    page.click("form.form button[type=submit]")
    expect(page).to_have_url(re.compile(rf"/c/{slug}/$"))
    page.click(".tabs >> text=Chat")


def test_invite_join_chat_and_mute(server_url, browser, shots_dir):
    errors: list[str] = []
    owner_ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    member_ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US", is_mobile=True,
                                     has_touch=True)
    owner = owner_ctx.new_page()
    member = member_ctx.new_page()
    watch_for_errors(owner, errors)
    watch_for_errors(member, errors)
    try:
        # --- the owner signs up and creates a circle with an invite link ----------------------
        owner.goto(server_url + "/accounts/signup/")
        sign_up(owner, "olivia")
        expect(owner.locator("h1")).to_have_text("My circles")

        owner.click("text=Create circle >> nth=0")
        owner.fill("#id_name", "E2E Runners")
        owner.fill("#id_slug", "e2e-runners")
        owner.fill("#id_description", "We run before breakfast.")
        owner.fill("#id_rules_text", "Be kind. No spam.")
        owner.select_option("#id_join_mode", "invite")
        expect(owner.locator("#id_with_channel")).to_be_checked()
        owner.click("form.form button[type=submit]")
        expect(owner).to_have_url(re.compile(r"/c/e2e-runners/$"))
        expect(owner.locator(".circle-title h1")).to_have_text("E2E Runners")

        owner.click(".tabs >> text=Invites")
        owner.fill("#id_max_uses", "5")
        owner.fill("#id_note", "e2e")
        owner.click("form.form button[type=submit]")
        expect(owner.locator(".flash")).to_contain_text("Invite link created")
        link = owner.locator("input.invite-link").first.input_value()
        assert re.match(r"^http://127\.0\.0\.1:\d+/join/[\w-]+/$", link), link

        # --- the member follows the link, signs up, joins, sees the welcome ------------------
        member.goto(link)
        expect(member.locator("h1")).to_have_text("E2E Runners")
        member.click("#signup-to-join")
        sign_up(member, "mia")
        expect(member).to_have_url(link)
        member.click("#join-button")
        expect(member).to_have_url(re.compile(r"/c/e2e-runners/welcome/$"))
        expect(member.locator("#welcome-text")).to_contain_text("Welcome to E2E Runners, mia!")
        expect(member.locator("#welcome-text")).to_contain_text("Be kind. No spam.")
        member.screenshot(path=str(shots_dir / "member-welcome-phone.png"), full_page=True)
        member.click("#follow-channel")
        expect(member).to_have_url(re.compile(r"/c/e2e-runners/g/\d+/$"))
        room_url = member.url

        owner.goto(room_url)
        expect(owner.locator("#conn-status")).to_have_attribute("data-state", "live", timeout=10_000)
        expect(member.locator("#conn-status")).to_have_attribute("data-state", "live", timeout=10_000)
        # The automatic welcome is a system message, styled apart from chat messages.
        expect(owner.locator(".msg-system").last).to_contain_text("Welcome to E2E Runners, mia!")

        # --- live chat both ways, each seen within a second ----------------------------------
        member.fill("#composer-input", "Hello from **mia**")
        started = time.monotonic()
        member.press("#composer-input", "Enter")
        expect(owner.locator(".msg", has_text="Hello from mia")).to_be_visible(timeout=1000)
        member_to_owner = time.monotonic() - started
        expect(owner.locator(".msg", has_text="Hello from mia").locator("strong").last).to_have_text("mia")

        owner.fill("#composer-input", "Welcome @mia, glad you're here")
        started = time.monotonic()
        owner.press("#composer-input", "Enter")
        expect(member.locator(".msg", has_text="glad you're here")).to_be_visible(timeout=1000)
        owner_to_member = time.monotonic() - started
        # The mention of the member is highlighted for her.
        expect(member.locator(".msg-mentions-me .mention-me")).to_have_text("@mia")
        # ...and arrives as a live notice: welcome + mention are unread.
        expect(member.locator("#notice-badge")).to_have_text("2")
        print(f"live delivery: member→owner {member_to_owner * 1000:.0f} ms, "
              f"owner→member {owner_to_member * 1000:.0f} ms")
        assert member_to_owner < 1.0 and owner_to_member < 1.0, (member_to_owner, owner_to_member)

        # --- the owner mutes the member from the members page (htmx) -------------------------
        owner.goto(server_url + "/c/e2e-runners/members/")
        row = owner.locator("li.member", has_text="@mia")
        row.locator("summary").click()
        row.locator("input[name=minutes]").fill("10")
        row.locator(".mute-form input[name=reason]").fill("cool down")
        row.locator(".mute-form button[type=submit]").click()
        expect(owner.locator("li.member", has_text="@mia")).to_contain_text("Muted until")
        expect(owner.locator("li.member", has_text="@mia")).to_contain_text("Member muted.")
        owner.screenshot(path=str(shots_dir / "owner-members.png"), full_page=True)

        # --- the member's next message is refused, visibly -----------------------------------
        member.fill("#composer-input", "Am I still allowed to talk?")
        member.press("#composer-input", "Enter")
        error = member.locator("#composer-error")
        expect(error).to_be_visible(timeout=5000)
        expect(error).to_contain_text("muted")
        # Nothing was posted, and the text is back in the box to try again later.
        expect(member.locator("#composer-input")).to_have_value("Am I still allowed to talk?")
        owner.goto(room_url)
        expect(owner.locator(".msg", has_text="glad you're here")).to_be_visible()
        expect(owner.locator(".msg", has_text="Am I still allowed")).to_have_count(0)

        member.screenshot(path=str(shots_dir / "member-room-phone.png"))
        owner.screenshot(path=str(shots_dir / "owner-room.png"))
        assert not errors, errors
    finally:
        owner_ctx.close()
        member_ctx.close()


def test_pages_in_chinese_and_bad_invite(server_url, browser):
    """The language switch works without JavaScript errors, and a bad invite says so."""
    errors: list[str] = []
    ctx = browser.new_context(viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    watch_for_errors(page, errors)
    try:
        page.goto(server_url + "/join/no-such-code/")
        expect(page.locator(".alert")).to_contain_text("does not exist")
        page.click(".lang-switch button")
        expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
        expect(page.locator(".topbar")).to_contain_text("登录")
        assert not errors, errors
    finally:
        ctx.close()


def test_chat_tools_history_edit_pin_reply_delete(server_url, browser, shots_dir):
    """Older history loads on demand; edit, pin, reply and delete work from the message tools."""
    errors: list[str] = []
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = ctx.new_page()
    watch_for_errors(page, errors)
    try:
        page.goto(server_url + "/accounts/signup/")
        sign_up(page, "tess")
        page.goto(server_url + "/new/")
        page.fill("#id_name", "Tools Circle")
        page.click("form.form button[type=submit]")
        page.click(".tabs >> text=Chat")
        expect(page.locator("#conn-status")).to_have_attribute("data-state", "live", timeout=10_000)
        group_id = int(re.search(r"/g/(\d+)/", page.url).group(1))
        token = page.evaluate("JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken']")
        for n in range(1, 56):
            response = page.request.post(
                f"{server_url}/api/groups/{group_id}/messages",
                data={"body": f"history {n:02d}", "client_id": f"h{n}"},
                headers={"X-CSRFToken": token},
            )
            assert response.status == 201, response.text()
        page.reload()
        expect(page.locator(".msg", has_text="history 55")).to_be_visible()
        expect(page.locator(".msg", has_text="history 01")).to_have_count(0)
        page.click("#load-earlier")
        expect(page.locator(".msg", has_text="history 01")).to_have_count(1)
        expect(page.locator("#load-earlier")).to_be_hidden()

        last = page.locator(".msg", has_text="history 55")
        last.hover()
        last.locator("[data-action=edit]").click()
        last.locator(".msg-edit textarea").fill("history 55, *edited*")
        last.locator(".msg-edit textarea").press("Enter")
        edited = page.locator(".msg", has_text="history 55, edited")
        expect(edited.locator(".msg-edited")).to_be_visible()
        expect(edited.locator(".msg-html em")).to_have_text("edited")

        edited.hover()
        edited.locator("[data-action=pin]").click()
        expect(page.locator("#pinned-bar")).to_contain_text("history 55, edited")

        target_id = page.locator(".msg", has_text="history 54").get_attribute("id")
        target = page.locator(f"#{target_id}")
        target.hover()
        target.locator("[data-action=reply]").click()
        expect(page.locator("#reply-preview")).to_contain_text("history 54")
        page.fill("#composer-input", "a reply")
        page.press("#composer-input", "Enter")
        expect(page.locator(".msg", has_text="a reply").locator(".msg-reply")).to_contain_text("history 54")

        page.on("dialog", lambda dialog: dialog.accept())
        target.hover()
        target.locator("[data-action=delete]").click()
        expect(page.locator(".msg-deleted")).to_contain_text("This message was deleted.")

        # A dropped connection reconnects and fetches what it missed meanwhile.
        page.evaluate("window.quanziChat.drop()")
        expect(page.locator("#conn-status")).to_have_attribute("data-state", "offline")
        response = page.request.post(
            f"{server_url}/api/groups/{group_id}/messages",
            data={"body": "sent while you were away", "client_id": "away"},
            headers={"X-CSRFToken": token},
        )
        assert response.status == 201
        expect(page.locator("#conn-status")).to_have_attribute("data-state", "live", timeout=10_000)
        expect(page.locator(".msg", has_text="sent while you were away")).to_have_count(1)

        # Everything above survives a reload (it went through the server).
        page.reload()
        expect(page.locator(".msg-deleted")).to_have_count(1)
        expect(page.locator("#pinned-bar")).to_contain_text("history 55, edited")
        page.screenshot(path=str(shots_dir / "tools-room.png"))
        assert not errors, errors
    finally:
        ctx.close()
