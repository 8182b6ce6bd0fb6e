"""What an uploaded file really is, from its bytes, checked against the allow-list.

The name a browser sends is only a claim. The type comes from the content (puremagic's
signature tables, plus a look inside zip containers to tell office documents from plain
archives, plus a strict UTF-8 check for text). A file whose content is not on the allow-list
(executables, HTML, SVG, scripts …) is refused, and so is a file whose name claims a known
type its content is not (a PDF named ``photo.jpg``, an ELF named ``cat.png``): a disguised file
gets a clear error and nothing is stored.
"""

from __future__ import annotations

import codecs
import zipfile
from dataclasses import dataclass
from typing import IO

import puremagic
from django.utils.translation import gettext as _

from quanzi.core.errors import InvalidInput

SNIFF_BYTES = 8192  # what the signature check reads from the start


@dataclass(frozen=True)
class FileType:
    content_type: str
    kind: str  # "image", "voice" (audio) or "file"
    extensions: frozenset[str]  # names this content may carry (lowercase, no dot)
    label: str


def _t(content_type: str, kind: str, exts: str, label: str) -> FileType:
    return FileType(content_type, kind, frozenset(exts.split()), label)


JPEG = _t("image/jpeg", "image", "jpg jpeg jpe jfif", "JPEG")
PNG = _t("image/png", "image", "png", "PNG")
GIF = _t("image/gif", "image", "gif", "GIF")
WEBP = _t("image/webp", "image", "webp", "WebP")
PDF = _t("application/pdf", "file", "pdf", "PDF")
ZIP = _t("application/zip", "file", "zip", "ZIP")
DOCX = _t("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "file", "docx docm", "Word")
XLSX = _t("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "file", "xlsx xlsm", "Excel")
PPTX = _t("application/vnd.openxmlformats-officedocument.presentationml.presentation", "file", "pptx pptm",
          "PowerPoint")
ODT = _t("application/vnd.oasis.opendocument.text", "file", "odt", "OpenDocument text")
ODS = _t("application/vnd.oasis.opendocument.spreadsheet", "file", "ods", "OpenDocument spreadsheet")
ODP = _t("application/vnd.oasis.opendocument.presentation", "file", "odp", "OpenDocument presentation")
DOC = _t("application/msword", "file", "doc", "Word 97")
XLS = _t("application/vnd.ms-excel", "file", "xls", "Excel 97")
PPT = _t("application/vnd.ms-powerpoint", "file", "ppt", "PowerPoint 97")
TEXT = _t("text/plain", "file", "txt text log csv tsv", "text")
MARKDOWN = _t("text/markdown", "file", "md markdown", "Markdown")
OGG = _t("audio/ogg", "voice", "ogg oga opus", "Ogg audio")
MP3 = _t("audio/mpeg", "voice", "mp3", "MP3")
M4A = _t("audio/mp4", "voice", "m4a mp4 aac", "M4A")
AAC = _t("audio/aac", "voice", "aac", "AAC")
WAV = _t("audio/wav", "voice", "wav wave", "WAV")
WEBM = _t("audio/webm", "voice", "webm weba", "WebM audio")

ALLOWED: tuple[FileType, ...] = (JPEG, PNG, GIF, WEBP, PDF, ZIP, DOCX, XLSX, PPTX, ODT, ODS, ODP, DOC, XLS, PPT,
                                 TEXT, MARKDOWN, OGG, MP3, M4A, AAC, WAV, WEBM)
IMAGE_TYPES = {JPEG.content_type: "JPEG", PNG.content_type: "PNG", GIF.content_type: "GIF", WEBP.content_type: "WEBP"}
KNOWN_EXTENSIONS = frozenset().union(*(t.extensions for t in ALLOWED)) | frozenset(
    "exe dll com bat cmd msi sh elf bin js mjs html htm xhtml svg svgz xml php jar apk dmg iso scr ps1 vbs".split()
)
ACCEPT = ",".join(sorted({t.content_type for t in ALLOWED} | {"." + e for t in ALLOWED for e in t.extensions}))


def not_allowed() -> InvalidInput:
    return InvalidInput(
        _("This type of file is not allowed. Allowed: images (JPEG, PNG, GIF, WebP), PDF, office documents, "
          "ZIP, text and Markdown, and audio (Ogg/Opus, MP3, M4A/AAC, WAV, WebM)."),
        code="file_type_not_allowed",
    )


def extension_of(name: str) -> str:
    return name.rsplit(".", 1)[1].lower() if "." in name.strip(".") else ""


def _signature_extensions(head: bytes) -> list[str]:
    """Extensions puremagic reads from the first bytes, most likely first."""
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return []
    return [m.extension.lower().lstrip(".") for m in matches if m.extension]


def _zip_type(fh: IO[bytes]) -> FileType | None:
    """ZIP, or the office format stored in it (OOXML by its parts, OpenDocument by its mimetype)."""
    fh.seek(0)
    try:
        with zipfile.ZipFile(fh) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                mimetype = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
                for candidate in (ODT, ODS, ODP):
                    if mimetype == candidate.content_type:
                        return candidate
            if "[Content_Types].xml" in names:
                tops = {n.split("/", 1)[0] for n in names}
                if "word" in tops:
                    return DOCX
                if "xl" in tops:
                    return XLSX
                if "ppt" in tops:
                    return PPTX
            return ZIP
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
        return None
    finally:
        fh.seek(0)


def _ogg_is_audio(head: bytes) -> bool:
    return b"OpusHead" in head[:200] or b"\x01vorbis" in head[:200] or b"FLAC" in head[:200]


def _looks_like_markup(text: str) -> bool:
    """HTML, SVG or XML: refused even when valid UTF-8, since a browser would run it."""
    start = text.lstrip("\ufeff \t\r\n").lower()[:200]
    return start.startswith(("<!doctype", "<html", "<svg", "<?xml", "<script", "<head", "<body", "<iframe", "<!--"))


def _text_type(fh: IO[bytes], name_ext: str) -> FileType | None:
    """Plain text or Markdown: strict UTF-8 throughout, no control characters, no markup."""
    fh.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    first = ""
    try:
        while chunk := fh.read(64 * 1024):
            text = decoder.decode(chunk)
            if not first:
                first = text[:512]
            if any(ch < " " and ch not in "\t\n\r\f" for ch in text) or "\x7f" in text:
                return None
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    finally:
        fh.seek(0)
    if _looks_like_markup(first):
        return None
    return MARKDOWN if name_ext in MARKDOWN.extensions else TEXT


def detect(fh: IO[bytes], name: str) -> FileType:
    """The allowed type of this content, or ``InvalidInput`` (not allowed, or a name that lies)."""
    fh.seek(0)
    head = fh.read(SNIFF_BYTES)
    fh.seek(0)
    name_ext = extension_of(name)
    found = _detect(fh, head, name_ext)
    if found is None:
        raise not_allowed()
    if name_ext in KNOWN_EXTENSIONS and name_ext not in found.extensions:
        raise InvalidInput(
            _("The file's content (%(type)s) does not match its name (.%(ext)s).") % {
                "type": found.label, "ext": name_ext},
            code="file_type_mismatch",
        )
    return found


def _detect(fh: IO[bytes], head: bytes, name_ext: str) -> FileType | None:
    # Fixed signatures first: these are unambiguous and decide before any heuristics.
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"OggS"):
        return OGG if _ogg_is_audio(head) else None
    if head.startswith(b"\x1aE\xdf\xa3"):
        return WEBM if b"webm" in head[:64] else None
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return M4A if brand in (b"M4A ", b"M4B ", b"mp42", b"isom", b"dash", b"mp41", b"iso5", b"iso6") else None
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_type(fh)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE2: legacy Office; the name tells which
        return {"doc": DOC, "xls": XLS, "ppt": PPT}.get(name_ext)
    if head.startswith(b"ID3"):
        return MP3
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:  # ADTS AAC frame sync
        return AAC
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # MPEG audio frame sync
        return MP3
    extensions = _signature_extensions(head)
    if extensions:
        # Something puremagic recognises that none of the checks above allowed (ELF, PE, HTML, …).
        return None
    return _text_type(fh, name_ext)
