"""Search within a circle: CJK substrings, prefixes, normalisation, literal syntax, permissions.

The same file runs on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm) through the suite's passes.
"""

from __future__ import annotations

import pytest
from api.helpers import ApiClient, assert_error
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from quanzi.archive.models import Blob, CircleFile, LinkSnapshot, SnapshotCitation, SnapshotStatus
from quanzi.chat import actions as chat_actions
from quanzi.chat.models import GroupMember, Message, ModerationState
from quanzi.circles import actions as circle_actions
from quanzi.core.content import content_removed, content_saved
from quanzi.core.errors import InvalidInput, NotFound
from quanzi.search import actions as search_actions
from quanzi.search.backends import SQLiteFTS5Backend, get_backend
from quanzi.search.models import SearchDocument
from quanzi.search.selectors import search

PASSWORD = "correct-horse-battery-9"


def found(user, circle, query, **kw) -> list[tuple[str, int]]:
    return [(hit.kind, hit.object_id) for hit in search(user, circle, query, **kw).hits]


def message_ids(user, circle, query) -> set[int]:
    return {object_id for kind, object_id in found(user, circle, query) if kind == "message"}


# --- matching ---------------------------------------------------------------------------------


def test_backend_matches_the_database():
    expected = {"sqlite": "sqlite", "postgresql": "postgresql"}[connection.vendor]
    assert get_backend().vendor == expected


def test_chinese_substring_and_short_words(circle, member, send):
    hit = send(member, circle.main_group, "今天早起打卡成功！")
    other = send(member, circle.main_group, "晚上跑步十公里")
    assert message_ids(member, circle, "早起打卡") == {hit.id}
    assert message_ids(member, circle, "打卡成功") == {hit.id}
    # One and two characters: below the trigram length, answered by the LIKE fallback.
    assert message_ids(member, circle, "早起") == {hit.id}
    assert message_ids(member, circle, "跑") == {other.id}
    assert message_ids(member, circle, "卡成功晚") == set()


def test_english_prefix_and_case(circle, member, send):
    hit = send(member, circle.main_group, "Good Morning, runners")
    send(member, circle.main_group, "evening swim")
    for query in ("morn", "MORNING", "Morning", "good morn", "RUN"):
        assert message_ids(member, circle, query) == {hit.id}, query
    # Every word must occur.
    assert message_ids(member, circle, "morning swim") == set()


def test_full_width_text_and_queries_are_nfkc_normalised(circle, member, send):
    hit = send(member, circle.main_group, "Ｒｕｎｎｉｎｇ　Ｃｌｕｂ ２０２６")
    assert message_ids(member, circle, "running club") == {hit.id}
    assert message_ids(member, circle, "ＲＵＮＮ") == {hit.id}
    assert message_ids(member, circle, "2026") == {hit.id}
    half = send(member, circle.main_group, "ｶﾀｶﾅ text")  # half-width katakana → full-width
    assert message_ids(member, circle, "カタカナ") == {half.id}


SYNTAX = ['"', "*", ":", "^", "NEAR", "OR", "AND", "(", ")", "'", ";", "--", "%", "_", "\\", '"*"', "a OR b",
          "NEAR(a b)", "col:val", "x' OR '1'='1", "'; DROP TABLE search_searchdocument; --", "%_%", "\\%",
          "(((", '""', "^start", "*end", "a -b", "NOT", "{a b}", "[x]", "$1", "?"]


@pytest.mark.parametrize("query", SYNTAX)
def test_query_syntax_characters_are_literal(circle, member, send, query):
    plain = send(member, circle.main_group, "qqq vvv")
    literal = send(member, circle.main_group, f"the literal text zz{query}zz ends")
    hits = message_ids(member, circle, query)
    assert plain.id not in hits  # "%", "_", "*" … match themselves, not everything
    assert message_ids(member, circle, f"zz{query}zz".replace(" ", "")) <= {literal.id}
    assert literal.id in message_ids(member, circle, query.split()[0])


def test_control_characters_in_queries_are_harmless(circle, member, send):
    hit = send(member, circle.main_group, "nul test words")
    assert message_ids(member, circle, "nul\x00test") == {hit.id}  # NUL is white space to search
    with pytest.raises(InvalidInput):
        search(member, circle, "\x00\x01")


def test_wildcards_do_not_match_other_rows(circle, member, send):
    send(member, circle.main_group, "abcdef")
    percent = send(member, circle.main_group, "discount 50%")
    underscore = send(member, circle.main_group, "snake_case")
    assert message_ids(member, circle, "%") == {percent.id}
    assert message_ids(member, circle, "_") == {underscore.id}
    assert message_ids(member, circle, "50%") == {percent.id}
    assert message_ids(member, circle, "e_c") == {underscore.id}


