"""Where `next`, `rd` and RelayState may send a browser."""

from __future__ import annotations

import pytest

from gateway.redirects import is_safe_redirect, safe_redirect_target

ALLOWED = ("127.0.0.1:5000", "app.example.com")


@pytest.mark.parametrize("url", [
    "/account",
    "/a?b=c",
    "/a/b?c=d#e",
    "/search?q=hello%20world",
    "https://app.example.com/x",
    "http://127.0.0.1:5000/y",
    # Host names are case-insensitive: this is still app.example.com, and only it.
    "HTTPS://APP.EXAMPLE.COM/x",
    "https://App.Example.Com/x",
])
def test_local_paths_and_allowed_hosts_pass(url):
    assert is_safe_redirect(url, ALLOWED)


@pytest.mark.parametrize("url", [
    # Read by browsers as a scheme-relative URL to another host.
    "//evil.com",
    "///evil.com",
    "//",
    "/\\evil.com",
    "\\\\evil.com",
    "//app.example.com/x",
    # Schemes without slashes still name a host.
    "https:evil.com",
    "http:/evil.com",
    "https:/evil.com",
    "http:///evil.com",
    # Userinfo: the host is what comes after the @.
    "https://app.example.com@evil.com/",
    "https://evil.com@app.example.com/",
    "http://app.example.com:80@evil.com",
    "http://evil.com\\@app.example.com",
    "https://evil.com#@app.example.com",
    # Other hosts, look-alike hosts, other ports.
    "https://evil.com",
    "https://app.example.com.evil.com/",
    "https://app.example.com\u3002evil.com",
    "https://ａｐｐ.example.com/",
    "https://app.example.com:8443/",
    # Other schemes.
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "ftp://app.example.com/",
    "mailto:someone@app.example.com",
    # The same tricks percent-encoded, for servers that decode once more.
    "%2F%2Fevil.com",
    "%2f%2fevil.com",
    "/%2F/evil.com",
    "/%5Cevil.com",
    "%09/evil.com",
    "/%0d%0aSet-Cookie:x=1",
    "https://app.example.com%40evil.com",
    "https://evil.com%2F@app.example.com",
    "https://evil.com%23@app.example.com",
    # Control characters and padding that browsers strip or "fix".
    "\t//evil.com",
    " /x",
    " //evil.com",
    "/x ",
    "\u00a0//evil.com",
    "/\t/evil.com",
    "/\x7fevil.com",
    "//evil.com%00",
    # Nothing, and too much.
    "",
    None,
    "/" + "a" * 3000,
])
def test_tricks_that_leave_for_another_host_are_refused(url):
    assert not is_safe_redirect(url, ALLOWED)


class TestWithTheAppsSettings:
    @pytest.mark.settings(allowed_redirect_hosts="wiki.example.com")
    def test_the_configured_hosts_are_the_default(self, app):
        with app.app_context():
            assert is_safe_redirect("https://wiki.example.com/page")
            assert not is_safe_redirect("http://127.0.0.1:5000/page")

    def test_without_configured_hosts_only_the_gateway_itself_is_allowed(self, app):
        with app.app_context():
            assert is_safe_redirect("http://127.0.0.1:5000/page")
            assert not is_safe_redirect("https://app.example.com/page")

    def test_an_unsafe_target_falls_back_to_the_default(self, app):
        with app.app_context():
            assert safe_redirect_target("//evil.com", "/account") == "/account"
            assert safe_redirect_target(None, "/account") == "/account"
            assert safe_redirect_target("/admin/users", "/account") == "/admin/users"
