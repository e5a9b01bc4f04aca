"""Authorization-code round trips per second, ours against panva's oidc-provider in the same run (issue 20).

A round trip, signed in and already granted: GET the authorization endpoint (PKCE S256, state, nonce,
the session cookie) → the code from the redirect's Location (state and iss checked) → POST the token
endpoint (client_secret_basic) → GET userinfo with the access token. One load driver
(bench/oidc_peer/driver.mjs, Node + undici, --connections loops) runs against both, finding the
endpoints through each one's discovery document; only complete, checked round trips count.

Ours: `idgate serve` with its defaults (2 workers), a member of organization org00 with a session for each
connection, and a confidential client from `idgate oidc client create`.
Theirs: oidc-provider 9 (bench/oidc_peer/provider.mjs) on its default in-memory storage, NODE_ENV=production,
PKCE required of every client as ours does (its default asks it of public clients only). It runs in one Node
process, as it is shipped, so on one core where our gateway has its workers; the driver is one more Node
process, all on this machine's cores. Each connection has its own session and grant on the peer too:
oidc-provider's in-memory store indexes every token under its grant, and with one grant taking every code
and token it slowed from 460 to 180 round trips/s within half a minute. That measures one user signing in
hundreds of times a second, not a provider serving many users.

The two take turns in rounds; the median round of each is shown with its p50/p99, its failures and the
server's CPU time per round trip (its own processes: for ours, PostgreSQL's and Redis's time is not in it),
the ratio last.
Run: python bench/oidc_roundtrip.py [--seconds 5] [--rounds 5] [--connections 16] [--store redis|sqlite]
Needs node and npm (`npm ci` in bench/oidc_peer when its node_modules are missing; oidc-provider asks for
Node 22 and warns on 20), PostgreSQL and Redis.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode, urljoin

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.verify_apps import cpu_seconds  # noqa: E402
from gateway import create_app  # noqa: E402
from gateway.actor import Actor  # noqa: E402
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
    wait_until_ready,
)

PEER = ROOT / "bench" / "oidc_peer"
SLUG = "org00"


def install_peer() -> None:
    if not (PEER / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER, check=True)


def start_peer(*, port: int, client_id: str, secret: str, redirect_uri: str, logs: Path) -> subprocess.Popen:
    log_path = logs / f"oidc-provider-{port}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            ["node", "provider.mjs", f"--port={port}", f"--client-id={client_id}", f"--client-secret={secret}",
             f"--redirect-uri={redirect_uri}"],
            cwd=PEER, env={**os.environ, "NODE_ENV": "production"}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    process.log_path = log_path
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/.well-known/openid-configuration", process)
    except Exception:
        print(stop(process))
        raise
    return process


def peer_sign_in(issuer: str, client_id: str, redirect_uri: str) -> str:
    """One pass through the peer's sign-in (provider.mjs's interaction page), a new session and grant;
    the Cookie header that carries the session."""
    browser = requests.Session()
    url = f"{issuer}/auth?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
        "scope": "openid email profile", "state": secrets.token_urlsafe(12),
        # The code is never redeemed; PKCE is only there because the provider requires it.
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGwSXlrVDc", "code_challenge_method": "S256"})
    for _ in range(5):
        answer = browser.get(url, allow_redirects=False)
        location = answer.headers.get("Location", "")
        if location.startswith(redirect_uri):
            return "; ".join(f"{c.name}={c.value}" for c in browser.cookies if c.path == "/")
        assert answer.status_code in (302, 303), (answer.status_code, answer.text[:500])
        url = urljoin(url, location)
    raise AssertionError(f"the peer's sign-in did not reach {redirect_uri}: {url}")


def arrange(env: dict, count: int) -> list[str]:
    """Organization org00 with an admin and a member, written through the services; `count` session
    tokens of the member's (one a connection, as on the peer's side)."""
    app = create_app({"DATABASE_URL": env["IDGATE_DATABASE_URL"], "INSTANCE_PATH": env["IDGATE_INSTANCE_PATH"],
                      "CERTS_DIR": env["IDGATE_CERTS_DIR"], **FAST_HASH,
                      **({"REDIS_URL": env["IDGATE_REDIS_URL"]} if "IDGATE_REDIS_URL" in env else {})})
    clock, settings = app.extensions["idgate.clock"], app.extensions["idgate.settings"]
    try:
        with app.extensions["idgate.sessionmaker"]() as db:
            factories.bind(db, app, clock)
            org = OrganizationFactory(slug=SLUG, name="Organization 00")
            MembershipFactory(org=org, admin=True)
            member = MembershipFactory(org=org)
            db.commit()
            tokens = [sessions.start(db, member.user_id, org_id=member.org_id, amr="pwd", actor=Actor(),
                                     settings=settings, now=clock.now())[0] for _ in range(count)]
            db.commit()
    finally:
        app.extensions["idgate.engine"].dispose()
    return tokens


def create_client(env: dict, cwd: Path, redirect_uri: str) -> tuple[str, str]:
    created = idgate("oidc", "client", "create", SLUG, "Bench RP", "--redirect-uri", redirect_uri,
                     env=env, cwd=cwd, check=False)
    if created.returncode:
        raise SystemExit(f"`idgate oidc client create` failed ({created.returncode}):\n"
                         f"{created.stdout}{created.stderr}")
    client_id = re.search(r"^client_id:\s*(\S+)", created.stdout, re.MULTILINE)
    secret = re.search(r"^client_secret[^:]*:\s*(\S+)", created.stdout, re.MULTILINE)
    if not (client_id and secret):
        raise SystemExit(f"`idgate oidc client create` printed no client_id/client_secret:\n{created.stdout}")
    return client_id.group(1), secret.group(1)


def drive(target: dict, seconds: float, connections: int) -> dict:
    """driver.mjs against one server; its JSON line, with the server's CPU time per round trip."""
    # --name=value: a secret or token may begin with "-", which would read as an option.
    flags = [f"--cookie={cookie}" for cookie in target["cookies"]]
    before = cpu_seconds(target["pid"])
    done = subprocess.run(
        ["node", "driver.mjs", f"--discovery={target['discovery']}", f"--client-id={target['client_id']}",
         f"--client-secret={target['secret']}", f"--redirect-uri={target['redirect_uri']}", *flags,
         f"--connections={connections}", f"--seconds={seconds}"],
        check=False, cwd=PEER, capture_output=True, text=True, timeout=seconds + 60)
    used = cpu_seconds(target["pid"]) - before
    if done.returncode or not done.stdout.strip():
        raise SystemExit(f"driver.mjs failed ({done.returncode}) against {target['discovery']}:\n"
                         f"{done.stdout}{done.stderr}")
    if done.stderr.strip():
        print(f"{target['name']}: {done.stderr.strip()}", file=sys.stderr)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["cpu_us"] = used / max(result["round_trips"], 1) * 1e6
    return result