def test_fts_match_expression_quotes_everything():
    assert SQLiteFTS5Backend.match_expression(['a"b', "near"]) == '"a""b" AND "near"'


@pytest.mark.parametrize(("query", "code"), [
    ("", "empty_query"), ("   \t ", "empty_query"), (None, "empty_query"), ("x" * 201, "query_too_long"),
    (" ".join("abcdefghi"), "query_too_many_terms"),
])
def test_bad_queries_are_refused(circle, member, query, code):
    with pytest.raises(InvalidInput) as err:
        search(member, circle, query)
    assert err.value.code == code


def test_unknown_kind_and_bad_cursor_refused(circle, member):
    with pytest.raises(InvalidInput) as err:
        search(member, circle, "run", kinds="message,secret")
    assert err.value.code == "invalid_kind"
    with pytest.raises(InvalidInput):
        search(member, circle, "run", cursor=-1)


def test_kind_filter_and_cursor_pages(circle, member, send):
    sent = [send(member, circle.main_group, f"打卡 day {n}") for n in range(7)]
    page1 = search(member, circle, "打卡", kinds="message", limit=3)
    assert [h.object_id for h in page1.hits] == [m.id for m in reversed(sent)][:3]
    page2 = search(member, circle, "打卡", kinds=["message"], limit=3, cursor=page1.next_cursor)
    page3 = search(member, circle, "打卡", limit=3, cursor=page2.next_cursor)
    seen = [h.object_id for page in (page1, page2, page3) for h in page.hits]
    assert seen == [m.id for m in reversed(sent)]
    assert page3.next_cursor is None or not search(member, circle, "打卡", cursor=page3.next_cursor).hits
    assert search(member, circle, "打卡", kinds="post").hits == []


def test_snippet_is_escaped_and_highlighted(circle, member, send):
    send(member, circle.main_group, "<script>alert(1)</script> 早起打卡")
    [hit] = search(member, circle, "早起").hits
    assert "<script>" not in hit.snippet
    assert "&lt;script&gt;" in hit.snippet
    assert "<mark>早起</mark>" in hit.snippet
    assert hit.url == reverse("room", args=[circle.slug, circle.main_group_id]) + f"#message-{hit.object_id}"


# --- who sees what ----------------------------------------------------------------------------


def test_outsiders_and_former_members_see_nothing(circle, member, outsider, send):
    send(member, circle.main_group, "secret plan 早起")
    with pytest.raises(NotFound):
        search(outsider, circle, "secret")
    circle_actions.do_leave_circle(user=member, circle=circle)
    with pytest.raises(NotFound):
        search(member, circle, "secret")


def test_messages_only_for_members_of_the_group(circle, owner, member, moderator, send):
    group = chat_actions.do_create_group(actor=owner, circle=circle, name="Coaches")
    chat_actions.do_join_group(user=moderator, group=group)
    msg = send(moderator, group, "coaches only 教练会议")
    assert message_ids(owner, circle, "教练会议") == {msg.id}
    assert message_ids(moderator, circle, "教练会议") == {msg.id}
    assert message_ids(member, circle, "教练会议") == set()  # a circle member without a seat
    # The index row stays when someone leaves the group; the query-time check hides it.
    chat_actions.do_leave_group(user=moderator, group=group)
    assert SearchDocument.objects.filter(kind="message", object_id=msg.id).exists()
    assert message_ids(moderator, circle, "教练会议") == set()


def test_direct_messages_only_for_the_two_participants(circle, owner, member, moderator, admin, make_dm, send):
    dm = make_dm(member, moderator)
    msg = send(member, dm, "私信 just between us")
    assert message_ids(member, circle, "私信") == {msg.id}
    assert message_ids(moderator, circle, "私信") == {msg.id}
    assert message_ids(admin, circle, "私信") == set()
    assert message_ids(owner, circle, "私信") == set()


def test_edit_reindexes_and_delete_removes(circle, member, send, on_commit):
    msg = send(member, circle.main_group, "first words")
    with on_commit():
        chat_actions.do_edit_message(actor=member, message_id=msg.id, body="second thoughts")
    assert message_ids(member, circle, "first") == set()
    assert message_ids(member, circle, "second") == {msg.id}
    with on_commit():
        chat_actions.do_delete_message(actor=member, message_id=msg.id)
    assert not SearchDocument.objects.filter(kind="message", object_id=msg.id).exists()
    assert message_ids(member, circle, "second") == set()


def test_held_messages_are_not_indexed_and_not_shown(circle, member, send, on_commit):
    msg = send(member, circle.main_group, "borderline words")
    Message.objects.filter(id=msg.id).update(moderation_state=ModerationState.HELD)
    assert message_ids(member, circle, "borderline") == set()  # checked at query time
    with on_commit():
        content_saved.send(sender=Message, kind="message", object_id=msg.id, circle_id=circle.id, text="",
                           created=False)
    assert not SearchDocument.objects.filter(kind="message", object_id=msg.id).exists()
    Message.objects.filter(id=msg.id).update(moderation_state=ModerationState.VISIBLE)
    content_saved.send(sender=Message, kind="message", object_id=msg.id, circle_id=circle.id, text="", created=False)
    assert message_ids(member, circle, "borderline") == {msg.id}


