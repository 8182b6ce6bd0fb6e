"""``Post.api_json``: the post's own fields as the API's JSON object, rendered by the database on every write.

A trigger (PostgreSQL: BEFORE INSERT OR UPDATE, setting the new row's value; SQLite: AFTER INSERT and
AFTER UPDATE OF the fields it is made of, updating the row) writes it, so no write path can leave it
stale: actions, ``QuerySet.update`` (like and comment counts), ``ON DELETE SET NULL`` of a price plan,
imports. The API's feed page (``feed/pagejson.py``) reads it instead of building each
post's object per page; before, that was about a quarter of the database's CPU for a page.

The object is what ``selectors.post_dicts`` gives in the API's JSON encoding, minus the reader's
``liked`` (datetimes as ``DjangoJSONEncoder`` writes them: milliseconds, ``Z``). The SQL is written
out here, not imported, so that this migration keeps doing what it did; a later change to the object
needs a migration that replaces the triggers (``tests/feed/test_feed_fast_lane.py`` compares the
page with django-ninja's answer for every kind of post).
"""

from django.db import migrations, models

# (key, column) in the API's order; "liked" is the reader's and comes from the page statement.
FIELDS = [
    ("id", "id"), ("circle_id", "circle_id"), ("title", "title"), ("body", "body"), ("html", "body_html"),
    ("tags", "tags"), ("visibility", "visibility"), ("plan_id", "plan_id"), ("moderation_state", "moderation_state"),
    ("pinned", "pinned"), ("featured", "featured"), ("like_count", "like_count"), ("comment_count", "comment_count"),
    ("created_at", "created_at"), ("edited_at", "edited_at"),
]
SOURCE_COLUMNS = [column for _key, column in FIELDS]


def _sqlite_time(column: str) -> str:
    """SQLite keeps datetimes as naive UTC text, with ``.ffffff`` only when there are microseconds."""
    return (f"CASE WHEN {column} IS NULL THEN NULL WHEN length({column}) = 19 THEN replace({column}, ' ', 'T') || 'Z'"
            f" ELSE substr(replace({column}, ' ', 'T'), 1, 23) || 'Z' END")


def _postgres_time(column: str) -> str:
    """The same text from a ``timestamptz``: no fraction when it is zero."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (f"CASE WHEN {column} IS NULL THEN NULL"
            f" WHEN mod(extract(microseconds FROM {utc})::bigint, 1000000) = 0"
            f" THEN to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
            f" ELSE to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') END")


def object_sql(vendor: str, row: str) -> str:
    """The JSON object of post row ``row`` (``NEW`` in a trigger) as text."""
    def value(key: str, column: str) -> str:
        ref = f"{row}.{column}"
        if key in ("created_at", "edited_at"):
            return _postgres_time(ref) if vendor == "postgresql" else _sqlite_time(ref)
        if key == "tags":
            return (f"CASE WHEN {ref} IS NULL OR jsonb_typeof({ref}) = 'null' THEN '[]'::jsonb ELSE {ref} END"
                    if vendor == "postgresql" else f"CASE WHEN {ref} IS NULL OR {ref} = 'null' THEN json('[]') ELSE json({ref}) END")
        if key in ("pinned", "featured") and vendor != "postgresql":  # SQLite keeps booleans as integers
            return f"json(CASE WHEN {ref} THEN 'true' ELSE 'false' END)"
        return ref

    pairs = ", ".join(f"'{key}', {value(key, column)}" for key, column in FIELDS)
    return f"json_build_object({pairs})::text" if vendor == "postgresql" else f"json_object({pairs})"


POSTGRES_FORWARD = [
    f"""CREATE FUNCTION feed_post_api_json() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.api_json := {object_sql("postgresql", "NEW")};
    RETURN NEW;
END
$$""",
    "CREATE TRIGGER feed_post_api_json BEFORE INSERT OR UPDATE ON feed_post"
    " FOR EACH ROW EXECUTE FUNCTION feed_post_api_json()",
    "UPDATE feed_post SET api_json = NULL",  # the trigger renders every existing row
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS feed_post_api_json ON feed_post",
    "DROP FUNCTION IF EXISTS feed_post_api_json()",
]

SQLITE_FORWARD = [
    f"""CREATE TRIGGER feed_post_api_json_insert AFTER INSERT ON feed_post
BEGIN
    UPDATE feed_post SET api_json = {object_sql("sqlite", "NEW")} WHERE id = NEW.id;
END""",
    # Only the fields the object is made of (and api_json itself, so that a write of a stale copy of it,
    # as Model.save() does, is rendered again); the trigger's own UPDATE does not fire it (SQLite runs no
    # trigger recursively unless recursive_triggers is on, and Django does not turn it on).
    f"""CREATE TRIGGER feed_post_api_json_update AFTER UPDATE OF {", ".join([*SOURCE_COLUMNS, "api_json"])} ON feed_post
BEGIN
    UPDATE feed_post SET api_json = {object_sql("sqlite", "NEW")} WHERE id = NEW.id;
END""",
    f"UPDATE feed_post SET api_json = {object_sql('sqlite', 'feed_post')}",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS feed_post_api_json_insert",
    "DROP TRIGGER IF EXISTS feed_post_api_json_update",
]


def forward(apps, schema_editor) -> None:
    statements = POSTGRES_FORWARD if schema_editor.connection.vendor == "postgresql" else SQLITE_FORWARD
    for sql in statements:
        schema_editor.execute(sql)


def backward(apps, schema_editor) -> None:
    statements = POSTGRES_BACKWARD if schema_editor.connection.vendor == "postgresql" else SQLITE_BACKWARD
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ("feed", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="post",
            name="api_json",
            field=models.TextField(editable=False, null=True),
        ),
        migrations.RunPython(forward, backward, elidable=False),
    ]
