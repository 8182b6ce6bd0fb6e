"""The SSRF-safe fetcher: every forbidden target is refused before any connection is made.

The autouse guard in conftest.py fails a test that opens a TCP connection anywhere but the
local test server at 127.0.0.1, so "refused" here also means "no packet sent".
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl

import pytest

from quanzi.archive import fetcher
from quanzi.archive.fetcher import FetchError, FetchRefused, fetch, forbidden_address

from .conftest import LOOPBACK, Route, Server, gzip_bytes, png_bytes, trickle

pytestmark = pytest.mark.db_independent  # no database or Redis: make test runs it in the SQLite pass only

FORBIDDEN = [
    "127.0.0.1", "127.1.2.3", "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.254", "192.168.1.1",
    "169.254.169.254", "169.254.0.1", "100.64.0.1", "100.127.255.254", "0.0.0.0", "0.1.2.3", "224.0.0.1",
    "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.0.8", "192.0.2.1", "198.18.0.1", "198.51.100.7",
    "203.0.113.9", "192.88.99.1",
    "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "fe80::1%eth0", "fec0::1", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1", "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe", "64:ff9b::a00:1", "64:ff9b:1::1", "2002:7f00:1::1", "2002:a00:1::", "2001::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2", "100::1", "not-an-ip", "",
]
ALLOWED = ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2001:4860:4860::8888",
           "64:ff9b::808:808", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_forbidden_addresses(address):
    assert forbidden_address(address), address


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_allowed(address):
    assert not forbidden_address(address), address


def test_every_non_global_address_is_forbidden_on_a_sample():
    # Whatever ipaddress calls non-global (its registry), we refuse too.
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10",
                    "fc00::/7", "fe80::/10"):
        net = ipaddress.ip_network(network)
        for ip in (net.network_address, net.broadcast_address, net.network_address + 12345):
            assert forbidden_address(str(ip))


@pytest.mark.parametrize(("url", "code"), [
    ("ftp://example.com/file", "bad_scheme"), ("file:///etc/passwd", "bad_scheme"),
    ("gopher://example.com/", "bad_scheme"), ("javascript:alert(1)", "bad_scheme"),
    ("data:text/html,hi", "bad_scheme"), ("dict://example.com:11211/", "bad_scheme"),
    ("//example.com/", "bad_scheme"), ("example.com", "bad_scheme"),
    ("http://user:pass@example.com/", "credentials"), ("http://user@example.com/", "credentials"),
    ("http://:@example.com/", "credentials"), ("https://example.com@10.0.0.1/", "credentials"),
    ("http://example.com:8080/", "bad_port"), ("http://example.com:22/", "bad_port"),
    ("http://example.com:99999/", "bad_url"), ("http:///path", "bad_url"), ("", "bad_url"),
    ("http://exa mple.com/", "bad_url"), ("http://example.com/\r\nX: y", "bad_url"),
    ("http://example.com/" + "a" * 2100, "bad_url"), ("http://[::1/", "bad_url"),
])
def test_bad_urls_refused_without_network(url, code, fake_dns):
    lookups = fake_dns({})
    with pytest.raises(FetchRefused) as err:
        fetch(url)
    assert err.value.code == code
    assert lookups == []


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://192.168.0.1/", "http://172.16.0.1/",
    "http://100.64.0.1/", "http://0.0.0.0/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[fe80::1]/", "http://[fc00::1]/",
    "http://127.0.0.1/", "http://127.1/", "http://2130706433/", "http://0x7f000001/", "http://017700000001/",
    "http://localhost/", "https://169.254.169.254/", "http://224.0.0.1/", "http://255.255.255.255/",
])
def test_private_and_special_targets_refused(url):
    with pytest.raises(FetchRefused) as err:
        fetch(url)
    assert err.value.code == "forbidden_address"


def test_loopback_refused_unless_the_test_setting_allows_it(snapshot_server, settings):
    url = snapshot_server.page("/ok", "<title>x</title>")
    assert fetch(url).status == 200
    settings.QUANZI_SNAPSHOT_ALLOWED_TEST_HOSTS = []
    with pytest.raises(FetchRefused) as err:
        fetch(url)
    assert err.value.code == "forbidden_address"


@pytest.mark.parametrize("answer", [["10.0.0.1"], ["169.254.169.254"], ["127.0.0.1"], ["::1"], ["fd00::5"],
                                    ["::ffff:192.168.0.1"], ["93.184.216.34", "10.0.0.1"], ["0.0.0.0"]])
def test_names_resolving_to_forbidden_addresses_refused(answer, fake_dns, settings):
    settings.QUANZI_SNAPSHOT_ALLOWED_TEST_HOSTS = []
    fake_dns({"evil.test": answer})
    with pytest.raises(FetchRefused) as err:
        fetch("http://evil.test/")
    assert err.value.code == "forbidden_address"


def test_unresolvable_name_fails(fake_dns):
    fake_dns({})
    with pytest.raises(FetchError) as err:
        fetch("http://nowhere.test/")
    assert err.value.code == "dns" and not err.value.refused


def test_connects_to_the_checked_address_with_the_original_host(snapshot_server, fake_dns):
    """One lookup per hop; the connection goes to that address; Host names the site (no rebinding)."""
    snapshot_server.page("/page", "<title>pinned</title>")
    answers = iter([[LOOPBACK], ["10.0.0.1"]])  # a rebinding DNS: public-looking first, private later
    lookups: list[str] = []

    def rebinding(host, port):
        lookups.append(host)
        return next(answers)

    fetcher_resolve = fetcher.resolve
    try:
        fetcher.resolve = rebinding
        result = fetch(f"http://site.test:{snapshot_server.port}/page")
    finally:
        fetcher.resolve = fetcher_resolve
    assert result.body == b"<title>pinned</title>"
    assert lookups == ["site.test"]
    assert snapshot_server.requests[-1]["host"] == f"site.test:{snapshot_server.port}"
    assert snapshot_server.requests[-1]["user_agent"].startswith("QuanziLinkSnapshot/")


# --- redirects --------------------------------------------------------------------------------


@pytest.mark.parametrize("location", [
    "http://169.254.169.254/latest/meta-data/iam/", "http://10.0.0.1/admin", "http://[::1]/", "http://127.0.0.2/",
    "http://[::ffff:127.0.0.2]/", "http://evil.test/", "ftp://example.com/", "file:///etc/passwd",
    "http://user:pw@example.com/", "http://example.com:6379/", "gopher://127.0.0.1:6379/_INFO",
])
def test_redirects_to_forbidden_targets_refused(snapshot_server, fake_dns, location):
    fake_dns({"evil.test": ["10.0.0.1"]})
    url = snapshot_server.redirect("/r", location)
    with pytest.raises(FetchRefused) as err:
        fetch(url)
    assert err.value.code in {"forbidden_address", "bad_scheme", "credentials", "bad_port"}
    assert [r["path"] for r in snapshot_server.requests] == ["/r"]


def test_relative_redirects_followed_and_rechecked(snapshot_server):
    snapshot_server.page("/final", "<title>done</title>")
    snapshot_server.redirect("/a", "/b", status=301)
    snapshot_server.redirect("/b", snapshot_server.url("/final"), status=307)
    result = fetch(snapshot_server.url("/a"))
    assert result.final_url == snapshot_server.url("/final")
    assert result.redirects == [snapshot_server.url("/b"), snapshot_server.url("/final")]


def test_at_most_five_redirects(snapshot_server):
    snapshot_server.page("/hop5", "<title>end</title>")
    for n in range(5):
        snapshot_server.redirect(f"/hop{n}", f"/hop{n + 1}")
    assert fetch(snapshot_server.url("/hop0")).final_url.endswith("/hop5")  # five redirects: fine
    snapshot_server.redirect("/hop-1", "/hop0")
    with pytest.raises(FetchRefused) as err:
        fetch(snapshot_server.url("/hop-1"))  # six
    assert err.value.code == "too_many_redirects"
    snapshot_server.redirect("/loop", "/loop")
    with pytest.raises(FetchRefused):
        fetch(snapshot_server.url("/loop"))


# --- size, time, type -------------------------------------------------------------------------


def test_default_limits():
    from django.conf import settings as dj_settings

    assert getattr(dj_settings, "QUANZI_SNAPSHOT_MAX_BYTES", 5 * 1024 * 1024) == 5 * 1024 * 1024
    assert getattr(dj_settings, "QUANZI_SNAPSHOT_TIMEOUT", 10.0) == 10.0
    assert getattr(dj_settings, "QUANZI_SNAPSHOT_MAX_REDIRECTS", 5) == 5
    assert getattr(dj_settings, "QUANZI_SNAPSHOT_ALLOWED_PORTS", [80, 443]) == [80, 443]
    assert getattr(dj_settings, "QUANZI_SNAPSHOT_ALLOWED_TEST_HOSTS", []) == []


def test_oversize_body_refused_by_header_and_by_counting(snapshot_server):
    big = b"<p>" + b"x" * (5 * 1024 * 1024) + b"</p>"
    snapshot_server.routes["/big"] = Route(headers={"Content-Type": "text/html"}, body=big)
    with pytest.raises(FetchRefused) as err:
        fetch(snapshot_server.url("/big"))
    assert err.value.code == "too_large"
    # No Content-Length (streamed until the connection closes): counted while reading.
    snapshot_server.routes["/stream"] = Route(headers={"Content-Type": "text/html"},
                                              body=trickle([b"y" * 1024 * 1024] * 6, 0))
    with pytest.raises(FetchRefused) as err:
        fetch(snapshot_server.url("/stream"))
    assert err.value.code == "too_large"
    # Just under the cap is fine.
    snapshot_server.routes["/fits"] = Route(headers={"Content-Type": "text/html"}, body=b"z" * (5 * 1024 * 1024))
    assert len(fetch(snapshot_server.url("/fits")).body) == 5 * 1024 * 1024


def test_compressed_bomb_counted_after_decompression(snapshot_server):
    bomb = gzip_bytes(b"a" * (20 * 1024 * 1024))
    assert len(bomb) < 100_000
    snapshot_server.routes["/bomb"] = Route(headers={"Content-Type": "text/html", "Content-Encoding": "gzip"},
                                            body=bomb)
    with pytest.raises(FetchRefused) as err:
        fetch(snapshot_server.url("/bomb"))
    assert err.value.code == "too_large"
    snapshot_server.routes["/gz"] = Route(headers={"Content-Type": "text/html", "Content-Encoding": "gzip"},
                                          body=gzip_bytes(b"<title>small</title>"))
    assert fetch(snapshot_server.url("/gz")).body == b"<title>small</title>"


def test_slow_body_and_slow_headers_hit_the_deadline(snapshot_server, settings):
    settings.QUANZI_SNAPSHOT_TIMEOUT = 1.0
    snapshot_server.routes["/slow"] = Route(headers={"Content-Type": "text/html"},
                                            body=trickle([b"<p>drip</p>"] * 40, 0.1))
    import time

    started = time.monotonic()
    with pytest.raises(FetchError) as err:
        fetch(snapshot_server.url("/slow"))
    assert err.value.code == "timeout"
    assert time.monotonic() - started < 2.5

    def hang(wfile):
        time.sleep(3)

    snapshot_server.routes["/hang"] = Route(headers={"Content-Type": "text/html"}, body=hang)
    started = time.monotonic()
    with pytest.raises(FetchError) as err:
        fetch(snapshot_server.url("/hang"))
    assert err.value.code == "timeout"
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize(("content_type", "expect", "ok"), [
    ("text/html; charset=utf-8", "page", True), ("application/xhtml+xml", "page", True),
    ("TEXT/HTML", "page", True), ("application/pdf", "page", False), ("application/json", "page", False),
    ("text/plain", "page", False), ("", "page", False), ("image/png", "page", False),
    ("image/png", "image", True), ("image/jpeg", "image", True), ("image/svg+xml", "image", False),
    ("text/html", "image", False), ("application/octet-stream", "image", False),
])
def test_content_types(snapshot_server, content_type, expect, ok):
    snapshot_server.routes["/t"] = Route(headers={"Content-Type": content_type}, body=png_bytes())
    if ok:
        assert fetch(snapshot_server.url("/t"), expect=expect).status == 200
    else:
        with pytest.raises(FetchRefused) as err:
            fetch(snapshot_server.url("/t"), expect=expect)
        assert err.value.code == "content_type"


def test_error_status_fails(snapshot_server):
    with pytest.raises(FetchError) as err:
        fetch(snapshot_server.url("/missing"))
    assert err.value.code == "http_status" and not err.value.refused


def test_closed_port_fails_cleanly(snapshot_server, settings):
    dead = Server()
    port = dead.port
    dead.close()
    settings.QUANZI_SNAPSHOT_ALLOWED_PORTS = [port]
    with pytest.raises(FetchError) as err:
        fetch(f"http://{LOOPBACK}:{port}/")
    assert err.value.code == "connection"


# --- TLS: SNI and certificate checked for the host name while connecting to the pinned address ---


@pytest.fixture
def tls_server(settings, tmp_path, fake_dns):
    crypto = pytest.importorskip("cryptography")
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Quanzi test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "snap.test")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("snap.test")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    seen_sni: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: seen_sni.append(name)
    server = Server(tls_context=context)
    server.page("/", "<title>secure</title>")
    fake_dns({"snap.test": [LOOPBACK], "other.test": [LOOPBACK]})
    settings.QUANZI_SNAPSHOT_ALLOWED_TEST_HOSTS = [LOOPBACK]
    settings.QUANZI_SNAPSHOT_ALLOWED_PORTS = [server.port]
    server.ca_file = str(tmp_path / "ca.pem")
    server.seen_sni = seen_sni
    yield server
    server.close()


def test_tls_verifies_the_host_name_with_sni(tls_server, settings):
    url = f"https://snap.test:{tls_server.port}/"
    with pytest.raises(FetchError) as err:  # our CA is not in the default bundle
        fetch(url)
    assert err.value.code == "tls"
    settings.QUANZI_SNAPSHOT_CA_BUNDLE = tls_server.ca_file
    assert fetch(url).body == b"<title>secure</title>"
    assert tls_server.seen_sni[-1] == "snap.test"
    with pytest.raises(FetchError) as err:  # same address, a name the certificate does not carry
        fetch(f"https://other.test:{tls_server.port}/")
    assert err.value.code == "tls"
