"""The original URL of a forward-auth request: read once, one way, or refused."""

from __future__ import annotations

import random
from urllib.parse import quote

import pytest

from gateway.apps.urls import (
    BadUrl,
    Target,
    host_key,
    prefix_key,
    prefix_matches,
    target_of,
)


@pytest.mark.parametrize(("url", "host", "path"), [
    ("https://grafana.example.com/d/abc?x=1", "grafana.example.com", "/d/abc"),
    ("https://grafana.example.com", "grafana.example.com", "/"),
    ("https://grafana.example.com?x=1", "grafana.example.com", "/"),
    ("https://grafana.example.com#top", "grafana.example.com", "/"),
    ("https://grafana.example.com/d/#/x", "grafana.example.com", "/d/"),
    ("https://a.example/@ada/posts", "a.example", "/@ada/posts"),
    ("https://a.example/x?next=/a/../b//c;d", "a.example", "/x"),
    ("https://a_b.example/", "a_b.example", "/"),
])
def test_a_plain_url_gives_its_host_and_path(url, host, path):
    assert target_of(url) == Target(host, path)


@pytest.mark.parametrize("url", [
    "HTTPS://GRAFANA.EXAMPLE.COM/d",
    "https://Grafana.Example.Com/d",
    "HtTpS://grafana.EXAMPLE.com/d",
    "https://grafana.example.com./d",
    "https://GRAFANA.EXAMPLE.COM.:443/d",
])
def test_case_and_one_trailing_dot_do_not_make_another_host(url):
    assert target_of(url) == Target("grafana.example.com", "/d")


@pytest.mark.parametrize(("url", "host"), [
    ("https://a.example:443/", "a.example"),
    ("http://a.example:80/", "a.example"),
    ("https://a.example:8443/", "a.example:8443"),
    ("http://a.example:8080/", "a.example:8080"),
    # The other scheme's default is an ordinary port.
    ("https://a.example:80/", "a.example:80"),
    ("http://a.example:443/", "a.example:443"),
    ("https://a.example:65535/", "a.example:65535"),
    ("https://a.example:1/", "a.example:1"),
])
def test_only_the_schemes_default_port_is_dropped(url, host):
    assert target_of(url).host == host


@pytest.mark.parametrize("url", [
    "https://a.example:/",
    "https://a.example:0/",
    "https://a.example:0443/",
    "https://a.example:99999/",
    "https://a.example:65536/",
    "https://a.example:abc/",
    "https://a.example:+443/",
    "https://a.example:44 3/",
    "https://a.example:\u0664\u0664\u0663/",  # Arabic-Indic digits
    "https://a.example:443:443/",
])
def test_a_port_that_is_not_plain_digits_in_range_is_refused(url):
    with pytest.raises(BadUrl):
        target_of(url)


@pytest.mark.parametrize(("url", "host"), [
    ("https://bücher.example/", "xn--bcher-kva.example"),
    ("https://BÜCHER.example/", "xn--bcher-kva.example"),
    ("https://bücher.example./", "xn--bcher-kva.example"),
    ("https://bücher.example\u3002/", "xn--bcher-kva.example"),  # ideographic full stop
    ("https://bücher.example:8443/", "xn--bcher-kva.example:8443"),
    ("https://xn--bcher-kva.example/", "xn--bcher-kva.example"),
    ("https://XN--BCHER-KVA.example/", "xn--bcher-kva.example"),
    # Full-width letters are the ASCII ones, per UTS46 (and browsers).
    ("https://\uff47\uff52\uff41\uff46\uff41\uff4e\uff41.example.com/",
     "grafana.example.com"),
])
def test_an_international_host_becomes_punycode(url, host):
    assert target_of(url).host == host


def test_a_look_alike_host_is_another_host():
    cyrillic_a = "gr\u0430fana.example.com"
    host = target_of(f"https://{cyrillic_a}/").host
    assert host.startswith("xn--")
    assert host != "grafana.example.com"
    assert host == host_key(cyrillic_a)


@pytest.mark.parametrize("url", [
    "https://bücher..example/",
    "https://bücher.example../",
    "https://b%C3%BCcher.example/",
    "https://bü_cher.example/",
    "https://bücher.example\uff1a8443/",  # full-width colon: no port to us
    "https://\u2025/",
    "https://" + "ü" * 64 + ".example/",
])
def test_an_international_host_idna_refuses_is_refused(url):
    with pytest.raises(BadUrl):
        target_of(url)