def log_tail(log: str, lines: int = 12) -> str:
    """The end of a server's log, each of our JSON records cut to its message and its exception's last line."""
    shown = []
    for line in log.splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict) and record.get("exception"):
                line = f"{record.get('message')} → {record['exception'].strip().splitlines()[-1]}"
        if not shown or shown[-1] != line:
            shown.append(line)
    return "\n".join(shown[-lines:])


def ms(value: float | None) -> str:
    return "     - ms" if value is None else f"{value:6.2f} ms"  # (None: no round trip in that round)


@contextlib.contextmanager
def database(store: str, tmp: Path):
    if store == "sqlite":
        yield f"sqlite:///{tmp / 'idgate.db'}"
        return
    pg = os.environ.get("IDGATE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    with fresh_postgres_database(pg, "idgate_bench_oidc") as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--store", choices=["redis", "sqlite"], default="redis")
    args = parser.parse_args()
    install_peer()
    # Nothing listens at the redirect URIs: the driver reads the code from the Location header.
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        tmp = Path(tmp)
        servers, targets, failed = [], {}, None
        try:
            port, redirect_uri = free_port(), f"http://127.0.0.1:{free_port()}/cb"
            client_id, secret = "bench-rp", secrets.token_urlsafe(32)
            servers.append(start_peer(port=port, client_id=client_id, secret=secret, redirect_uri=redirect_uri,
                                      logs=tmp))
            issuer = f"http://127.0.0.1:{port}"
            targets["theirs"] = {
                "name": "oidc-provider", "pid": servers[-1].pid, "client_id": client_id, "secret": secret,
                "discovery": f"{issuer}/.well-known/openid-configuration", "redirect_uri": redirect_uri,
                "cookies": [peer_sign_in(issuer, client_id, redirect_uri) for _ in range(args.connections)]}

            port, redirect_uri, cwd = free_port(), f"http://127.0.0.1:{free_port()}/cb", tmp / "idgate"
            cwd.mkdir()
            env = clean_env(IDGATE_DATABASE_URL=stack.enter_context(database(args.store, tmp)),
                            IDGATE_INSTANCE_PATH=str(cwd / "i"), IDGATE_CERTS_DIR=str(cwd / "certs"),
                            IDGATE_BASE_URL=f"http://127.0.0.1:{port}",
                            **({"IDGATE_REDIS_URL": "redis://127.0.0.1:6379/13"} if args.store == "redis" else {}))
            idgate("init", env=env, cwd=cwd)
            tokens = arrange(env, args.connections)
            client_id, secret = create_client(env, cwd, redirect_uri)
            servers.append(start_idgate_serve(env=env, cwd=cwd, port=port, workers=None))
            targets["ours"] = {
                "name": "idgate", "pid": servers[-1].pid, "client_id": client_id, "secret": secret,
                "discovery": f"http://127.0.0.1:{port}/.well-known/openid-configuration",
                "redirect_uri": redirect_uri, "cookies": [f"idgate_session={token}" for token in tokens]}

            for target in targets.values():  # warm up; and a server that fails says how, before the rounds
                warm = drive(target, 2, args.connections)
                if not warm["round_trips"]:
                    failed = target
                    raise SystemExit(f"{target['name']}: no round trip succeeded (first failure above)")
            # Rounds that take turns, medians kept: this machine's speed drifts by a tenth or more
            # from one minute to the next, and the ratio compares two figures of the same rounds.
            runs = {key: [] for key in targets}
            for _ in range(args.rounds):
                for key, target in targets.items():
                    runs[key].append(drive(target, args.seconds, args.connections))
        finally:
            for server in servers:
                log = stop(server)
                if failed and failed["pid"] == server.pid:
                    print(f"{failed['name']}'s log, its end:\n{log_tail(log)}", file=sys.stderr)
    results = {key: sorted(found, key=lambda r: r["round_trips_per_s"])[len(found) // 2]
               for key, found in runs.items()}
    median_cpu = {key: sorted(r["cpu_us"] for r in found)[len(found) // 2] for key, found in runs.items()}
    print(f"driver.mjs, {args.connections} connections, {args.seconds}s, median of {args.rounds} rounds taking "
          f"turns, store {args.store}; authorize (signed in, granted) → token → userinfo:")
    names = {"ours": "idgate (`idgate serve` defaults)", "theirs": "oidc-provider (1 Node process)"}
    for key in ("ours", "theirs"):
        r = results[key]
        print(f"  {names[key]:34s} {r['round_trips_per_s']:7.0f} round trips/s  p50 {ms(r['p50_ms'])}"
              f"  p99 {ms(r['p99_ms'])}  failures {sum(x['failures'] for x in runs[key])}"
              f"  server CPU {median_cpu[key]:6.0f} µs/round trip")
        print("    p50 by step: " + ", ".join(f"{step} {ms(value).strip()}" for step, value in r["step_p50_ms"].items())
              + "; round trips/s by round: " + ", ".join(f"{x['round_trips_per_s']:.0f}" for x in runs[key]))
    ratio = results["ours"]["round_trips_per_s"] / results["theirs"]["round_trips_per_s"]
    print(f"ours / oidc-provider: {ratio:.3f} (goal ≥ 1.0)")


if __name__ == "__main__":
    main()
