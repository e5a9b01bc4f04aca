"""A real nginx (Debian's package) on a free loopback port, running our shipped config."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def available() -> bool:
    return Path(NGINX).exists()


def render_shipped_config(*, listen: int, idgate: int, app: int, server_names: Sequence[str] = ()) -> str:
    """deploy/nginx.conf with this test's ports: the config operators use, not a copy.

    With `server_names`, its server block once per name, all on the one listen port (the first is
    the default server), as an operator puts several apps behind one nginx.
    """
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    conf = conf.replace("server 127.0.0.1:5000;", f"server 127.0.0.1:{idgate};")
    conf = conf.replace("server 127.0.0.1:8080;", f"server 127.0.0.1:{app};")
    conf = re.sub(r"listen 80;", f"listen 127.0.0.1:{listen};", conf)
    if not server_names:
        return conf
    upstreams, marker, server = conf.partition("\nserver {")
    assert marker and "\nserver {" not in server, "deploy/nginx.conf no longer has exactly one server block"
    return upstreams + "".join(f"{marker}\n    server_name {name};{server}\n" for name in server_names)


class Nginx:
    def __init__(self, workdir: Path, server_block: str, port: int, worker_processes: int | str = 1):
        self.workdir, self.port = Path(workdir), port
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        temp = self.workdir / "temp"
        temp.mkdir(exist_ok=True)
        self.conf = self.workdir / "nginx.conf"
        self.conf.write_text(f"""
user root;
worker_processes {worker_processes};
daemon off;
pid {self.workdir}/nginx.pid;
error_log {self.workdir}/logs/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {self.workdir}/logs/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
{server_block}
}}
""")
        self.process: subprocess.Popen | None = None

    def start(self) -> "Nginx":
        check = subprocess.run([NGINX, "-t", "-p", str(self.workdir), "-c", str(self.conf)],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        self.process = subprocess.Popen([NGINX, "-p", str(self.workdir), "-c", str(self.conf)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                # Any answer will do, the sign-in redirect too: it may name a host that does not resolve.
                requests.get(f"http://127.0.0.1:{self.port}/healthz-nginx", timeout=1, allow_redirects=False)
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise TimeoutError("nginx did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
