"""A session's device in words, from its User-Agent (ua-parser, on the uap-core rules)."""

from __future__ import annotations

from functools import lru_cache

from ua_parser import parse


@lru_cache(maxsize=1024)
def describe(user_agent: str | None) -> str:
    """"Firefox 133 on Windows", "Mobile Safari 17 on iOS (iPhone)", or "Unknown device"."""
    if not user_agent:
        return "Unknown device"
    result = parse(user_agent)
    browser = result.user_agent
    system = result.os
    words = []
    if browser is not None and browser.family != "Other":
        words.append(f"{browser.family} {browser.major}" if browser.major else browser.family)
    if system is not None and system.family != "Other":
        words.append(("on " if words else "") + system.family)
    device = result.device
    if device is not None and device.family not in ("Other", "Spider") and device.family not in " ".join(words):
        words.append(f"({device.family})")
    return " ".join(words) or "Unknown device"
