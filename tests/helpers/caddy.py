"""A real Caddy (Debian's package) on free loopback ports, running our shipped Caddyfile."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import requests

from tests.helpers.processes import terminate

ROOT = Path(__file__).resolve().parents[2]
CADDY = shutil.which("caddy") or "/usr/bin/caddy"


def available() -> bool:
    return Path(CADDY).exists()


def _replace(text: str, old: str, new: str) -> str:
    # Fail loudly when the shipped file changes shape: silently testing a half-substituted config
    # would prove nothing.
    assert old in text, f"{old!r} is no longer in the shipped config"
    return text.replace(old, new)


def render_shipped_config(*, id_site: int, app_site: int, idgate: int, app: int) -> str:
    """deploy/Caddyfile with this test's hosts and ports: the config operators use, not a copy.

    The two sites become http://127.0.0.1:PORT, so Caddy wants no certificate, and the session
    cookie reaches both as IDGATE_COOKIE_DOMAIN makes it do for id. and app.example.com (a cookie
    is not bound to a port). The only addition is the global `admin off`: parallel runs would
    fight over the admin port 2019.
    """
    conf = (ROOT / "deploy" / "Caddyfile").read_text()
    conf = _replace(conf, "\nid.example.com {", f"\nhttp://127.0.0.1:{id_site} {{")
    conf = _replace(conf, "\napp.example.com {", f"\nhttp://127.0.0.1:{app_site} {{")
    conf = _replace(conf, "idgate:5000", f"127.0.0.1:{idgate}")
    conf = _replace(conf, "app:8080", f"127.0.0.1:{app}")
    return "{\n\tadmin off\n}\n\n" + conf


def render_shipped_config_for_hosts(*, port: int, id_host: str, app_hosts: Sequence[str], idgate: int,
                                    app: int) -> str:
    """deploy/Caddyfile with its app site once per host of `app_hosts`, and its id site at
    `id_host`, all on one plain-http port (Caddy picks the site by the Host header).

    As in render_shipped_config, only the hosts and ports change, and `admin off` is added.
    """
    conf = (ROOT / "deploy" / "Caddyfile").read_text()
    head, marker, app_site = conf.partition("\napp.example.com {")
    assert marker and "\napp.example.com {" not in app_site, "app.example.com is no longer one site of the Caddyfile"
    conf = head + "".join(f"\nhttp://{host}:{port} {{{app_site}" for host in app_hosts)
    conf = _replace(conf, "\nid.example.com {", f"\nhttp://{id_host}:{port} {{")
    conf = _replace(conf, "idgate:5000", f"127.0.0.1:{idgate}")
    conf = _replace(conf, "app:8080", f"127.0.0.1:{app}")
    return "{\n\tadmin off\n}\n\n" + conf


class Caddy:
    def __init__(self, workdir: Path, caddyfile: str, ready_url: str):
        """`ready_url` answers 200 once Caddy serves the config (a path proxied to idgate)."""
        self.workdir, self.ready_url = Path(workdir), ready_url
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf = self.workdir / "Caddyfile"
        self.conf.write_text(caddyfile)
        self.log = self.workdir / "caddy.log"
        # Caddy keeps its storage and autosaved config under these: the test's own directory.
        self.env = {**os.environ, "HOME": str(self.workdir), "XDG_DATA_HOME": str(self.workdir / "data"),
                    "XDG_CONFIG_HOME": str(self.workdir / "config")}
        self.process: subprocess.Popen | None = None

    def start(self) -> "Caddy":
        check = subprocess.run([CADDY, "validate", "--config", str(self.conf), "--adapter", "caddyfile"],
                               capture_output=True, text=True, env=self.env)
        assert check.returncode == 0, check.stderr
        with open(self.log, "w") as log:
            self.process = subprocess.Popen([CADDY, "run", "--config", str(self.conf), "--adapter", "caddyfile"],
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"caddy exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                if requests.get(self.ready_url, timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"caddy did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        terminate(self.process)
