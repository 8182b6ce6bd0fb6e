"""A small, safe markdown subset for chat: emphasis, code, links, lists, quotes.

markdown-it renders with raw HTML disabled, then nh3 (ammonia) keeps only an
allow-list of tags, attributes and URL schemes, so ``javascript:`` links, event
handlers and raw HTML never survive.
"""

from __future__ import annotations

import html
import re

import nh3
from markdown_it import MarkdownIt

_md = (
    MarkdownIt("zero", {"html": False, "linkify": False, "breaks": True})
    .enable(["emphasis", "backticks", "link", "list", "blockquote", "fence", "code", "newline", "escape"])
)

ALLOWED_TAGS = {"p", "br", "em", "strong", "code", "pre", "a", "ul", "ol", "li", "blockquote", "span"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "span": {"class", "data-user-id"}, "code": {"class"}}

MENTION_RE = re.compile(r"(?<![\w@])@([\w.+-]{1,150})", re.UNICODE)
ALL_MENTIONS = {"all", "everyone", "所有人", "全体成员"}


def _mention_text(body: str) -> str:
    """The text outside code and link labels, one piece per line: the same places where
    ``_highlight_mentions`` highlights, so a pasted ``@decorator`` or `@all` in code neither
    notifies anyone nor needs the @all permission."""
    pieces: list[str] = []
    for token in _md.parse(body):
        in_link = 0
        for child in token.children or []:
            if child.type == "link_open":
                in_link += 1
            elif child.type == "link_close":
                in_link -= 1
            elif child.type == "text" and not in_link:
                pieces.append(child.content)
    return "\n".join(pieces)


def find_mentions(body: str) -> tuple[set[str], bool]:
    """Usernames mentioned in the visible text, and whether @all was used."""
    names = {m.group(1).rstrip(".") for m in MENTION_RE.finditer(_mention_text(body))}
    mention_all = bool(names & ALL_MENTIONS)
    return names - ALL_MENTIONS, mention_all


def _highlight_mentions(rendered: str, resolved: dict[str, int], mention_all: bool) -> str:
    parts = re.split(r"(<[^>]+>)", rendered)
    depth_code = 0
    depth_link = 0
    out = []
    for part in parts:
        if part.startswith("<"):
            tag = part[1:].split(">", 1)[0].split()[0].lower() if len(part) > 2 else ""
            if tag in {"code", "pre"}:
                depth_code += 1
            elif tag in {"/code", "/pre"}:
                depth_code -= 1
            elif tag == "a":
                depth_link += 1
            elif tag == "/a":
                depth_link -= 1
            out.append(part)
            continue
        if depth_code > 0 or depth_link > 0 or "@" not in part:
            out.append(part)
            continue

        def repl(match: re.Match) -> str:
            name = html.unescape(match.group(1)).rstrip(".")
            if name in resolved:
                return f'<span class="mention" data-user-id="{resolved[name]}">@{html.escape(name)}</span>'
            if mention_all and name in ALL_MENTIONS:
                return f'<span class="mention mention-all">@{html.escape(name)}</span>'
            return match.group(0)

        out.append(MENTION_RE.sub(repl, part))
    return "".join(out)


def render(body: str, *, mentions: dict[str, int] | None = None, mention_all: bool = False) -> str:
    rendered = _md.render(body)
    if mentions or mention_all:
        rendered = _highlight_mentions(rendered, mentions or {}, mention_all)
    return nh3.clean(
        rendered,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    ).strip()
