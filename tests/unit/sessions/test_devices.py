"""A session's device in words, from its User-Agent."""

from __future__ import annotations

import pytest

from gateway.sessions.devices import describe


@pytest.mark.parametrize(("user_agent", "words"), [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox 133 on Windows"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.0 Mobile/15E148 Safari/604.1", "Mobile Safari 17 on iOS (iPhone)"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
     "Chrome 131 on Linux"),
    ("curl/8.5.0", "curl 8"),
    (None, "Unknown device"),
    ("", "Unknown device"),
    ("\x00" * 300, "Unknown device"),
])
def test_describe(user_agent, words):
    assert describe(user_agent) == words
