"""Headless Chromium from Debian's package, driven by Playwright (no browser download)."""

from __future__ import annotations

import os
import shutil

CHROMIUM = os.environ.get("IDGATE_CHROMIUM", "/usr/bin/chromium")
# As root in a container: no sandbox; and no background traffic to a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def chromium_available() -> bool:
    return bool(shutil.which(CHROMIUM) or os.path.exists(CHROMIUM))


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
