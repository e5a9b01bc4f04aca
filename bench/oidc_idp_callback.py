"""The callback of a sign-in through an organization's OpenID Connect IdP, and the gateway's own share of it (issue 21).

Each round: the browser's start (GET /oidc/acme/login), the IdP's sign-in (oidc-provider-mock, a local IdP
written by others, in a process of its own over real HTTP), then the timed request: GET /oidc/acme/callback (the state
used up, the code exchanged at the IdP's token endpoint, the ID token proved against its keys, provisioning,
a session). The IdP's token endpoint is timed inside that same request (around the exchange, the HTTP round
trip included); the gateway's share is the callback's time less the IdP's. The IdP's metadata and keys are
read once and kept, as in production. The callback runs in-process, the app called as a WSGI server calls it
with the request built first: what is measured is the gateway's work, not an HTTP server's.

Returning members (the common case: linked already) and first sign-ins (a new SSO-only member each) are
shown apart, medians of all rounds. Goal: the gateway's share ≤ 2 ms median; the ratio callback ÷ the
IdP's token endpoint is reported, printed last.
Run: python bench/oidc_idp_callback.py [--rounds 300] [--store redis|sqlite] [--redis-db 13]
Needs PostgreSQL and Redis (`--store sqlite`: neither). The PostgreSQL database is this process's own (named
with its pid), so that two runs at once on one server do not drop each other's; `--redis-db` likewise.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests
from werkzeug.test import EnvironBuilder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway import create_app  # noqa: E402
from gateway.actor import Actor  # noqa: E402
from gateway.migrate import upgrade  # noqa: E402
from gateway.sso import oidc_connections, oidc_signin  # noqa: E402
from tests import factories  # noqa: E402
from tests.conftest import FAST_HASH, fresh_postgres_database  # noqa: E402
from tests.factories import MembershipFactory, OrganizationFactory  # noqa: E402
from tests.helpers.processes import free_port, stop, wait_until_ready  # noqa: E402

BASE_URL = "http://localhost"


@contextlib.contextmanager
def database(store: str, tmp: Path, redis_db: int):
    if store == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}", None
        return
    pg = os.environ.get("IDGATE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    with fresh_postgres_database(pg, f"idgate_bench_oidc_idp_{os.getpid()}") as url:
        yield url, f"redis://127.0.0.1:6379/{redis_db}"


class IdpClock:
    """The time spent waiting on the IdP's token endpoint, around the gateway's own call to it."""

    def __init__(self):
        self.seconds = 0.0
        self._redeem = oidc_signin.oidc_protocol.redeem

    def __call__(self, *args, **kwargs):
        if PROFILE:  # the IdP's share is not ours to profile
            PROFILE.disable()
        started = time.perf_counter()
        try:
            return self._redeem(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started
            if PROFILE:
                PROFILE.enable()


# PROFILE=1: where the callback's time goes (cProfile, the timed requests only, less the IdP's token endpoint),
# before the figures; PROFILE=tottime sorts by own time instead.
PROFILE = cProfile.Profile() if os.environ.get("PROFILE") else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--store", choices=["redis", "sqlite"], default="redis")
    parser.add_argument("--redis-db", type=int, default=13, help="a Redis database no one else uses meanwhile")
    args = parser.parse_args()
    port = free_port()
    # The IdP in a process of its own (its CLI, on uvicorn): its work must not share our interpreter.
    log_path = Path(tempfile.mkstemp(suffix=".log")[1])
    with open(log_path, "w") as log:
        idp = subprocess.Popen([sys.executable, "-W", "ignore", "-m", "oidc_provider_mock", "--port", str(port),
                                "--require-nonce", "true"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    idp.log_path = log_path
    issuer = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp, database(args.store, Path(tmp), args.redis_db) as (url, redis_url), \
            contextlib.ExitStack() as stack:
        stack.callback(stop, idp)
        wait_until_ready(f"{issuer}/.well-known/openid-configuration", idp)
        tmp = Path(tmp)
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp / "i"), "CERTS_DIR": str(tmp / "certs"),
                          "SECRET_KEY": "bench", **FAST_HASH, **({"REDIS_URL": redis_url} if redis_url else {})})
        upgrade(app)
        # One address starts every sign-in here: its 120 starts a minute would throttle the rounds.
        app.extensions["idgate.limiter"].enabled = False
        clock = app.extensions["idgate.clock"]
        with app.extensions["idgate.sessionmaker"]() as db:
            factories.bind(db, app, clock)
            org = OrganizationFactory(slug="acme", name="Acme")
            MembershipFactory(org=org, admin=True)
            db.flush()
            oidc_connections.configure(db, org.id, issuer=issuer, client_id="idgate", client_secret="bench-secret",
                                       certs_dir=str(tmp / "certs"), email_domains=["acme.example"], actor=Actor(),
                                       now=clock.now())
            db.commit()
        idp_clock = IdpClock()
        oidc_signin.oidc_protocol.redeem = idp_clock

        def sign_in(sub: str) -> tuple[float, float]:
            """(the callback's seconds, the IdP token endpoint's seconds within it)."""
            browser = app.test_client()
            started = browser.get("/oidc/acme/login")
            answered = requests.post(started.headers["Location"], data={"sub": sub}, allow_redirects=False, timeout=10)
            back = urlsplit(answered.headers["Location"])
            # The request as a WSGI server hands it over, built before the clock starts (as bench/acs.py does):
            # the test client's own work (cookie jar, response wrapping) is neither the gateway's nor a server's.
            environ = EnvironBuilder(path=back.path, query_string=back.query, base_url=BASE_URL).get_environ()
            browser._add_cookies_to_wsgi(environ)
            status = []
            idp_clock.seconds = 0.0
            if PROFILE:
                PROFILE.enable()
            began = time.perf_counter()
            body = b"".join(app(environ, lambda code, headers, exc_info=None: status.append(code)))
            took = time.perf_counter() - began
            if PROFILE:
                PROFILE.disable()
            assert status[0].startswith("303"), body[:500]
            return took, idp_clock.seconds

        members = [f"member-{n}" for n in range(20)]
        for sub in members:
            requests.put(f"{issuer}/users/{sub}", json={"email": f"{sub}@acme.example", "email_verified": True,
                                                        "name": sub.title()}, timeout=10).raise_for_status()
        first = [sign_in(sub) for sub in members]  # each a new member: provisioned just in time
        for sub in members[:5]:  # warm up
            sign_in(sub)
        returning = [sign_in(members[n % len(members)]) for n in range(args.rounds)]
        if PROFILE:
            pstats.Stats(PROFILE).sort_stats("tottime" if os.environ["PROFILE"] == "tottime" else "cumtime").print_stats(70)
        app.extensions["idgate.engine"].dispose()

    def show(name: str, samples: list[tuple[float, float]]) -> tuple[float, float, float]:
        total = statistics.median(t for t, _ in samples) * 1000
        token = statistics.median(i for _, i in samples) * 1000
        share = statistics.median(t - i for t, i in samples) * 1000
        print(f"  {name:28s} callback {total:6.2f} ms   IdP token endpoint {token:6.2f} ms   "
              f"gateway's share {share:5.2f} ms  ({len(samples)} sign-ins)")
        return total, token, share

    print(f"GET /oidc/<slug>/callback in-process against oidc-provider-mock over HTTP, store {args.store}, medians:")
    show("first sign-ins (provisioned)", first)
    total, token, share = show("returning members", returning)
    print(f"gateway's share, returning members: {share:.2f} ms (goal ≤ 2 ms)")
    print(f"callback / IdP token endpoint: {total / token:.2f}")


if __name__ == "__main__":
    main()