@pytest.mark.parametrize("url", [
    "https://ada@a.example/",
    "https://ada:secret@a.example/",
    "https://@a.example/",
    "https://a.example@b.example/",
    "https://a.example\\@b.example/",
    "https://a.example%40b.example/",
])
def test_userinfo_in_the_authority_is_refused(url):
    with pytest.raises(BadUrl):
        target_of(url)


@pytest.mark.parametrize("url", [
    "https://a..b/",
    "https://a.example../",
    "https://.a.example/",
    "https://./",
    "https://-a.example/",
    "https://a-.example/",
    "https://a.-b.example/",
    "https://" + "a" * 64 + ".example/",
    "https://" + "a." * 127 + "example/",
    "https://a%2eexample/",
    "https://a%62.example/",
    "https://a\\b.example/",
    "https://a\\.example/",
    "https://a!b.example/",
    "https://a,b.example/",
    "https://a*.example/",
    "https://a.example,b.example/",
])
def test_a_host_that_is_not_a_plain_name_is_refused(url):
    with pytest.raises(BadUrl):
        target_of(url)


def test_the_longest_labels_and_host_are_accepted():
    label = "a" * 63
    assert target_of(f"https://{label}.example/").host == f"{label}.example"
    host = ".".join(["a" * 63] * 3 + ["b" * 61])
    assert len(host) == 253
    assert target_of(f"https://{host}/").host == host


@pytest.mark.parametrize(("url", "host"), [
    ("https://127.0.0.1/", "127.0.0.1"),
    ("https://10.0.0.1:8443/", "10.0.0.1:8443"),
    ("https://255.255.255.255/", "255.255.255.255"),
    ("https://0.0.0.0/", "0.0.0.0"),
    ("https://1.2.3.4./", "1.2.3.4"),
    ("https://[::1]/", "[::1]"),
    ("https://[::1]:443/", "[::1]"),
    ("https://[::1]:8080/", "[::1]:8080"),
    ("https://[0:0:0:0:0:0:0:1]/", "[::1]"),
    ("https://[2001:DB8::A]/", "[2001:db8::a]"),
    ("https://[2001:0db8:0000::000a]/", "[2001:db8::a]"),
])
def test_ip_literals_are_kept_in_their_canonical_form(url, host):
    assert target_of(url).host == host


@pytest.mark.parametrize("url", [
    "https://010.0.0.1/",
    "https://127.1/",
    "https://127.0.1/",
    "https://0x7f.1/",
    "https://0x7f000001/",
    "https://2130706433/",
    "https://1.2.3.4.5/",
    "https://256.0.0.1/",
    "https://a.example.123/",
    "https://a.0x1f/",
    "https://[::1/",
    "https://[::1]x/",
    "https://[::1]./",
    "https://[]/",
    "https://[a.example]/",
    "https://[::g]/",
    "https://[fe80::1%eth0]/",
    "https://[fe80::1%25eth0]/",
    "https://[v1.abc]/",
    "https://::1/",
    "https://[::1]:/",
    "https://[::\u0661]/",
])
def test_a_numeric_or_bracketed_host_read_two_ways_is_refused(url):
    with pytest.raises(BadUrl):
        target_of(url)


def test_a_name_that_only_starts_with_digits_is_a_name():
    assert target_of("https://123.example/").host == "123.example"
    assert target_of("https://1.2.3.4a/").host == "1.2.3.4a"


@pytest.mark.parametrize(("url", "path"), [
    ("https://a.example/a/./b", "/a/b"),
    ("https://a.example/./a", "/a"),
    ("https://a.example/a/.", "/a/"),
    ("https://a.example/a/b/..", "/a/"),
    ("https://a.example/a/../b", "/b"),
    ("https://a.example/public/../admin", "/admin"),
    ("https://a.example/a/b/../../c/", "/c/"),
    ("https://a.example//admin", "/admin"),
    ("https://a.example/a//b///c", "/a/b/c"),
    ("https://a.example/a//../b", "/b"),
    ("https://a.example/./", "/"),
    ("https://a.example/.well-known/x", "/.well-known/x"),
    ("https://a.example/a/...", "/a/..."),
    ("https://a.example/a/.b/..c", "/a/.b/..c"),
    ("https://a.example/wiki/", "/wiki/"),
])
def test_slashes_collapse_and_dot_segments_resolve(url, path):
    assert target_of(url).path == path


