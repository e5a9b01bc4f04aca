"""Where `next`, `rd` and RelayState may send a browser."""

from __future__ import annotations

import pytest

from gateway.redirects import is_safe_redirect

ALLOWED = ("127.0.0.1:5000", "app.example.com")


@pytest.mark.parametrize("url", [
    "/account", "/a/b?c=d#e", "https://app.example.com/x", "http://127.0.0.1:5000/y",
    "HTTPS://APP.EXAMPLE.COM/x",
])
def test_local_paths_and_allowed_hosts_pass(url):
    assert is_safe_redirect(url, ALLOWED)


@pytest.mark.parametrize("url", [
    "//evil.example", "/\\evil.example", "\\\\evil.example", "https:evil.example", "http:/evil.example",
    "https://app.example.com@evil.example/", "https://evil.example@app.example.com/",
    "https://evil.example", "https://app.example.com.evil.example/", "javascript:alert(1)",
    "JavaScript:alert(1)", "data:text/html,<script>", "%2F%2Fevil.example", "/%2F/evil.example",
    "/%5Cevil.example", "\t//evil.example", " //evil.example", "/\t/evil.example", "//evil.example%00",
    "https://evil.example\\@app.example.com", "ftp://app.example.com/", "", None, "/" + "a" * 3000,
    "//", "///evil.example",
])
def test_tricks_that_leave_for_another_host_are_refused(url):
    assert not is_safe_redirect(url, ALLOWED)


def test_an_encoded_space_in_a_query_is_fine():
    assert is_safe_redirect("/search?q=hello%20world", ALLOWED)