def test_system_messages_are_not_indexed(circle):
    assert not SearchDocument.objects.filter(kind="message").exists()  # the welcome message


def test_other_circles_are_separate(circle, owner, member, make_user, send):
    other = circle_actions.do_create_circle(owner=owner, name="Readers", slug="readers")
    send(owner, other.main_group, "shared word 书")
    send(member, circle.main_group, "shared word 跑")
    assert {k for k, _ in found(owner, other, "shared")} == {"message"}
    assert len(found(owner, other, "shared")) == 1
    assert len(found(member, circle, "shared")) == 1


def _file(circle, uploader, name, **kw) -> CircleFile:
    blob = Blob.objects.create(sha256=f"{abs(hash(name)):064d}"[:64], size=1, content_type="text/plain",
                               storage_key="blobs/x")
    return CircleFile.objects.create(circle=circle, uploader=uploader, blob=blob, name=name, **kw)


def test_files_by_name_and_by_the_content_they_are_attached_to(circle, owner, member, make_dm, moderator, send):
    public = _file(circle, member, "训练计划 Training-Plan.pdf")
    dm = make_dm(owner, moderator)
    dm_message = send(owner, dm, "see the file")
    private = _file(circle, owner, "训练计划 private.pdf", attached_kind="message", attached_id=dm_message.id)
    for f in (public, private):
        content_saved.send(sender=CircleFile, kind="file", object_id=f.id, circle_id=circle.id, text=f.name,
                           created=True)
    assert {oid for k, oid in found(member, circle, "训练计划") if k == "file"} == {public.id}
    assert {oid for k, oid in found(moderator, circle, "training-plan")} == {public.id}
    assert {oid for k, oid in found(moderator, circle, "训练计划") if k == "file"} == {public.id, private.id}
    SearchDocument.objects.filter(kind="file").delete()
    assert search_actions.reindex(circle.id, kinds=["file"]) == {"file": 2}
    assert {oid for k, oid in found(member, circle, "训练计划") if k == "file"} == {public.id}
    CircleFile.objects.filter(id=public.id).update(deleted_at=private.created_at)
    assert found(member, circle, "训练计划") == []


def test_snapshots_follow_the_content_that_cited_them(circle, owner, member, moderator, make_dm, send):
    snap = LinkSnapshot.objects.create(circle=circle, url_key="k" * 64, url="https://example.org/a",
                                       final_url="https://example.org/a", status=SnapshotStatus.OK,
                                       title="马拉松训练指南", text="Long run every Sunday")
    dm = make_dm(owner, moderator)
    msg = send(owner, dm, "https://example.org/a")
    SnapshotCitation.objects.create(snapshot=snap, kind="message", object_id=msg.id)
    search_actions.index_object("snapshot", snap.id)
    assert found(owner, circle, "马拉松") == [("snapshot", snap.id)]
    assert found(member, circle, "马拉松") == []  # only cited in a DM member is not part of
    SearchDocument.objects.all().delete()
    assert search_actions.reindex(circle.id, kinds=["snapshot"]) == {"snapshot": 1}
    assert found(owner, circle, "马拉松") == [("snapshot", snap.id)]
    SnapshotCitation.objects.create(snapshot=snap, kind="message", object_id=send(member, circle.main_group, "x").id)
    assert found(member, circle, "sunday") == [("snapshot", snap.id)]