@pytest.mark.parametrize(("url", "path"), [
    ("https://a.example/public/%2e%2e/admin", "/admin"),
    ("https://a.example/public/%2E%2e/admin", "/admin"),
    ("https://a.example/public/.%2e/admin", "/admin"),
    ("https://a.example/public/%2e./admin", "/admin"),
    ("https://a.example/public/%2E/admin", "/public/admin"),
    ("https://a.example/public%2f..%2fadmin", "/admin"),
    ("https://a.example/wiki%2fsecret", "/wiki/secret"),
    ("https://a.example/wiki%2Fsecret", "/wiki/secret"),
    ("https://a.example/%2fadmin", "/admin"),
    ("https://a.example/%2F%2Fadmin", "/admin"),
    ("https://a.example/wiki%20page", "/wiki page"),
    ("https://a.example/%C3%BC", "/\u00fc"),
    ("https://a.example/%c3%bc", "/\u00fc"),
    ("https://a.example/100%25", "/100%"),
    ("https://a.example/a%3Fb", "/a?b"),
    ("https://a.example/a%23b", "/a#b"),
    ("https://a.example/%41dmin", "/Admin"),
])
def test_the_path_is_decoded_once_then_resolved(url, path):
    assert target_of(url).path == path


def test_an_encoded_slash_is_matched_like_a_slash():
    path = target_of("https://a.example/wiki%2fsecret").path
    assert prefix_matches(prefix_key("/wiki/secret"), path)


@pytest.mark.parametrize("url", [
    "https://a.example/..",
    "https://a.example/../admin",
    "https://a.example/a/../../admin",
    "https://a.example/%2e%2e/admin",
    "https://a.example/%2E%2e/admin",
    "https://a.example/.%2E/admin",
    "https://a.example/%2f..%2f..%2fadmin",
    "https://a.example//../admin",
])
def test_a_path_climbing_above_the_root_is_refused(url):
    with pytest.raises(BadUrl):
        target_of(url)


@pytest.mark.parametrize("url", [
    # Double encoding: an app decoding again would read another path.
    "https://a.example/public/%252e%252e/admin",
    "https://a.example/%252E%252E/admin",
    "https://a.example/wiki%252fsecret",
    "https://a.example/%25%32%65",
    "https://a.example/%2525",
    # Path parameters: Tomcat reads "..;/" as "../".
    "https://a.example/public/..;/admin",
    "https://a.example/admin;jsessionid=1",
    "https://a.example/admin;",
    "https://a.example/admin%3b/x",
    "https://a.example/admin%3B/x",
    # Backslashes: "/" to some servers.
    "https://a.example/public\\..\\admin",
    "https://a.example/\\admin",
    "https://a.example/a%5cb",
    "https://a.example/a%5Cb",
    # Percent signs that are not %xx, and %xx that is not UTF-8.
    "https://a.example/100%",
    "https://a.example/a%2",
    "https://a.example/%zz",
    "https://a.example/%%41",
    "https://a.example/%C0%AE",
    "https://a.example/%C0%AE%C0%AE/admin",
    "https://a.example/%ff",
    "https://a.example/%C3",
    "https://a.example/%ED%A0%80",  # a lone surrogate
    # Control characters once decoded.
    "https://a.example/a%00b",
    "https://a.example/a%0d%0aSet-Cookie:x",
    "https://a.example/a%09",
    "https://a.example/a%7f",
    "https://a.example/a%C2%85",
    # Raw non-ASCII: its encoding is anyone's guess (WSGI reads latin-1).
    "https://a.example/\u00fc",
    "https://a.example/caf\u00c3\u00a9",
])
def test_a_path_read_more_than_one_way_is_refused(url):
    with pytest.raises(BadUrl):
        target_of(url)


@pytest.mark.parametrize("url", [
    "https://a.example/a\x00b",
    "https://a.example/a\tb",
    "https://a.example/a\nb",
    "https://a.example/a\rb",
    "https://a.example/a b",
    "https://a.example/a\x7fb",
    "https://a.example/a\x85b",
    "https://a.example/a\u00a0b",
    "https://a.example/a\u200bb",
    "https://a.example/a\u2028b",
    "https://a.exa\u00admple/",
    " https://a.example/",
    "https://a.example/ ",
    "https://a.example/\n",
    "\thttps://a.example/",
    "https://a.example/?q=a b",
])
def test_whitespace_and_control_characters_anywhere_are_refused(url):
    with pytest.raises(BadUrl):
        target_of(url)


@pytest.mark.parametrize("url", [
    "https://a.example/x, https://b.example/y",
    "https://a.example/x,https://b.example/y",
    "https://a.example/x,HTTP://b.example/y",
    "https://a.example/?x,https://b.example/y",
    "https://a.example,https://b.example/y",
])
def test_two_joined_headers_are_refused(url):
    with pytest.raises(BadUrl):
        target_of(url)


