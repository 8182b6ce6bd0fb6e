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

from quanzi.core.text import url_spans

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
    if "@" not in body:  # most messages: no mention is possible, skip parsing the markdown
        return set(), False
    names = {m.group(1).rstrip(".") for m in MENTION_RE.finditer(_mention_text(body))}
    mention_all = bool(names & ALL_MENTIONS)
    return names - ALL_MENTIONS, mention_all


def _linkify(rendered: str) -> str:
    """Bare http(s) links in the text (outside links and code) become links, as chat apps show them.

    Links are found in the unescaped text and escaped again; ``url_spans`` stops at white space, markup
    characters and CJK punctuation ("https://a.cn/x，谢谢" links only up to the comma), and nh3 then checks
    the scheme and adds rel="noopener noreferrer nofollow".
    """
    parts = re.split(r"(<[^>]+>)", rendered)
    depth = 0
    out = []
    for part in parts:
        if part.startswith("<"):
            tag = part[1:].split(">", 1)[0].split()[0].lower() if len(part) > 2 else ""
            if tag in {"a", "code", "pre"}:
                depth += 1
            elif tag in {"/a", "/code", "/pre"}:
                depth -= 1
            out.append(part)
            continue
        if depth > 0 or "://" not in part:
            out.append(part)
            continue
        text = html.unescape(part)  # find links in the text itself: "&lt;" must end a link as "<" does
        last = 0
        for start, end in url_spans(text):
            link = text[start:end]
            out.append(f'{html.escape(text[last:start], quote=False)}<a href="{html.escape(link)}">'
                       f'{html.escape(link, quote=False)}</a>')
            last = end
        out.append(html.escape(text[last:], quote=False))
    return "".join(out)


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


# Plain text is one line without anything the enabled rules react to: no emphasis, code,
# link or escape characters, no line breaks, control characters or lone surrogates (nh3
# refuses those; the full path raises for them as before), and no block marker at the start
# (list, quote, fence, indented code). For such text markdown-it only HTML-escapes it inside
# a <p>, and nh3 re-serialises that text with the escapes below (quotes come out unescaped).
# tests/chat/test_send_fast_path.py checks byte-identical output against the full renderer.
_NOT_PLAIN = re.compile(r"[\x00-\x1f\x7f-\x9f\\`*_\[\]~\ud800-\udfff]")
_BLOCK_START = re.compile(r"[-+*>~`]|\d+[.)]")  # list, quote, fence


def render_plain(body: str) -> str | None:
    """The rendering of a plain-text message without running the parser, or None if ``body``
    might contain markdown or a link. Chat is mostly plain text: ~1 us here against ~35 us for the parser."""
    if not body or body != body.strip() or "://" in body or _NOT_PLAIN.search(body) or _BLOCK_START.match(body):
        return None
    escaped = body.replace("&", "&amp;").replace("\xa0", "&nbsp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<p>{escaped}</p>"


def render(body: str, *, mentions: dict[str, int] | None = None, mention_all: bool = False) -> str:
    if "@" not in body or not (mentions or mention_all):  # nothing to highlight
        plain = render_plain(body)
        if plain is not None:
            return plain
    return render_markdown(body, mentions=mentions, mention_all=mention_all)


def render_markdown(body: str, *, mentions: dict[str, int] | None = None, mention_all: bool = False) -> str:
    """The full renderer: markdown-it, mention highlighting, then the nh3 allow-list."""
    rendered = _linkify(_md.render(body))
    if mentions or mention_all:
        rendered = _highlight_mentions(rendered, mentions or {}, mention_all)
    return nh3.clean(
        rendered,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    ).strip()
