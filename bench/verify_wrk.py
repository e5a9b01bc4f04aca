"""/auth/verify under load, against two baselines measured in the same run (issue 16).

1. Direct: wrk → `idgate serve` (its defaults) GET /auth/verify with a cached session, against
   wrk → a bare Flask endpoint answering the same headers on gunicorn sync -w4. Goal ≥ 6×.
2. Through nginx: wrk → nginx `auth_request` → idgate → a static page, against wrk → the same
   nginx serving the same page with no auth_request at all. Goal ≥ 0.25×. nginx keeps its
   upstream connections to idgate alive, as deploy/nginx.conf does.

PostgreSQL + Redis by default (`--store sqlite` for the embedded default). The four take turns in
rounds; the median round of each is shown with its p50/p99, the ratios last.
Run: python bench/verify_wrk.py [--seconds 5] [--rounds 5] [--connections 64] [--store redis|sqlite]
     [--nginx-workers auto] [--threads N]
Needs wrk and nginx (Debian packages), gunicorn (the test extra), PostgreSQL and Redis.
"""

from __future__ import annotations

import argparse
import contextlib
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
from tests.helpers.cluster import ADMIN_PASSWORD, full_session  # noqa: E402
from tests.helpers.nginx import Nginx  # noqa: E402
from tests.helpers.processes import clean_env, free_port, init_with_acme, start_idgate_serve, stop, wait_until_ready  # noqa: E402

BASELINE = ["--workers", "4", "--worker-class", "sync"]


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


def server_blocks(guarded: int, plain: int, idgate_port: int, docroot: Path) -> str:
    return f"""
    upstream idgate {{ server 127.0.0.1:{idgate_port}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{guarded};
        root {docroot};
        location = /_idgate {{
            internal;
            proxy_pass http://idgate/auth/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
        location / {{
            auth_request /_idgate;
            auth_request_set $user $upstream_http_x_auth_user_id;
            add_header X-User $user;
        }}
    }}
    server {{
        listen 127.0.0.1:{plain};
        root {docroot};
    }}"""


@contextlib.contextmanager
def database(store: str, tmp: Path):
    if store == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}", None
        return
    pg = os.environ.get("IDGATE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    with fresh_postgres_database(pg, "idgate_bench_verify") as url:
        yield url, os.environ.get("IDGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--store", choices=["redis", "sqlite"], default="redis")
    parser.add_argument("--nginx-workers", default="auto", help="worker_processes (auto, as Debian ships it)")
    parser.add_argument("--threads", type=int, help="`idgate serve --threads` (its default when not given)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, database(args.store, Path(tmp)) as (url, redis_url):
        tmp = Path(tmp)
        idgate_port, bare_port, guarded, plain = free_port(), free_port(), free_port(), free_port()
        env = clean_env(IDGATE_DATABASE_URL=url, IDGATE_INSTANCE_PATH=str(tmp / "i"),
                        IDGATE_CERTS_DIR=str(tmp / "certs"), IDGATE_BASE_URL=f"http://127.0.0.1:{idgate_port}",
                        **({"IDGATE_REDIS_URL": redis_url} if redis_url else {}))
        if args.threads:
            env["IDGATE_THREADS"] = str(args.threads)
        temporary = init_with_acme(env=env, cwd=tmp)
        gateway = start_idgate_serve(env=env, cwd=tmp, port=idgate_port, workers=None)
        bare = subprocess.Popen([sys.executable, "-m", "gunicorn", *BASELINE, "-b", f"127.0.0.1:{bare_port}",
                                 "bench.bare_app:app"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        docroot = tmp / "www"
        docroot.mkdir()
        (docroot / "index.html").write_text("ok")
        proxy = None
        try:
            wait_until_ready(f"http://127.0.0.1:{bare_port}/auth/verify", bare)
            cookie = full_session(f"http://127.0.0.1:{idgate_port}", "ops@acme.example", temporary, ADMIN_PASSWORD)
            direct = f"http://127.0.0.1:{idgate_port}/auth/verify"
            assert requests.get(direct, cookies={"idgate_session": cookie}).status_code == 200
            proxy = Nginx(tmp / "nginx", server_blocks(guarded, plain, idgate_port, docroot), guarded,
                          worker_processes=args.nginx_workers).start()
            assert requests.get(f"http://127.0.0.1:{guarded}/index.html", cookies={"idgate_session": cookie}).ok
            wrk(direct, cookie, 2, args.connections)  # warm up
            targets = {
                "idgate /auth/verify": direct,
                "bare Flask, gunicorn sync -w4": f"http://127.0.0.1:{bare_port}/auth/verify",
                "nginx auth_request → idgate": f"http://127.0.0.1:{guarded}/index.html",
                "nginx alone": f"http://127.0.0.1:{plain}/index.html",
            }
            # Rounds that take turns, medians kept: this machine's speed drifts by a tenth or more
            # from one minute to the next, and each ratio compares two figures of the same rounds.
            runs = {name: [] for name in targets}
            for _ in range(args.rounds):
                for name, url in targets.items():
                    runs[name].append(wrk(url, cookie, args.seconds, args.connections))
            results = {name: sorted(found, key=lambda r: r["rps"])[len(found) // 2] for name, found in runs.items()}
        finally:
            if proxy:
                proxy.stop()
            bare.terminate()
            bare.wait()
            stop(gateway)
    print(f"wrk -t2 -c{args.connections} -d{args.seconds}s, median of {args.rounds} rounds taking turns, "
          f"store {args.store}, `idgate serve` defaults:")
    for name, r in results.items():
        print(f"  {name:32s} {r['rps']:9.0f} req/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms"
              f"  non-2xx {r['errors']}")
    direct_ratio = results["idgate /auth/verify"]["rps"] / results["bare Flask, gunicorn sync -w4"]["rps"]
    nginx_ratio = results["nginx auth_request → idgate"]["rps"] / results["nginx alone"]["rps"]
    print(f"through nginx / nginx alone: {nginx_ratio:.3f} (goal ≥ 0.25)")
    print(f"idgate direct / bare Flask on gunicorn sync -w4: {direct_ratio:.2f} (goal ≥ 6)")


if __name__ == "__main__":
    main()