@pytest.mark.parametrize("url", [
    "",
    "not a url",
    "not-a-url",
    "/just/a/path",
    "//a/b",
    "https:",
    "https:/",
    "https://",
    "https:///x",
    "https:a.example/x",
    "https:/a.example/x",
    "http://:80/",
    "https://:443/",
    "ftp://a/",
    "file:///etc/passwd",
    "javascript://a.example/%0aalert(1)",
    "httpx://a.example/",
    "https//a.example/",
    "hxxps://a.example/",
    "ht\u0442p://a.example/",
    "https://a..b/",
    "https://[::1/",
    "https://a:99999/",
    "https://a.example/" + "a" * 8192,
    "https://" + "a" * 9000 + "/",
])
def test_garbage_is_refused(url):
    with pytest.raises(BadUrl):
        target_of(url)


def test_a_long_url_up_to_the_limit_is_read():
    url = "https://a.example/" + "a" * (8192 - len("https://a.example/"))
    assert len(url) == 8192
    assert target_of(url).path == "/" + "a" * (8192 - len("https://a.example/"))


def test_a_refusal_is_a_value_error_with_a_short_reason():
    with pytest.raises(ValueError, match="userinfo") as refused:
        target_of("https://ada@a.example/")
    assert isinstance(refused.value, BadUrl)
    assert len(str(refused.value)) < 60


@pytest.mark.parametrize("value", [None, b"https://a.example/", 42])
def test_a_value_that_is_not_text_is_refused(value):
    with pytest.raises(BadUrl):
        target_of(value)


@pytest.mark.parametrize(("text", "key"), [
    ("grafana.example.com", "grafana.example.com"),
    ("Grafana.Example.COM.", "grafana.example.com"),
    ("  wiki.example.com ", "wiki.example.com"),
    ("wiki.example.com:443", "wiki.example.com"),
    ("wiki.example.com:80", "wiki.example.com"),
    ("wiki.example.com:8443", "wiki.example.com:8443"),
    ("bücher.example", "xn--bcher-kva.example"),
    ("127.0.0.1:8080", "127.0.0.1:8080"),
    ("[::1]", "[::1]"),
    ("[0::1]:443", "[::1]"),
])
def test_an_admins_host_gets_the_key_of_a_target_host(text, key):
    assert host_key(text) == key


@pytest.mark.parametrize("text", [
    "",
    "   ",
    "https://wiki.example.com",
    "wiki.example.com/",
    "wiki.example.com/wiki",
    "ada@wiki.example.com",
    "wiki.example.com.:",
    "wiki.example.com:0",
    "wiki..example.com",
    "wiki.example.com..",
    "wiki example.com",
    "wiki.exa\nmple.com",
    "127.1",
    "::1",
    "[::1",
    "a" * 300,
])
def test_an_admins_host_that_is_not_a_plain_host_is_refused(text):
    with pytest.raises(BadUrl):
        host_key(text)


@pytest.mark.parametrize("url", [
    "https://Grafana.Example.COM./d",
    "https://grafana.example.com:443/d",
    "http://grafana.example.com:80/d",
])
def test_a_target_host_equals_the_admins_host_key(url):
    assert target_of(url).host == host_key("grafana.example.com")


@pytest.mark.parametrize(("text", "key"), [
    ("", "/"),
    ("/", "/"),
    ("//", "/"),
    ("/wiki", "/wiki"),
    ("/wiki/", "/wiki"),
    ("wiki", "/wiki"),
    ("wiki/", "/wiki"),
    (" /wiki ", "/wiki"),
    ("//wiki//pages/", "/wiki/pages"),
    ("/wiki/./pages/../", "/wiki"),
    ("/wiki%2Fpages", "/wiki/pages"),
    ("/my%20docs", "/my docs"),
    ("/my docs", "/my docs"),
    ("/wiki/%C3%BC", "/wiki/\u00fc"),
    ("/wiki/\u00fc", "/wiki/\u00fc"),
    ("/100%25", "/100%"),
])
def test_an_admins_prefix_is_normalised_like_a_target_path(text, key):
    assert prefix_key(text) == key


