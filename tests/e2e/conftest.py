"""End-to-end fixtures: a real `idgate serve` and a real headless Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.browser import chromium_available, launch
from tests.helpers.processes import clean_env, free_port, idgate, start_idgate_serve, stop

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = pytest.mark.skipif(not chromium_available(), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    """A served gateway on SQLite, empty, with fast hashing; yields its base URL."""
    workdir = tmp_path_factory.mktemp("e2e")
    port = free_port()
    env = clean_env(
        IDGATE_DATABASE_URL=f"sqlite:///{workdir / 'e2e.db'}", IDGATE_INSTANCE_PATH=str(workdir / "instance"),
        IDGATE_CERTS_DIR=str(workdir / "certs"), IDGATE_BASE_URL=f"http://127.0.0.1:{port}",
        IDGATE_ARGON2_TIME_COST="1", IDGATE_ARGON2_MEMORY_COST="1024", IDGATE_ARGON2_PARALLELISM="1",
    )
    idgate("init", env=env, cwd=workdir)
    server = start_idgate_serve(env=env, cwd=workdir, port=port, workers=1)
    base = f"http://127.0.0.1:{port}"
    yield Gateway(base, env, workdir)
    stop(server)


class Gateway(str):
    """The base URL, which also knows how to run `idgate` commands against this gateway."""

    def __new__(cls, base, env, workdir):
        gateway = super().__new__(cls, base)
        gateway.env, gateway.workdir = env, workdir
        return gateway

    def cli(self, *args: str) -> str:
        return idgate(*args, env=self.env, cwd=self.workdir).stdout


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def person(chromium):
    """A fresh browser profile: one person, their own cookies. Every page it opens fails the test
    on any Content Security Policy violation the browser reports."""
    contexts, violations = [], []

    def open_page(width: int = 1100):
        context = chromium.new_context(viewport={"width": width, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: violations.append(f"{page.url}: {message.text}")
                if "Content Security Policy" in message.text else None)
        return page
    yield open_page
    for context in contexts:
        context.close()
    assert violations == []


@pytest.fixture
def screenshot(tmp_path):
    """Save a screenshot; with IDGATE_UPDATE_SCREENSHOTS=1 also into docs/screenshots for the README."""
    def take(page, name: str):
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if os.environ.get("IDGATE_UPDATE_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            (SCREENSHOTS / f"{name}.png").write_bytes(path.read_bytes())
        return path
    return take