def test_removed_signal_and_reindex_command(circle, member, send):
    a = send(member, circle.main_group, "alpha 早起")
    b = send(member, circle.main_group, "beta 早起")
    content_removed.send(sender=Message, kind="message", object_id=a.id, circle_id=circle.id)
    assert message_ids(member, circle, "早起") == {b.id}
    SearchDocument.objects.all().delete()
    assert message_ids(member, circle, "早起") == set()
    call_command("search_reindex", "--circle", circle.slug, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert message_ids(member, circle, "早起") == {a.id, b.id}
    Message.objects.filter(id=a.id).update(deleted_at=b.created_at)
    call_command("search_reindex", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert message_ids(member, circle, "早起") == {b.id}
    with pytest.raises(CommandError):
        call_command("search_reindex", "--circle", "no-such-circle")


def test_indexing_failure_never_breaks_the_send(circle, member, send, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("index down")

    monkeypatch.setattr(search_actions, "index_object", broken)
    msg = send(member, circle.main_group, "still delivered")
    assert Message.objects.filter(id=msg.id).exists()


def test_group_members_removed_with_circle_leave(circle, member, send):
    send(member, circle.main_group, "goodbye words")
    assert GroupMember.objects.filter(user=member).exists()


# --- web and API ------------------------------------------------------------------------------


def test_web_search_page_and_htmx_results(circle, member, send):
    msg = send(member, circle.main_group, "今天早起打卡成功")
    client = Client()
    client.login(username=member.username, password=PASSWORD)
    url = reverse("search", args=[circle.slug])
    page = client.get(url)
    assert page.status_code == 200 and b'name="q"' in page.content
    full = client.get(url, {"q": "早起"})
    assert full.status_code == 200
    assert "<mark>早起</mark>打卡成功" in full.content.decode()
    partial = client.get(url, {"q": "打卡", "kind": "message"}, headers={"HX-Request": "true"})
    assert partial.status_code == 200 and b"<html" not in partial.content
    assert f"#message-{msg.id}" in partial.content.decode()
    for bad in ("", "x" * 300):
        response = client.get(url, {"q": bad})
        assert response.status_code == 400
        assert b'id="search-error"' in response.content
    assert client.get(url, {"q": "x", "cursor": "abc"}).status_code == 400


def test_web_search_hidden_from_outsiders(circle, outsider):
    client = Client()
    client.login(username=outsider.username, password=PASSWORD)
    assert client.get(reverse("search", args=[circle.slug]), {"q": "x"}).status_code == 404


def test_api_search(circle, member, outsider, send):
    msg = send(member, circle.main_group, "Morning run 早起")
    api = ApiClient(member)
    response = api.get(f"/api/circles/{circle.slug}/search", q="morn")
    assert response.status_code == 200
    [item] = response.data["items"]
    assert item["kind"] == "message" and item["object_id"] == msg.id
    assert "<mark>Morn</mark>ing" in item["snippet_html"]
    assert_error(api.get(f"/api/circles/{circle.slug}/search", q=""), 400, "empty_query")
    assert_error(api.get(f"/api/circles/{circle.slug}/search", q="y" * 201), 400, "query_too_long")
    assert_error(api.get(f"/api/circles/{circle.slug}/search", q="run", kind="nope"), 400, "invalid_kind")
    assert_error(ApiClient(outsider).get(f"/api/circles/{circle.slug}/search", q="run"), 404, "circle_not_found")


@pytest.mark.parametrize("query", ['"', "*", "%", "_", "\\", "'", "NEAR(", "a:b", "--", ";", "^", "OR", "(", ")"])
def test_api_syntax_characters_never_500(circle, member, send, query):
    from urllib.parse import quote

    send(member, circle.main_group, f"odd {query} text")
    response = ApiClient(member).get(f"/api/circles/{circle.slug}/search?q={quote(query)}")
    assert response.status_code == 200, response.content
    assert len(response.data["items"]) == 1


# --- feed posts and comments ------------------------------------------------------------------


def test_posts_and_comments_follow_feed_visibility(circle, owner, member, moderator, on_commit):
    from quanzi.feed import actions as feed_actions

    with on_commit():
        public = feed_actions.do_create_post(actor=member, circle=circle, title="周末长跑",
                                             body="Saturday long run 早起")
        staff = feed_actions.do_create_post(actor=moderator, circle=circle, body="moderators only 早起 note",
                                            visibility="moderators")
        comment = feed_actions.do_create_comment(actor=owner, circle=circle, post_id=public.id, body="count me in 早起")
        hidden_comment = feed_actions.do_create_comment(actor=owner, circle=circle, post_id=staff.id,
                                                        body="staff reply 早起")
    assert set(found(member, circle, "早起")) == {("post", public.id), ("comment", comment.id)}
    assert set(found(moderator, circle, "早起")) == {("post", public.id), ("post", staff.id),
                                                   ("comment", comment.id), ("comment", hidden_comment.id)}
    assert found(member, circle, "周末长跑") == [("post", public.id)]  # the title is searched too
    hits = {h.kind: h for h in search(member, circle, "早起").hits}
    assert hits["post"].url == reverse("feed_post", args=[circle.slug, public.id])
    assert hits["comment"].url.startswith(reverse("feed_post", args=[circle.slug, public.id]))
    # The rebuild reads posts and comments from the feed's tables.
    SearchDocument.objects.all().delete()
    assert found(moderator, circle, "早起") == []
    counts = search_actions.reindex(circle.id)
    assert counts["post"] == 2 and counts["comment"] == 2
    assert len(found(moderator, circle, "早起")) == 4
    with on_commit():
        feed_actions.do_delete_post(actor=member, circle=circle, post_id=public.id)
    assert ("post", public.id) not in found(moderator, circle, "早起")
    assert ("comment", comment.id) not in found(member, circle, "早起")  # its post is gone
