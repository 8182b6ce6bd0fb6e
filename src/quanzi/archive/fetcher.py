"""An HTTP client for fetching pages people link to, safe against server-side request forgery.

Every URL (the first and each redirect) passes the same checks before any connection is made:

- scheme http or https only; no user name or password in the URL; port 80/443 unless
  ``QUANZI_SNAPSHOT_ALLOWED_PORTS`` says otherwise;
- the host name is resolved here and EVERY address it resolves to must be public
  (:func:`forbidden_address`): loopback, private, link-local (cloud metadata 169.254.169.254),
  CGNAT, "this network", multicast, reserved, broadcast, documentation and benchmarking ranges,
  and the IPv6 equivalents — including IPv4 hidden inside IPv6 (``::ffff:127.0.0.1``, NAT64
  ``64:ff9b::/96``, 6to4, Teredo, IPv4-compatible) — are refused;
- the connection goes to the address that was checked (urllib3 pool on the IP), with the original
  ``Host`` header, TLS SNI and certificate verification for the host name: no second DNS lookup,
  so no DNS-rebinding window;
- at most 5 redirects, each re-checked; one deadline (10 s) for the whole fetch, redirects
  included; bodies cut at 5 MB (after decompression); only the expected content types.

``QUANZI_SNAPSHOT_ALLOWED_TEST_HOSTS`` lists addresses exempt from the address check; tests put
their local server (127.0.0.1) there. Production leaves it empty.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from django.conf import settings
from django.utils.translation import gettext_lazy as _

PAGE_TYPES = ("text/html", "application/xhtml+xml")
IMAGE_TYPES_REFUSED = ("image/svg+xml",)
REDIRECT_CODES = (301, 302, 303, 307, 308)
CHUNK = 64 * 1024
MAX_URL_LENGTH = 2000
USER_AGENT = "QuanziLinkSnapshot/1.0 (+https://github.com/quanzi; archives links shared in a community)"

# Ranges refused in addition to what ``ipaddress`` calls non-global, written out so the rule does
# not depend on the Python version's registry tables.
_FORBIDDEN_NETWORKS = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24", "192.88.99.0/24",
        "192.168.0.0/16", "192.175.48.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
        "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
        "::/128", "::1/128", "::/96", "64:ff9b:1::/48", "100::/64",
        "2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10",
        "fec0::/10", "ff00::/8",
    )
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class FetchError(Exception):
    """A fetch that did not produce a usable response; ``code`` is stable, ``reason`` is for people."""

    refused = False

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = str(reason)


class FetchRefused(FetchError):
    """Refused by policy before (or instead of) connecting: a forbidden target or response."""

    refused = True


@dataclass
class FetchResult:
    url: str
    final_url: str
    status: int
    content_type: str
    charset: str | None
    body: bytes
    redirects: list[str] = field(default_factory=list)


def _setting(name: str, default):
    return getattr(settings, name, default)


def forbidden_address(address: str) -> bool:
    """True for any address that is not a plain public unicast one (IPv4 inside IPv6 unwrapped)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv4 inside IPv6 is judged by the IPv4 address: mapped (::ffff:a.b.c.d) and NAT64
        # (64:ff9b::a.b.c.d) reach it; 6to4, Teredo and IPv4-compatible forms are refused outright below.
        embedded: list[ipaddress.IPv4Address] = []
        if ip.ipv4_mapped is not None:
            embedded.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            embedded.append(ip.sixtofour)
        if ip.teredo is not None:
            embedded.extend(ip.teredo)
        if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if any(forbidden_address(str(v4)) for v4 in embedded):
            return True
        if ip.ipv4_mapped is not None or ip in _NAT64:
            return False  # the embedded public IPv4 address decided
    if not ip.is_global or ip.is_multicast or ip.is_private or ip.is_loopback or ip.is_link_local:
        return True
    if ip.is_reserved or ip.is_unspecified:
        return True
    return any(ip in network for network in _FORBIDDEN_NETWORKS if network.version == ip.version)


