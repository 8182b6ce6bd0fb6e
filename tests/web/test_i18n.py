"""Simplified Chinese: the switch works, pages and domain errors are translated, the catalog is complete."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.urls import reverse

import quanzi

from .conftest import htmx

PACKAGE = Path(quanzi.__file__).parent
LOCALE = PACKAGE / "locale"
PO = LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO = LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.mo"
# Each app may keep its own catalog next to its code (quanzi/<app>/locale/); Django merges them.
APP_CATALOGS = sorted(p for p in PACKAGE.glob("*/locale/zh_Hans/LC_MESSAGES/django.po"))


def po_entries(po: Path = PO) -> list[tuple[str, str]]:
    """(msgid, first msgstr) of every entry but the header."""
    entries = []
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        msgid = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        msgstr = re.search(r'^msgstr(?:\[0\])? ((?:".*"\n?)+)', block, re.M)
        if not msgid or block.lstrip().startswith("#~"):
            continue
        text = "".join(re.findall(r'"(.*)"', msgid.group(1)))
        if text:
            entries.append((text, "".join(re.findall(r'"(.*)"', msgstr.group(1)))))
    return entries


def test_catalog_is_complete_and_compiled():
    entries = po_entries()
    assert len(entries) > 300
    untranslated = [msgid for msgid, msgstr in entries if not msgstr]
    assert untranslated == []
    assert "fuzzy" not in PO.read_text(encoding="utf-8")
    with MO.open("rb") as fh:
        catalog = gettext.GNUTranslations(fh)
    assert catalog.gettext("My circles") == "我的圈子"
    assert catalog.gettext("You are muted until %(until)s.") == "你已被禁言，直到 %(until)s。"


@pytest.mark.parametrize("po", APP_CATALOGS, ids=lambda p: p.relative_to(PACKAGE).parts[0])
def test_app_catalogs_are_complete_and_compiled(po):
    untranslated = [msgid for msgid, msgstr in po_entries(po) if not msgstr]
    assert untranslated == []
    assert "fuzzy" not in po.read_text(encoding="utf-8")
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"run compilemessages for {po}"
    with mo.open("rb") as fh:
        catalog = gettext.GNUTranslations(fh)
    plurals = set(re.findall(r'^msgid "(.*)"\nmsgid_plural', po.read_text(encoding="utf-8"), re.M))
    for msgid, msgstr in po_entries(po):
        if "\\" not in msgid and "\\" not in msgstr and msgid not in plurals:
            assert catalog.gettext(msgid) == msgstr, f"{po}: .mo is stale, run compilemessages ({msgid!r})"


def test_placeholders_survive_translation():
    for msgid, msgstr in [entry for po in [PO, *APP_CATALOGS] for entry in po_entries(po)]:
        wanted = sorted(re.findall(r"%\(\w+\)[sd]|\{\w+\}", msgid.encode().decode("unicode_escape")))
        got = sorted(re.findall(r"%\(\w+\)[sd]|\{\w+\}", msgstr.encode().decode("unicode_escape")))
        if "%(" in msgid or "{" in msgid:
            assert wanted == got, (msgid, msgstr)


@pytest.mark.django_db
def test_language_switch_translates_pages(client, circle):
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert response.status_code == 302
    page = client.get(reverse("home")).content.decode()
    assert 'lang="zh-hans"' in page
    assert "发现公开圈子" in page
    assert "登录" in page
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Discover public circles" in client.get(reverse("home")).content.decode()


@pytest.mark.django_db
def test_user_language_preference_and_translated_domain_errors(client, circle, moderator, admin):
    moderator.language = "zh-hans"
    moderator.save(update_fields=["language"])
    client.force_login(moderator)
    response = htmx(client, reverse("member_action", args=[circle.slug, admin.id, "mute"]), {"minutes": "5"})
    assert response.status_code == 403
    assert "你不能对角色与你相同或比你高的成员执行此操作。" in response.content.decode()
