"""In a real browser: a chat message is found from the circle's Search tab (htmx results, highlight, filter)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .test_e2e_chat import new_owner_in_chat, watch_for_errors


def test_search_finds_chinese_and_english(server_url, browser, shots_dir):
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    watch_for_errors(page, errors)
    try:
        new_owner_in_chat(server_url, page, "sara", "Search Runners", "search-runners")
        page.fill("#composer-input", "今天早起打卡成功 — Good Morning, <runners>!")
        page.press("#composer-input", "Enter")
        expect(page.locator("#message-list")).to_contain_text("今天早起打卡成功")

        page.goto(server_url + "/c/search-runners/")
        page.click(".tabs >> text=Search")
        expect(page).to_have_url(re.compile(r"/c/search-runners/search/$"))
        page.fill("#search-q", "早起")
        page.press("#search-q", "Enter")
        expect(page.locator("#search-results mark").first).to_have_text("早起")
        expect(page).to_have_url(re.compile(r"search/\?q=%E6%97%A9%E8%B5%B7"))  # htmx pushed the query
        page.fill("#search-q", "MORN")
        page.press("#search-q", "Enter")
        expect(page.locator("#search-results mark").first).to_have_text("Morn")
        expect(page.locator("#search-results .snippet")).to_contain_text("<runners>")  # escaped, shown as text
        page.screenshot(path=str(shots_dir / "search-results.png"), full_page=True)
        page.select_option("#search-kind", "post")
        page.press("#search-q", "Enter")
        expect(page.locator("#search-empty")).to_be_visible()
        page.fill("#search-q", "   ")
        page.press("#search-q", "Enter")
        expect(page.locator("#search-error")).to_contain_text("Type something to search for.")
        assert errors == []
    finally:
        context.close()