def resolve(host: str, port: int) -> list[str]:
    """The addresses a host name resolves to (tests patch this to play DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


@dataclass
class _Target:
    scheme: str
    host: str  # IDNA (ASCII) host name or IP literal, no brackets
    port: int
    path: str  # path and query as sent
    url: str


def check_url(url: str) -> _Target:
    """Parse and check a URL's form (scheme, credentials, host, port); no network."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise FetchRefused("bad_url", _("The link is empty or too long."))
    if any(ch in url for ch in "\x00\r\n\t ") or any(ord(ch) < 32 for ch in url):
        raise FetchRefused("bad_url", _("The link contains spaces or control characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchRefused("bad_url", _("The link is not a valid address."))
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchRefused("bad_scheme", _("Only http and https links are archived."))
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise FetchRefused("credentials", _("Links with a user name or password are not fetched."))
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise FetchRefused("bad_url", _("The link has no host name."))
    try:
        ipaddress.ip_address(host)
    except ValueError:
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise FetchRefused("bad_url", _("The link's host name is not valid."))
    port = port or (443 if scheme == "https" else 80)
    allowed_ports = set(_setting("QUANZI_SNAPSHOT_ALLOWED_PORTS", [80, 443]))
    if port not in allowed_ports:
        raise FetchRefused("bad_port", _("Links to port %(port)d are not fetched.") % {"port": port})
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _Target(scheme=scheme, host=host, port=port, path=path, url=url)


def pick_address(target: _Target) -> str:
    """Resolve the host and return an address to connect to; every resolved address must be allowed."""
    allowed_test_hosts = set(_setting("QUANZI_SNAPSHOT_ALLOWED_TEST_HOSTS", []))
    try:
        addresses = resolve(target.host, target.port)
    except (OSError, UnicodeError):
        raise FetchError("dns", _("The host name could not be resolved."))
    if not addresses:
        raise FetchError("dns", _("The host name could not be resolved."))
    for address in addresses:
        if address in allowed_test_hosts:
            continue
        if forbidden_address(address):
            raise FetchRefused("forbidden_address", _("The link points to a private or reserved network address."))
    return addresses[0]


def _pool(target: _Target, address: str, timeout: float):
    kwargs = {
        "timeout": urllib3.Timeout(connect=min(timeout, 5.0), read=timeout),
        "retries": False,
        "maxsize": 1,
        "block": False,
    }
    if target.scheme == "https":
        # Connect to the checked address; SNI and certificate verification use the host name.
        return urllib3.HTTPSConnectionPool(
            address, target.port, server_hostname=target.host, assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED", ca_certs=_setting("QUANZI_SNAPSHOT_CA_BUNDLE", "") or certifi.where(),
            **kwargs,
        )
    return urllib3.HTTPConnectionPool(address, target.port, **kwargs)


def _host_header(target: _Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def _content_type(header: str) -> tuple[str, str | None]:
    main, _sep, params = (header or "").partition(";")
    charset = None
    for param in params.split(";"):
        key, _eq, value = param.strip().partition("=")
        if key.lower() == "charset" and value:
            charset = value.strip("\"' ")
    return main.strip().lower(), charset


def _type_allowed(content_type: str, expect: str) -> bool:
    if expect == "page":
        return content_type in PAGE_TYPES
    return content_type.startswith("image/") and content_type not in IMAGE_TYPES_REFUSED


def fetch(url: str, *, expect: str = "page", max_bytes: int | None = None, timeout: float | None = None,
          max_redirects: int | None = None) -> FetchResult:
    """GET a page (``expect="page"``) or an image (``expect="image"``) under every rule above."""
    max_bytes = max_bytes or _setting("QUANZI_SNAPSHOT_MAX_BYTES", 5 * 1024 * 1024)
    timeout = timeout or _setting("QUANZI_SNAPSHOT_TIMEOUT", 10.0)
    max_redirects = _setting("QUANZI_SNAPSHOT_MAX_REDIRECTS", 5) if max_redirects is None else max_redirects
    deadline = time.monotonic() + timeout
    accept = "text/html,application/xhtml+xml;q=0.9" if expect == "page" else "image/*"
    redirects: list[str] = []
    current = url
    while True:
        target = check_url(current)
        address = pick_address(target)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError("timeout", _("The site took too long to answer."))
        pool = _pool(target, address, remaining)
        try:
            response = pool.urlopen(
                "GET", target.path,
                headers={"Host": _host_header(target), "User-Agent": USER_AGENT, "Accept": accept,
                         "Accept-Encoding": "gzip, deflate"},
                redirect=False, retries=False, preload_content=False, assert_same_host=False,
            )
        except urllib3.exceptions.SSLError:
            pool.close()
            raise FetchError("tls", _("The site's HTTPS certificate could not be verified."))
        except urllib3.exceptions.NewConnectionError:  # (a subclass of the timeout error in urllib3)
            pool.close()
            raise FetchError("connection", _("The site could not be reached."))
        except (urllib3.exceptions.TimeoutError, TimeoutError):
            pool.close()
            raise FetchError("timeout", _("The site took too long to answer."))
        except (urllib3.exceptions.HTTPError, OSError):
            pool.close()
            raise FetchError("connection", _("The site could not be reached."))
        try:
            if response.status in REDIRECT_CODES:
                location = response.headers.get("Location", "")
                if not location:
                    raise FetchError("bad_redirect", _("The site sent a redirect without a target."))
                if len(redirects) >= max_redirects:
                    raise FetchRefused("too_many_redirects", _("The link redirects too many times."))
                current = urljoin(current, location.strip())
                redirects.append(current)
                continue
            if response.status != 200:
                raise FetchError("http_status", _("The site answered with HTTP status %(status)d.")
                                 % {"status": response.status})
            content_type, charset = _content_type(response.headers.get("Content-Type", ""))
            if not _type_allowed(content_type, expect):
                raise FetchRefused("content_type", _("The link is not a web page or image we archive (%(type)s).")
                                   % {"type": content_type[:60] or "?"})
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchRefused("too_large", _("The page is larger than %(mb)d MB.") % {"mb": max_bytes // 1048576})
            body = _read_capped(response, max_bytes, deadline)
            return FetchResult(url=url, final_url=current, status=response.status, content_type=content_type,
                               charset=charset, body=body, redirects=redirects)
        finally:
            response.release_conn()
            response.close()
            pool.close()


def _read_capped(response, max_bytes: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            if time.monotonic() > deadline:
                raise FetchError("timeout", _("The site took too long to send the page."))
            chunk = response.read1(CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise FetchRefused("too_large", _("The page is larger than %(mb)d MB.")
                                   % {"mb": max(1, max_bytes // 1048576)})
            chunks.append(chunk)
    except (urllib3.exceptions.TimeoutError, TimeoutError):
        raise FetchError("timeout", _("The site took too long to send the page."))
    except urllib3.exceptions.DecodeError:
        raise FetchError("decode", _("The page could not be decompressed."))
    except (urllib3.exceptions.HTTPError, OSError):
        raise FetchError("connection", _("The connection broke while reading the page."))
    return b"".join(chunks)
