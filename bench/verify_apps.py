"""/auth/verify with registered applications against none, measured in the same run (issue 19).

A signed-in member's /auth/verify from the cached session path, wrk → `idgate serve` (its defaults),
the same request (cookie and X-Original-URL) against two gateways, each on a database of its own:
(a) no registered applications, the member in no group (the URL's host is unregistered: allowed);
(b) 1,000 applications across 50 organizations (20 each, every other one with a second route; 1,500
hosts) and the member in 50 groups, the URL naming an app of the member's organization whose rule
admits them by a group (so every answer also carries 50 names in X-Auth-Groups and the token).
Goal: (b)/(a) ≥ 0.95.

PostgreSQL + Redis by default (`--store sqlite` for the embedded default). The two take turns in
rounds; the median round of each is shown with its p50/p99 and the gateway's CPU time per request
(all its processes, from /proc: unlike req/s, barely moved by other work on the machine), the ratio
last.
Run: python bench/verify_apps.py [--seconds 5] [--rounds 5] [--connections 64] [--store redis|sqlite]
Needs wrk (Debian package), PostgreSQL and Redis.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway import create_app  # noqa: E402
from gateway.actor import Actor  # noqa: E402
from gateway.apps import services as apps  # noqa: E402
from gateway.groups import services as groups  # noqa: E402
from gateway.orgs.access import AdminScope  # noqa: E402
from gateway.sessions import services as sessions  # noqa: E402
from tests import factories  # noqa: E402
from tests.conftest import FAST_HASH, fresh_postgres_database  # noqa: E402
from tests.factories import MembershipFactory, OrganizationFactory  # noqa: E402
from tests.helpers.processes import (  # noqa: E402
    clean_env,
    free_port,
    idgate,
    start_idgate_serve,
    stop,
)

ORGS, APPS_PER_ORG, GROUPS_PER_ORG = 50, 20, 50
TARGET_APP = 7  # of the member's organization (org00): its rule lists team7 and team27
URL = f"https://app{TARGET_APP}.org00.example.com/d/abc?orgId=1"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its descendants (the gateway's workers)."""
    total, pending = 0, [pid]
    while pending:
        pid = pending.pop()
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
            pending += [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
                        for child in (task / "children").read_text().split()]
    return total / os.sysconf("SC_CLK_TCK")


def wrk(url: str, headers: dict, seconds: int, connections: int, server: int) -> dict:
    """wrk against `url`; `server` is the gateway's pid, whose CPU time per request is measured."""
    flags = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
    before = cpu_seconds(server)
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", *flags, url],
                         check=False, capture_output=True, text=True,
                         timeout=seconds + 60).stdout
    used = cpu_seconds(server) - before

    def latency(pct):
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)", out, re.MULTILINE).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests_done = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": latency(50),
            "p99": latency(99), "errors": int(non2xx.group(1)) if non2xx else 0,
            "cpu_us": used / max(requests_done, 1) * 1e6}


def arrange(env: dict, *, with_apps: bool) -> str:
    """The organizations, written through the services; the member's session token (password only)."""
    app = create_app({"DATABASE_URL": env["IDGATE_DATABASE_URL"], "INSTANCE_PATH": env["IDGATE_INSTANCE_PATH"],
                      "CERTS_DIR": env["IDGATE_CERTS_DIR"], **FAST_HASH,
                      **({"REDIS_URL": env["IDGATE_REDIS_URL"]} if "IDGATE_REDIS_URL" in env else {})})
    clock, settings = app.extensions["idgate.clock"], app.extensions["idgate.settings"]
    try:
        with app.extensions["idgate.sessionmaker"]() as db:
            factories.bind(db, app, clock)
            now = clock.now()
            member = None
            for k in range(ORGS if with_apps else 1):
                org = OrganizationFactory(slug=f"org{k:02d}", name=f"Organization {k:02d}")
                admin = MembershipFactory(org=org, admin=True)
                if k == 0:
                    member = MembershipFactory(org=org)
                db.flush()
                if not with_apps:
                    break
                scope = AdminScope(org.id, org.slug, org.name, Actor(user_id=admin.user_id))
                teams = [groups.create_group(db, scope, f"team{g}", now=now) for g in range(GROUPS_PER_ORG)]
                if k == 0:
                    for team in teams:
                        groups.add_member(db, scope, team.id, member.user_id, now=now)
                for i in range(APPS_PER_ORG):
                    routes = [f"app{i}.org{k:02d}.example.com"]
                    if i % 2:
                        routes.append(f"app{i}-docs.org{k:02d}.example.com/docs")
                    apps.create_app(db, scope, name=f"App {i}", routes=routes, access="listed", roles_=["admin"],
                                    groups_=[f"team{i}", f"team{i + APPS_PER_ORG}"], now=now)
                db.commit()
            token, _ = sessions.start(db, member.user_id, org_id=member.org_id, amr="pwd", actor=Actor(),
                                      settings=settings, now=now)
            db.commit()
    finally:
        app.extensions["idgate.engine"].dispose()
    return token