@pytest.mark.parametrize("text", [
    "/..",
    "/wiki/../..",
    "/%2e%2e",
    "/wiki;x",
    "/wiki/..;/x",
    "/wiki%3b",
    "/wiki\\x",
    "/wiki%5c",
    "/wiki%252e",
    "/100%",
    "/%zz",
    "/%C0%AE",
    "/wiki%00",
    "/wiki\tx",
    "/wiki\nx",
    "/wiki?x=1",
    "/wiki#top",
    "https://a.example/wiki",
])
def test_an_admins_prefix_a_target_path_could_not_be_is_refused(text):
    with pytest.raises(BadUrl):
        prefix_key(text)


@pytest.mark.parametrize(("prefix", "path", "matches"), [
    ("/wiki", "/wiki", True),
    ("/wiki", "/wiki/", True),
    ("/wiki", "/wiki/x", True),
    ("/wiki", "/wiki/x/y/", True),
    ("/wiki", "/wikipedia", False),
    ("/wiki", "/wik", False),
    ("/wiki", "/", False),
    ("/wiki", "/other/wiki", False),
    ("/wiki/pages", "/wiki", False),
    ("/wiki/pages", "/wiki/pages/1", True),
    ("/", "/", True),
    ("/", "/anything", True),
    ("/", "/a/b/", True),
])
def test_a_prefix_covers_itself_and_what_is_below_it(prefix, path, matches):
    assert prefix_matches(prefix, path) is matches


def test_a_prefix_matches_what_the_proxy_may_send_for_it():
    prefix = prefix_key("/Wiki/")
    for url in ["https://a.example/Wiki", "https://a.example//Wiki/x",
                "https://a.example/x/../Wiki/y", "https://a.example/%57iki/y"]:
        assert prefix_matches(prefix, target_of(url).path), url
    for url in ["https://a.example/wiki/x", "https://a.example/Wikipedia"]:
        assert not prefix_matches(prefix, target_of(url).path), url


_PIECES = [
    "/", "//", "/.", "/..", ".", "..", "%", "%2", "%2e", "%2E", "%2f", "%2F", "%25",
    "%252e", "%5c", "%3b", "%00", "%C3%BC", "%C0%AE", "%ff", "%e2%80%ae", ";", "\\",
    "@", ":", "::", "[", "]", "?", "#", ",", " ", "\t", "\n", "\x00", "\x7f", "\x85",
    "\u00a0", "\u00fc", "\u0430", "\uff47", "\u3002", "\ufe00", "\u200d", "\U0001f600",
    "xn--", "-", "_", "0x", "127", "255", "8080", "65536", "a", "Z", "example", "com",
    "https://", "http://", "HTTPS://", "ftp://", "\ud800",
]
_PATH_PIECES = ["/", "a", "b", ".", "..", "%2e", "%2f", "%20", "%C3%BC", "%25", "x"]
_STARTS = ["https://", "http://", "HTTP://", "https://a.example", "https://[::1]", ""]


def _fuzzed(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.3:
        return "".join(chr(rng.randrange(0x20, 0x7f)) for _ in range(rng.randrange(40)))
    if kind < 0.4:
        return "".join(chr(rng.randrange(0, 0x3100)) for _ in range(rng.randrange(30)))
    if kind < 0.7:
        pieces = [rng.choice(_PIECES) for _ in range(rng.randrange(1, 14))]
        return rng.choice(_STARTS) + "".join(pieces)
    # Mostly well-formed paths, so that the checks past the first ones are reached.
    pieces = [rng.choice(_PATH_PIECES) for _ in range(rng.randrange(1, 10))]
    return "https://a.example/" + "".join(pieces)


def test_anything_is_a_target_or_a_refusal_never_another_error():
    rng = random.Random(20260101)
    accepted = 0
    for _ in range(2000):
        url = _fuzzed(rng)
        try:
            target = target_of(url)
        except BadUrl:
            continue
        accepted += 1
        assert isinstance(target, Target), url
        host, path = target
        assert host.isascii(), url
        assert host == host.lower(), url
        assert path.startswith("/"), url
        assert "//" not in path, url
        assert not {"", ".", ".."} & set(path.split("/")[1:-1]), url
        # What is accepted reads back the same once re-encoded.
        again = target_of("https://a.example" + quote(path, safe="/"))
        assert again.path == path, url
        assert prefix_matches(prefix_key(quote(path, safe="/")), path), url
    assert accepted > 100  # the fuzzing reaches past the first checks


@pytest.mark.parametrize("seed", range(5))
def test_any_admin_text_is_a_key_or_a_refusal(seed):
    rng = random.Random(seed)
    for _ in range(200):
        text = _fuzzed(rng)
        for key_of in (host_key, prefix_key):
            try:
                key_of(text)
            except BadUrl:
                pass
