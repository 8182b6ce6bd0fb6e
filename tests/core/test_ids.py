import pytest

from quanzi.core.ids import MAX_DB_ID, as_db_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1),
        ("42", 42),
        (MAX_DB_ID, MAX_DB_ID),
        (MAX_DB_ID + 1, None),
        ("9" * 30, None),
        (0, None),
        (-3, None),
        ("-3", None),
        (True, None),
        ("²", None),
        ("1.5", None),
        (1.0, None),
        (None, None),
        ("", None),
    ],
)
def test_as_db_id_accepts_only_positive_64_bit_integers(value, expected):
    assert as_db_id(value) == expected


@pytest.mark.django_db
def test_huge_ids_answer_like_missing_objects(circle, owner):
    from quanzi.chat.access import access_group
    from quanzi.chat.actions import do_delete_message, do_send_message
    from quanzi.circles.actions import do_kick_member
    from quanzi.core.errors import NotFound

    huge = 10**30
    with pytest.raises(NotFound):
        access_group(huge, owner)
    with pytest.raises(NotFound):
        do_delete_message(actor=owner, message_id=huge)
    with pytest.raises(NotFound):
        do_kick_member(actor=owner, circle=circle, user_id=huge)
    with pytest.raises(NotFound):
        do_send_message(sender=owner, group=circle.main_group, body="hi", reply_to_id=huge)
