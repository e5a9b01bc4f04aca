"""/auth/verify under load: wrk → nginx auth_request → idgate (PostgreSQL + Redis), against the same
path to a bare Flask endpoint with the same headers, same gunicorn settings, same run.

Goal (issue 6): idgate's requests/s ≥ 0.6 × the bare endpoint's. p50/p99 beside it; ratio last.
Run: python bench/verify_wrk.py [--seconds 10] [--connections 64]
Needs wrk and nginx (Debian packages), PostgreSQL and Redis on this machine.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import fresh_postgres_database  # noqa: E402
from tests.helpers.nginx import Nginx  # noqa: E402
from tests.helpers.processes import clean_env, free_port, idgate, start_idgate_serve, stop, wait_until_ready  # noqa: E402

GUNICORN = ["--workers", "2", "--threads", "4", "--worker-class", "gthread"]
PASSWORD = "walnut harbor lantern 2046 quietly"


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def session_cookie(base: str, temporary: str) -> str:
    browser = requests.Session()
    browser.post(f"{base}/login", data={"csrf_token": _csrf(browser.get(f"{base}/login").text),
                                        "email": "ops@acme.example", "password": temporary})
    form = browser.get(f"{base}/password/change")
    browser.post(f"{base}/password/change", data={"csrf_token": _csrf(form.text), "new_password": PASSWORD})
    return browser.cookies["idgate_session"]


def wrk(url: str, cookie: str, seconds: int, connections: int) -> dict:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-H", f"Cookie: idgate_session={cookie}", url],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    def latency(pct):
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": latency(50),
            "p99": latency(99), "errors": int(non2xx.group(1)) if non2xx else 0}


def server_block(listen: int, verify_upstream: int, docroot: Path) -> str:
    return f"""
    server {{
        listen 127.0.0.1:{listen};
        root {docroot};
        location = /_verify {{
            internal;
            proxy_pass http://127.0.0.1:{verify_upstream}/auth/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
        location / {{
            auth_request /_verify;
            auth_request_set $user $upstream_http_x_auth_user_id;
            add_header X-User $user;
        }}
    }}"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    pg = os.environ.get("IDGATE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    redis_url = os.environ.get("IDGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
    with fresh_postgres_database(pg, "idgate_bench_verify") as url, tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        idgate_port, bare_port, n1, n2 = free_port(), free_port(), free_port(), free_port()
        env = clean_env(IDGATE_DATABASE_URL=url, IDGATE_REDIS_URL=redis_url, IDGATE_INSTANCE_PATH=str(tmp / "i"),
                        IDGATE_CERTS_DIR=str(tmp / "certs"), IDGATE_BASE_URL=f"http://127.0.0.1:{idgate_port}")
        idgate("init", env=env, cwd=tmp)
        out = idgate("org", "create", "acme", "--name", "Acme", "--admin-email", "ops@acme.example",
                     "--admin-name", "Olga Ops", env=env, cwd=tmp).stdout
        temporary = re.search(r"\(shown once\): (\S+)", out).group(1)
        gateway = start_idgate_serve(env=env, cwd=tmp, port=idgate_port, workers=2)
        # The same gunicorn settings as `idgate serve`, access log included.
        from gateway.server import ACCESS_LOG_FORMAT

        bare_log = open(tmp / "bare.log", "w")
        bare = subprocess.Popen([sys.executable, "-m", "gunicorn", *GUNICORN, "-b", f"127.0.0.1:{bare_port}",
                                 "--graceful-timeout", "20", "--timeout", "60", "--access-logfile", "-",
                                 "--access-logformat", ACCESS_LOG_FORMAT, "bench.bare_app:app"],
                                cwd=ROOT, stdout=bare_log, stderr=subprocess.STDOUT)
        docroot = tmp / "www"
        docroot.mkdir()
        (docroot / "index.html").write_text("ok")
        proxy = None
        try:
            wait_until_ready(f"http://127.0.0.1:{bare_port}/auth/verify", bare)
            cookie = session_cookie(f"http://127.0.0.1:{idgate_port}", temporary)
            proxy = Nginx(tmp / "nginx", server_block(n1, idgate_port, docroot) + server_block(n2, bare_port, docroot),
                          n1).start()
            assert requests.get(f"http://127.0.0.1:{n1}/index.html", cookies={"idgate_session": cookie}).ok
            wrk(f"http://127.0.0.1:{n1}/index.html", cookie, 2, args.connections)  # warm up
            ours = wrk(f"http://127.0.0.1:{n1}/index.html", cookie, args.seconds, args.connections)
            baseline = wrk(f"http://127.0.0.1:{n2}/index.html", cookie, args.seconds, args.connections)
        finally:
            if proxy:
                proxy.stop()
            bare.terminate()
            bare.wait()
            stop(gateway)
    print(f"wrk {args.connections} connections, {args.seconds} s, through nginx auth_request "
          f"(gunicorn {' '.join(GUNICORN)}):")
    for name, r in (("idgate /auth/verify (PostgreSQL + Redis)", ours), ("bare Flask, same headers", baseline)):
        print(f"  {name:42s} {r['rps']:8.0f} req/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms"
              f"  non-2xx {r['errors']}")
    print(f"idgate / bare requests per second: {ours['rps'] / baseline['rps']:.2f} (goal ≥ 0.6)")


if __name__ == "__main__":
    main()
