"""In a real browser: a chat message with a link shows the card of its archived copy (kept on our server)."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from .conftest import manage
from .test_e2e_chat import new_owner_in_chat, watch_for_errors

# The browser tests' server runs no task worker and has no network: the test runs the queued tasks
# (citing the link, then a fetch that fails), makes that snapshot an archived copy as a successful
# fetch would have, and reloads the room.
ARCHIVE = (
    "from quanzi.archive.models import LinkSnapshot; "
    "from quanzi.chat.models import Message; "
    "m = Message.objects.filter(body__contains='example.org/slow-running').latest('id'); "
    "s = LinkSnapshot.objects.filter(citations__kind='message', citations__object_id=m.id).first(); "
    "print('PENDING' if s is None or s.status == 'pending' else 'DONE', s and s.status); "
    "s and s.status != 'pending' and LinkSnapshot.objects.filter(id=s.id).update("
    "status='ok', title='Slow running, explained', description='Why easy runs make you faster.', "
    "site_name='Example Running', final_url=s.url, text='Run slow to run fast.')"
)


def test_link_in_a_chat_message_gets_an_archived_card(server_url, server_data_dir, browser, shots_dir):
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 390, "height": 800}, locale="en-US")
    page = context.new_page()
    watch_for_errors(page, errors)
    try:
        new_owner_in_chat(server_url, page, "lena", "Link Runners", "link-runners")
        page.fill("#composer-input", "Worth reading: https://example.org/slow-running")
        page.press("#composer-input", "Enter")
        expect(page.locator("#message-list")).to_contain_text("example.org/slow-running")
        deadline = time.monotonic() + 60
        while True:  # the worker cites the link and tries to fetch it (no network here); then archive it
            worked = manage(server_data_dir, "db_worker", "--batch", "--no-startup-delay")
            assert worked.returncode == 0, worked.stderr[-3000:]
            done = manage(server_data_dir, "shell", "-c", ARCHIVE)
            assert done.returncode == 0, done.stderr[-3000:]
            if "DONE" in done.stdout or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert "DONE" in done.stdout, done.stdout + worked.stdout[-2000:] + worked.stderr[-2000:]
        page.reload()
        card = page.locator("#message-list .link-card")
        expect(card).to_have_count(1)
        expect(card.locator(".link-card-title")).to_have_text("Slow running, explained")
        expect(card.locator(".link-card-site")).to_contain_text("Example Running · archived copy")
        page.screenshot(path=str(shots_dir / "chat-link-card.png"), full_page=True)
        card.click()
        expect(page.locator("body")).to_contain_text("Run slow to run fast.")  # our copy, not the source
        assert errors == []
    finally:
        context.close()
