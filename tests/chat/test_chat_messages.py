"""Sending, editing, deleting, pinning and reading messages through the chat actions."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from circles.helpers import assert_denied, snapshot
from django.conf import settings
from django.utils import timezone

from quanzi.chat import actions as chat_actions
from quanzi.chat import markdown
from quanzi.chat.models import GroupMember, Message, Notice, NoticeKind
from quanzi.chat.selectors import message_page, messages_to_dicts, unread_counts
from quanzi.circles import actions as circle_actions
from quanzi.core.errors import RateLimited


def send(user, group, body="hello", **kwargs) -> Message:
    return chat_actions.do_send_message(sender=user, group=group, body=body, **kwargs)


def age(message: Message, seconds: int) -> None:
    """Move a message into the past (the edit window is measured from created_at)."""
    Message.objects.filter(id=message.id).update(created_at=timezone.now() - timedelta(seconds=seconds))


@pytest.fixture
def main(circle):
    return circle.main_group


# --- body validation ----------------------------------------------------------------------


def test_length_limit_is_4000(main, member):
    assert settings.QUANZI_MESSAGE_MAX_LENGTH == 4000
    ok = send(member, main, "a" * 4000)
    assert len(ok.body) == 4000
    assert_denied("message_too_long", lambda: send(member, main, "b" * 4001))
    # Surrounding whitespace does not count.
    assert len(send(member, main, "  " + "c" * 4000 + "\n").body) == 4000


@pytest.mark.parametrize(("body", "code"), [("", "empty_message"), ("   \n\t ", "empty_message"),
                                             (None, "invalid_body"), (42, "invalid_body")])
def test_empty_or_non_text_refused(main, member, body, code):
    assert_denied(code, lambda: send(member, main, body))


# --- markdown sanitising ------------------------------------------------------------------


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parse_tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    collector = _Collect()
    collector.feed(html)
    return collector.tags


HOSTILE = [
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](java&#x09;script:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=https://evil.example></iframe>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<svg onload=alert(1)>",
    "**bold** <b onclick=alert(1)>raw</b>",
    "[x](https://ok.example/\" onmouseover=\"alert(1))",
    "![img](https://evil.example/x.png)",
    "`<script>` in code and\n```\n<script>alert(1)</script>\n```",
    'see https://ok.example/" onmouseover="alert(1) and http://"onclick=alert(1)',
    "https://ok.example/<script>alert(1)</script> javascript://x",
]


@pytest.mark.parametrize("body", HOSTILE)
def test_hostile_markdown_never_survives(main, member, body):
    html = send(member, main, body).body_html
    for tag, attrs in parse_tags(html):
        assert tag in markdown.ALLOWED_TAGS, (tag, html)
        for name, value in attrs.items():
            assert not name.startswith("on"), html
            assert name in markdown.ALLOWED_ATTRIBUTES.get(tag, set()) | {"rel"}, (tag, name, html)
            if name == "href":
                # A percent sign can't be part of a scheme: "java%09script:x" is a harmless relative link.
                assert urlsplit(value or "").scheme.lower() in {"", "http", "https", "mailto"}, html
    lowered = html.lower()
    assert "<script" not in lowered and "<img" not in lowered and "<iframe" not in lowered and "<svg" not in lowered


def test_safe_markdown_renders(main, member):
    html = send(member, main, "**bold** _it_ `code` [site](https://example.com)\n\n- one\n- two\n\n> quoted").body_html
    assert "<strong>bold</strong>" in html and "<em>it</em>" in html and "<code>code</code>" in html
    assert '<a href="https://example.com" rel="noopener noreferrer nofollow">site</a>' in html
    assert "<li>one</li>" in html and "<blockquote>" in html
    # Raw HTML is shown as text, not interpreted.
    assert "&lt;b&gt;" in send(member, main, "<b>x</b>").body_html


def test_bare_links_become_links_up_to_chinese_punctuation(main, member):
    html = send(member, main, "打卡链接 https://例子.中国/打卡?day=3，大家来！ Docs: https://docs.example.org/a_(b).").body_html
    assert ('<a href="https://例子.中国/打卡?day=3" rel="noopener noreferrer nofollow">https://例子.中国/打卡?day=3</a>，'
            "大家来！") in html
    assert ('<a href="https://docs.example.org/a_(b)" rel="noopener noreferrer nofollow">'
            "https://docs.example.org/a_(b)</a>.") in html
    # Links already written in markdown, and text in code, are left as they are.
    html = send(member, main, "[site](https://a.example) `https://b.example` https://c.example&d=<e>").body_html
    assert html.count("<a ") == 2 and "<code>https://b.example</code>" in html
    assert ('<a href="https://c.example&amp;d=" rel="noopener noreferrer nofollow">https://c.example&amp;d=</a>'
            "&lt;e&gt;") in html


# --- mentions and @all --------------------------------------------------------------------


def test_mentions_resolve_only_group_members_and_notify_them(circle, main, admin, member, make_user):
    stranger = make_user("stranger")  # exists, but not in this circle
    side = chat_actions.do_create_group(actor=admin, circle=circle, name="Side")
    msg = send(admin, main, f"hi @{member.username} and @{stranger.username} and @nobody_here")
    assert set(msg.mentioned_users.values_list("id", flat=True)) == {member.id}
    assert f'data-user-id="{member.id}"' in msg.body_html
    assert f'data-user-id="{stranger.id}"' not in msg.body_html
    notices = Notice.objects.filter(message=msg, kind=NoticeKind.MENTION)
    assert list(notices.values_list("user_id", flat=True)) == [member.id]
    # In a group the member has not joined, the same mention resolves to nobody.
    side_msg = send(admin, side, f"@{member.username} over here?")
    assert not side_msg.mentioned_users.exists()
    assert not Notice.objects.filter(message=side_msg).exists()


def test_mentions_in_code_or_link_labels_and_self_mentions_do_not_notify(main, member, admin):
    msg = send(member, main, f"`@{admin.username}` [@{admin.username}](https://example.com) @{member.username}")
    assert f'data-user-id="{admin.id}"' not in msg.body_html
    assert f'data-user-id="{member.id}"' in msg.body_html  # highlighted, but nobody to notify
    assert not msg.mentioned_users.exists()
    assert not Notice.objects.filter(message=msg).exists()
    # Code that happens to contain @all is not an @all (and needs no admin right).
    for body in ("`@all`", "```\n@all\n@everyone\n```", "code:\n\n    @all indented"):
        pasted = send(member, main, body)
        assert not pasted.mentions_all and "mention-all" not in pasted.body_html


def test_at_all_by_moderator_refused_and_by_admin_notifies_everyone(main, admin, moderator, member,
                                                                      django_capture_on_commit_callbacks):
    assert_denied("mention_all_forbidden", lambda: send(moderator, main, "@all hello"))
    with django_capture_on_commit_callbacks(execute=True):
        msg = send(admin, main, "@all hello")
    noticed = set(Notice.objects.filter(message=msg).values_list("user_id", flat=True))
    seated = set(GroupMember.objects.filter(group=main).exclude(user=admin).values_list("user_id", flat=True))
    assert noticed == seated and {moderator.id, member.id} <= noticed


# --- replies ------------------------------------------------------------------------------


def test_reply_must_be_in_the_same_group(circle, main, admin, member):
    side = chat_actions.do_create_group(actor=admin, circle=circle, name="Side")
    chat_actions.do_join_group(user=member, group=side)
    elsewhere = send(admin, side, "over here")
    original = send(admin, main, "question?")
    reply = send(member, main, "answer", reply_to_id=original.id)
    assert reply.reply_to_id == original.id
    assert_denied("reply_not_found", lambda: send(member, main, "x", reply_to_id=elsewhere.id))
    assert_denied("reply_not_found", lambda: send(member, main, "x", reply_to_id=999_999))
    chat_actions.do_delete_message(actor=admin, message_id=original.id)
    assert_denied("reply_not_found", lambda: send(member, main, "x", reply_to_id=original.id))


# --- edit and delete ----------------------------------------------------------------------


def test_author_edits_within_window_only(main, member, moderator):
    msg = send(member, main, "first")
    edited = chat_actions.do_edit_message(actor=member, message_id=msg.id, body="second **try**")
    assert edited.body == "second **try**" and "<strong>try</strong>" in edited.body_html
    assert edited.edited_at is not None
    assert_denied("not_author", lambda: chat_actions.do_edit_message(actor=moderator, message_id=msg.id, body="x"))
    assert_denied("message_too_long",
                  lambda: chat_actions.do_edit_message(actor=member, message_id=msg.id, body="x" * 4001))
    age(msg, settings.QUANZI_EDIT_WINDOW_SECONDS + 5)
    assert_denied("edit_window_passed",
                  lambda: chat_actions.do_edit_message(actor=member, message_id=msg.id, body="late"))


def test_author_deletes_within_window_only_moderator_anytime(main, member, moderator):
    fresh = send(member, main, "oops")
    chat_actions.do_delete_message(actor=member, message_id=fresh.id)
    old = send(member, main, "old words")
    age(old, settings.QUANZI_EDIT_WINDOW_SECONDS + 5)
    assert_denied("edit_window_passed", lambda: chat_actions.do_delete_message(actor=member, message_id=old.id))
    chat_actions.do_delete_message(actor=moderator, message_id=old.id, reason="off topic")
    old.refresh_from_db()
    assert old.deleted_by_id == moderator.id
    # A deleted message is gone for every later action.
    for action in (
        lambda: chat_actions.do_delete_message(actor=moderator, message_id=old.id),
        lambda: chat_actions.do_edit_message(actor=member, message_id=fresh.id, body="again"),
        lambda: chat_actions.do_set_pinned(actor=moderator, message_id=old.id, pinned=True),
    ):
        assert_denied("message_not_found", action)


def test_moderator_cannot_delete_higher_role_messages(main, admin, moderator, member):
    by_admin = send(admin, main, "admin words")
    assert_denied("higher_role", lambda: chat_actions.do_delete_message(actor=moderator, message_id=by_admin.id))
    by_member = send(member, main, "member words")
    assert_denied("not_author", lambda: chat_actions.do_delete_message(actor=member, message_id=by_admin.id))
    chat_actions.do_delete_message(actor=admin, message_id=by_member.id)


def test_moderators_delete_their_own_old_messages(main, moderator):
    msg = send(moderator, main, "mine")
    age(msg, settings.QUANZI_EDIT_WINDOW_SECONDS + 60)
    chat_actions.do_delete_message(actor=moderator, message_id=msg.id)


def test_deleted_messages_are_blank_in_history(main, member, moderator):
    msg = send(member, main, "secret **stuff**", client_id="c-1")
    chat_actions.do_set_pinned(actor=moderator, message_id=msg.id, pinned=True)
    chat_actions.do_delete_message(actor=moderator, message_id=msg.id)
    rows, _more = message_page(main)
    row = next(d for d in messages_to_dicts(rows) if d["id"] == msg.id)
    assert (row["body"], row["html"], row["deleted"], row["pinned"]) == ("", "", True, False)
    stored = Message.objects.get(id=msg.id)
    assert stored.body == "" and stored.body_html == ""


# --- pins, mute-all, slow mode, mutes -----------------------------------------------------


def test_pin_and_unpin(main, member, moderator):
    msg = send(member, main, "read this")
    chat_actions.do_set_pinned(actor=moderator, message_id=msg.id, pinned=True)
    before = snapshot()
    chat_actions.do_set_pinned(actor=moderator, message_id=msg.id, pinned=True)  # already pinned: no-op
    assert snapshot() == before
    chat_actions.do_set_pinned(actor=moderator, message_id=msg.id, pinned=False)
    msg.refresh_from_db()
    assert msg.pinned_at is None and msg.pinned_by_id is None
    assert_denied("insufficient_role", lambda: chat_actions.do_set_pinned(actor=member, message_id=msg.id,
                                                                          pinned=True))


def test_mute_all_lets_only_moderators_post(main, member, moderator):
    chat_actions.do_update_group(actor=moderator, group=main, mute_all=True)
    main.refresh_from_db()
    assert_denied("mute_all", lambda: send(member, main, "can I talk?"))
    send(moderator, main, "quiet please")
    chat_actions.do_update_group(actor=moderator, group=main, mute_all=False)
    send(member, main, "thanks")


def test_slow_mode_limits_members_but_not_moderators(main, member, moderator):
    chat_actions.do_update_group(actor=moderator, group=main, slow_mode_seconds=30)
    send(member, main, "one")
    error = assert_denied("slow_mode", lambda: send(member, main, "two"))
    assert isinstance(error, RateLimited) and error.status == 429
    assert 0 < error.retry_after <= 30
    assert error.as_dict()["retry_after"] == round(error.retry_after, 1)
    send(moderator, main, "m1")
    send(moderator, main, "m2")
    GroupMember.objects.filter(group=main, user=member).update(last_posted_at=timezone.now() - timedelta(seconds=31))
    send(member, main, "two, later")


@pytest.mark.parametrize("seconds", [-1, 86401, "10", 2.5])
def test_invalid_slow_mode(main, moderator, seconds):
    assert_denied("invalid_slow_mode",
                  lambda: chat_actions.do_update_group(actor=moderator, group=main, slow_mode_seconds=seconds))


def test_muted_member_cannot_post_or_edit_until_the_mute_ends(circle, main, member, moderator):
    msg = send(member, main, "before")
    circle_actions.do_mute_member(actor=moderator, circle=circle, user_id=member.id, minutes=10)
    assert_denied("muted", lambda: send(member, main, "during"))
    assert_denied("muted", lambda: chat_actions.do_edit_message(actor=member, message_id=msg.id, body="edit"))
    circle_actions.do_unmute_member(actor=moderator, circle=circle, user_id=member.id)
    send(member, main, "after")


def test_posting_needs_a_seat_and_an_open_group(circle, admin, member, outsider):
    side = chat_actions.do_create_group(actor=admin, circle=circle, name="Side")
    assert_denied("not_group_member", lambda: send(member, side, "let me in"))
    assert_denied("group_not_found", lambda: send(outsider, side, "hi"))
    chat_actions.do_join_group(user=member, group=side)
    send(member, side, "in now")
    chat_actions.do_leave_group(user=member, group=side)
    assert_denied("not_group_member", lambda: send(member, side, "gone"))
    assert_denied("cannot_leave_main", lambda: chat_actions.do_leave_group(user=member, group=circle.main_group))


def test_second_channel_refused(circle, admin):
    assert_denied("channel_exists",
                  lambda: chat_actions.do_create_group(actor=admin, circle=circle, name="More news", kind="channel"))


# --- idempotency --------------------------------------------------------------------------


def test_same_client_id_gives_one_message(main, member, admin):
    first = send(member, main, "once", client_id="abc-123")
    again = send(member, main, "once", client_id="abc-123")
    assert first.id == again.id
    assert Message.objects.filter(group=main, client_id="abc-123").count() == 1
    # Another author may use the same client id; a different id is a different message.
    assert send(admin, main, "mine", client_id="abc-123").id != first.id
    assert send(member, main, "twice", client_id="abc-124").id != first.id


# --- unread counts and read markers -------------------------------------------------------


def test_unread_counts_and_mark_read_never_moves_backward(main, admin, member):
    chat_actions.do_mark_read(user=member, group=main, message_id=Message.objects.latest("id").id)
    assert unread_counts(member)[main.id] == 0
    first = send(admin, main, "1")
    second = send(admin, main, "2")
    send(member, main, "mine does not count")  # own posts also move the marker forward
    assert unread_counts(member)[main.id] == 0
    third = send(admin, main, "3")
    send(admin, main, "4")
    assert unread_counts(member)[main.id] == 2
    assert unread_counts(member, circle_id=main.circle_id)[main.id] == 2
    assert chat_actions.do_mark_read(user=member, group=main, message_id=third.id) == third.id
    assert unread_counts(member)[main.id] == 1
    assert chat_actions.do_mark_read(user=member, group=main, message_id=first.id) == third.id  # not backward
    chat_actions.do_delete_message(actor=admin, message_id=Message.objects.latest("id").id)
    assert unread_counts(member)[main.id] == 0  # deleted messages are not unread
    assert second.id < third.id


def test_mark_read_cannot_jump_past_the_newest_message(main, admin, member):
    newest = send(admin, main, "latest")
    assert chat_actions.do_mark_read(user=member, group=main, message_id=10**12) == newest.id
    send(admin, main, "new after the bogus marker")
    assert unread_counts(member)[main.id] == 1


@pytest.mark.parametrize("bad", [-1, "5", None, True])
def test_mark_read_rejects_bad_ids(main, member, bad):
    assert_denied("invalid_message_id", lambda: chat_actions.do_mark_read(user=member, group=main, message_id=bad))


def test_mark_read_outside_the_group(circle, admin, member):
    side = chat_actions.do_create_group(actor=admin, circle=circle, name="Side")
    assert_denied("group_not_found", lambda: chat_actions.do_mark_read(user=member, group=side, message_id=1))


# --- history pagination -------------------------------------------------------------------


def test_history_cursor_pagination(circle, admin):
    group = chat_actions.do_create_group(actor=admin, circle=circle, name="History")
    ids = [send(admin, group, f"m{i}").id for i in range(12)]

    page, more = message_page(group, limit=5)
    assert [m.id for m in page] == ids[7:] and more
    page, more = message_page(group, before=ids[7], limit=5)
    assert [m.id for m in page] == ids[2:7] and more
    page, more = message_page(group, before=ids[2], limit=5)
    assert [m.id for m in page] == ids[:2] and not more

    page, more = message_page(group, after=ids[0], limit=5)
    assert [m.id for m in page] == ids[1:6] and more
    page, more = message_page(group, after=ids[6], limit=5)
    assert [m.id for m in page] == ids[7:] and not more
    page, more = message_page(group, after=ids[-1])
    assert page == [] and not more

    page, more = message_page(group, limit=1000)  # capped, never unbounded
    assert len(page) == 12 and not more
    page, _ = message_page(group, limit=-5)
    assert len(page) == 1
    page, _ = message_page(group, limit=None)  # the default page size
    assert len(page) == min(12, settings.QUANZI_PAGE_SIZE)