@contextlib.contextmanager
def database(store: str, tmp: Path, name: str):
    if store == "sqlite":
        yield f"sqlite:///{tmp / f'{name}.db'}"
        return
    pg = os.environ.get("IDGATE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    with fresh_postgres_database(pg, f"idgate_bench_apps_{name}") as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--store", choices=["redis", "sqlite"], default="redis")
    args = parser.parse_args()
    # A Redis database per gateway: their invalidation channels must not hear each other.
    redis = {"none": "redis://127.0.0.1:6379/11", "apps": "redis://127.0.0.1:6379/12"}
    names = {"none": "(a) no registered apps", "apps": f"(b) {ORGS * APPS_PER_ORG:,} apps, 50 groups"}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        tmp = Path(tmp)
        gateways, targets = [], {}
        try:
            for key, name in names.items():
                url = stack.enter_context(database(args.store, tmp, key))
                port, cwd = free_port(), tmp / key
                cwd.mkdir()
                env = clean_env(IDGATE_DATABASE_URL=url, IDGATE_INSTANCE_PATH=str(cwd / "i"),
                                IDGATE_CERTS_DIR=str(cwd / "certs"), IDGATE_BASE_URL=f"http://127.0.0.1:{port}",
                                **({"IDGATE_REDIS_URL": redis[key]} if args.store == "redis" else {}))
                idgate("init", env=env, cwd=cwd)
                started = time.monotonic()
                token = arrange(env, with_apps=key == "apps")
                print(f"{name}: arranged in {time.monotonic() - started:.1f}s", file=sys.stderr)
                gateways.append(start_idgate_serve(env=env, cwd=cwd, port=port, workers=None))
                headers = {"Cookie": f"idgate_session={token}", "X-Original-URL": URL}
                direct = f"http://127.0.0.1:{port}/auth/verify"
                answer = requests.get(direct, headers=headers)
                assert answer.status_code == 200, (key, answer.status_code, answer.text)
                sent = [name for name in answer.headers["X-Auth-Groups"].split(",") if name]
                assert len(sent) == (GROUPS_PER_ORG if key == "apps" else 0), sent
                targets[key] = (direct, headers, gateways[-1].pid)
            for direct, headers, pid in targets.values():
                wrk(direct, headers, 2, args.connections, pid)  # warm up
            # Rounds that take turns, medians kept: this machine's speed drifts by a tenth or more
            # from one minute to the next, and the ratio compares two figures of the same rounds.
            runs = {key: [] for key in targets}
            for _ in range(args.rounds):
                for key, (direct, headers, pid) in targets.items():
                    runs[key].append(wrk(direct, headers, args.seconds, args.connections, pid))
            results = {key: sorted(found, key=lambda r: r["rps"])[len(found) // 2] for key, found in runs.items()}
            median_cpu = {key: sorted(r["cpu_us"] for r in found)[len(found) // 2] for key, found in runs.items()}
        finally:
            for gateway in gateways:
                stop(gateway)
    print(f"wrk -t2 -c{args.connections} -d{args.seconds}s, median of {args.rounds} rounds taking turns, "
          f"store {args.store}, `idgate serve` defaults, a member's cached session, X-Original-URL {URL}:")
    for key, r in results.items():
        print(f"  {names[key]:32s} {r['rps']:9.0f} req/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms"
              f"  non-2xx {r['errors']}  gateway CPU {median_cpu[key]:5.1f} µs/request")
    print(f"gateway CPU per request, (a) / (b): {median_cpu['none'] / median_cpu['apps']:.3f}")
    print(f"(b) / (a): {results['apps']['rps'] / results['none']['rps']:.3f} (goal ≥ 0.95)")


if __name__ == "__main__":
    main()
