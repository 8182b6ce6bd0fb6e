"""The cheap send path: plain SQL in do_send_message and emit, and the plain-text markdown shortcut.

These prove that the shortcuts give exactly what the general code gives: the same HTML
for any text, the same rows, the same event payload, and the same errors in the same order.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from circles.helpers import assert_denied, snapshot
from django.utils import timezone
from hypothesis import example, given, settings
from hypothesis import strategies as st

from quanzi.chat import actions as chat_actions
from quanzi.chat import markdown
from quanzi.chat.models import Group, GroupMember, Message
from quanzi.chat.selectors import message_to_dict
from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Circle
from quanzi.core.models import DomainEvent

# --- markdown: the plain-text shortcut against the full renderer --------------------------
# (pure functions: these run in make test's SQLite pass only)

# Mostly ordinary chat text, with everything that could trip the shortcut mixed in:
# markdown punctuation, block markers, HTML-special characters, line breaks, odd spaces.
_SPECIAL = list("*_`[]()\\~<>&\"'!#=+-|.):@0123456789 ") + [
    "\n", "\r", "\t", "\x00", "\x0b", "\x0c", "\x85", "\xa0", "\u2028", "\u2029", "\u3000", "\u200b",
    "\ufeff", "\ufffe", "\uffff", "&amp;", "&#x41;", "&lt;", "```", "~~~", "1. ", "- ", "> ", "    ",
    "@all", "@所有人", "@bob", "<b>", "<script>", "[x](javascript:alert(1))", "\u0301", "\xad",
    "https://a.b/c", "http://例子.中国/路径", "https://x.y/?a=1&b=2", "://", "http://", "www.a.b",
]
_ORDINARY = list("abcxyzABC 你好世界，。！？「」中文") + ["😀", "👍🏽", "🇨🇳", "👨‍👩‍👧"]
chat_text = st.lists(
    st.one_of(st.sampled_from(_ORDINARY), st.sampled_from(_SPECIAL), st.characters(exclude_categories=["Cs"])),
    max_size=40,
).map("".join)


@pytest.mark.db_independent
@settings(max_examples=1500, deadline=None)
@given(chat_text)
@example("hello world")
@example("你好，世界！ 😀 & <3 -> \"ok\" it's 2pm: 100% #1 a|b x\xa0y a\u3000b")
@example("2024. was a year")
@example("x\n")
def test_plain_shortcut_renders_exactly_like_markdown(text):
    plain = markdown.render_plain(text)
    if plain is not None:
        assert plain == markdown.render_markdown(text)
    assert markdown.render(text) == markdown.render_markdown(text)


@pytest.mark.db_independent
@settings(max_examples=500, deadline=None)
@given(chat_text, st.dictionaries(st.sampled_from(["bob", "amy", "所有人"]), st.integers(1, 9)), st.booleans())
def test_render_with_mentions_matches_the_full_renderer(text, mentions, mention_all):
    assert markdown.render(text, mentions=mentions, mention_all=mention_all) == markdown.render_markdown(
        text, mentions=mentions, mention_all=mention_all
    )


@pytest.mark.db_independent
@settings(max_examples=500, deadline=None)
@given(chat_text)
def test_text_without_at_sign_mentions_nobody(text):
    """find_mentions skips the parse when there is no "@"; the parse would find nothing either."""
    names, mention_all = markdown.find_mentions(text)
    full = {m.group(1).rstrip(".") for m in markdown.MENTION_RE.finditer(markdown._mention_text(text))}
    assert names == full - markdown.ALL_MENTIONS
    assert mention_all == bool(full & markdown.ALL_MENTIONS)


@pytest.mark.db_independent
@pytest.mark.parametrize(
    "text",
    ["hello", "你好，世界 😀", "a & b <3 -> \"q\"", "it's 2pm", "x\xa0y", "#hashtag", "mail me: a@b.c"],
)
def test_shortcut_is_taken_for_ordinary_chat(text):
    assert markdown.render_plain(text) == markdown.render_markdown(text)


@pytest.mark.db_independent
@pytest.mark.parametrize(
    "text",
    ["*hi*", "a_b_", "`x`", "[a](b)", "> quote", "- item", "1. item", "3) item", "a\nb", "    code",
     " lead", "trail ", "\ud800", "a\\b", "~~~", "see https://example.org"],
)
def test_markdown_or_odd_text_takes_the_full_path(text):
    assert markdown.render_plain(text) is None


@pytest.mark.db_independent
def test_lone_surrogate_still_fails_as_before():
    with pytest.raises(UnicodeEncodeError):
        markdown.render("bad \ud800 text")


# --- do_send_message: what it writes and returns ------------------------------------------


@pytest.fixture
def main(circle):
    return circle.main_group


def test_send_writes_the_same_rows_and_event_as_before(circle, main, member, captured_events,
                                                       django_capture_on_commit_callbacks):
    Circle.objects.filter(id=circle.id).update(timezone="Pacific/Kiritimati")  # UTC+14: a different day often
    with django_capture_on_commit_callbacks(execute=True):
        message = chat_actions.do_send_message(sender=member, group=main, body="  hello & <3  ", client_id="c-1")

    stored = Message.objects.get(id=message.id)
    for field in ("group_id", "author_id", "kind", "body", "body_html", "reply_to_id", "mentions_all",
                  "client_id", "created_at", "edited_at", "deleted_at", "pinned_at"):
        assert getattr(message, field) == getattr(stored, field), field
    assert stored.body == "hello & <3" and stored.body_html == "<p>hello &amp; &lt;3</p>"
    assert timezone.is_aware(message.created_at)
    assert message_to_dict(message, mentioned_ids=[]) == message_to_dict(stored, mentioned_ids=[])

    seat = GroupMember.objects.get(group=main, user=member)
    assert seat.last_read_message_id == message.id and seat.last_posted_at == stored.created_at

    event_row = DomainEvent.objects.get(type="message.new", data__message_id=message.id)
    assert event_row.circle_id == circle.id and event_row.group_id == main.id and event_row.actor_id == member.id
    assert event_row.data == {"message_id": message.id, "length": len("hello & <3")}
    assert event_row.day == event_row.created_at.astimezone(ZoneInfo("Pacific/Kiritimati")).date()

    [event] = [e for e in captured_events if e.type == "message.new"]
    assert event.id == event_row.id and event.circle_id == circle.id and event.group_id == main.id
    assert event.payload == {"message": message_to_dict(stored, mentioned_ids=[])}


def test_send_needs_only_the_group_id(circle, main, member):
    """The WebSocket passes Group(id=...) without loading it; the circle comes from the database."""
    message = chat_actions.do_send_message(sender=member, group=Group(id=main.id), body="hi")
    assert message.group_id == main.id and message.group.circle_id == circle.id


def test_plain_send_is_a_handful_of_statements(main, member, django_assert_max_num_queries):
    chat_actions.do_send_message(sender=member, group=main, body="warm up")
    # savepoint, membership, group + seat, moderation trust read, message, seat, trust count, event, release
    with django_assert_max_num_queries(9):
        chat_actions.do_send_message(sender=member, group=main, body="plain text")


def test_mentions_still_resolve_and_notify(circle, main, member, moderator):
    message = chat_actions.do_send_message(sender=member, group=main, body="hi @moderator and @nobody")
    assert list(message.mentioned_users.values_list("id", flat=True)) == [moderator.id]
    assert f'data-user-id="{moderator.id}"' in message.body_html and "@nobody" in message.body_html


def test_client_id_inserted_concurrently_returns_that_message(main, member, monkeypatch):
    """The retry that raced past the client_id check: the insert does nothing and the first
    message comes back, with no second seat update or event."""
    first = chat_actions.do_send_message(sender=member, group=main, body="once", client_id="race-1")
    sql = dict(chat_actions._send_sql(chat_actions.connection.features.has_select_for_update_of))
    sql["client_id"] = sql["client_id"].replace("WHERE", "WHERE 1 = 0 AND")  # the check misses
    monkeypatch.setattr(chat_actions, "_send_sql", lambda lock: sql)
    before = snapshot()

    again = chat_actions.do_send_message(sender=member, group=main, body="once", client_id="race-1")

    assert again.id == first.id
    assert snapshot() == before


def test_no_seat_errors_keep_their_order(circle, main, member, moderator, admin):
    """Without a seat the group is read on its own: archived and mute-all still come first."""
    group = chat_actions.do_create_group(actor=admin, circle=circle, name="Side")
    assert_denied("not_group_member", lambda: chat_actions.do_send_message(sender=member, group=group, body="x"))
    chat_actions.do_update_group(actor=moderator, group=group, mute_all=True)
    assert_denied("mute_all", lambda: chat_actions.do_send_message(sender=member, group=group, body="x"))
    Group.objects.filter(id=group.id).update(archived_at=timezone.now())
    assert_denied("group_archived", lambda: chat_actions.do_send_message(sender=member, group=group, body="x"))


def test_muted_until_is_read_as_an_aware_time(circle, main, member, moderator):
    membership = circle_actions.do_mute_member(actor=moderator, circle=circle, user_id=member.id, minutes=30)
    error = assert_denied("muted", lambda: chat_actions.do_send_message(sender=member, group=main, body="x"))
    assert timezone.localtime(membership.muted_until).strftime("%Y-%m-%d %H:%M %Z") in error.message
