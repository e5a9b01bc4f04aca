"""A bounded load run (loopback only): 64 connections for 60 s over sign-in, /auth/verify and an admin
read, against `idgate serve` (2 workers) on PostgreSQL + Redis. Reports errors and each worker's memory before
and after. Goal (issue 7): zero errors, steady memory.
Run: python bench/load.py [--seconds 60] [--connections 64]
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
from tests.helpers.processes import clean_env, free_port, idgate, start_idgate_serve, stop  # noqa: E402

PASSWORD = "walnut harbor lantern 2046 quietly"
LUA = r"""
local n = 0
request = function()
  n = n + 1
  local kind = n %% 100
  if kind == 0 then
    wrk.method = "POST"
    wrk.body = "csrf_token=%s&email=ops%%40acme.example&password=%s"
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
    wrk.headers["Cookie"] = "idgate_state=%s"
    return wrk.format("POST", "/login")
  end
  wrk.headers["Cookie"] = "idgate_session=%s"
  wrk.headers["Content-Type"] = nil
  if kind < 20 then return wrk.format("GET", "/admin/users") end
  return wrk.format("GET", "/auth/verify")
end
"""


def rss_of_workers(master_pid: int) -> dict[int, int]:
    children = subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True, text=True).stdout.split()
    sizes = {}
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        sizes[int(pid)] = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    pg = os.environ.get("IDGATE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    with fresh_postgres_database(pg, "idgate_bench_load") as url, tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = clean_env(IDGATE_DATABASE_URL=url, IDGATE_REDIS_URL="redis://127.0.0.1:6379/13",
                        IDGATE_INSTANCE_PATH=str(tmp / "i"), IDGATE_CERTS_DIR=str(tmp / "certs"),
                        IDGATE_BASE_URL=base, IDGATE_LOGIN_LIMIT_ACCOUNT="1000000 per minute",
                        IDGATE_LOGIN_LIMIT_ADDRESS="1000000 per minute")
        idgate("init", env=env, cwd=tmp)
        out = idgate("org", "create", "acme", "--name", "Acme", "--admin-email", "ops@acme.example",
                     "--admin-name", "Olga Ops", env=env, cwd=tmp).stdout
        temporary = re.search(r"\(shown once\): (\S+)", out).group(1)
        server = start_idgate_serve(env=env, cwd=tmp, port=port, workers=2)
        try:
            browser = requests.Session()
            csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', browser.get(f"{base}/login").text).group(1)
            browser.post(f"{base}/login", data={"csrf_token": csrf, "email": "ops@acme.example",
                                                "password": temporary})
            browser.post(f"{base}/password/change", data={"csrf_token": csrf, "new_password": PASSWORD})
            script = tmp / "mix.lua"
            script.write_text(LUA % (csrf, PASSWORD.replace(" ", "+"), browser.cookies["idgate_state"],
                                     browser.cookies["idgate_session"]))
            before = rss_of_workers(server.pid)
            # Three equal parts, memory read after each: growth that stops is warm-up, growth that
            # goes on is a leak.
            part = max(args.seconds // 3, 1)
            samples, results = [], []
            for _ in range(3):
                results.append(subprocess.run(
                    ["wrk", "-t2", f"-c{args.connections}", f"-d{part}s", "--latency", "-s", str(script), base],
                    capture_output=True, text=True, timeout=part + 60).stdout)
                samples.append(rss_of_workers(server.pid))
            result = "\n".join(results)
        finally:
            stop(server)
    requests_done = sum(int(n) for n in re.findall(r"(\d+) requests in", result))
    error_count = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", result))
    socket_errors = re.findall(r"Socket errors: (.*)", result)
    print(f"{requests_done} requests (1 in 100 a sign-in with production argon2, 19 an admin team page, "
          "80 /auth/verify)")
    print(f"socket errors: {'; '.join(socket_errors) if socket_errors else 'none'}")
    for pid in before:
        steps = " -> ".join(f"{s.get(pid, 0) / 1024:.1f}" for s in samples)
        print(f"worker {pid}: RSS {before[pid] / 1024:.1f} -> {steps} MiB")
    print(f"errors (non-2xx/3xx): {error_count}")


if __name__ == "__main__":
    main()
