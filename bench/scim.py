"""SCIM provisioning on PostgreSQL (issue 22).

1. 10,000 users created through SCIM (POST /scim/v2/<slug>/Users, one after another, as an IdP's first
   sync sends them): users per second.
2. `active: false` PATCHes: the time until the response, which leaves once every worker heard of the
   change (gateway.invalidation), so that none lets the person pass (goal ≤ 50 ms).
3. The IdPs' lookup before each create, `GET /Users?filter=userName eq "…"`, in an organization of
   100,000 members and in one of 100: median time of each, and their ratio (goal ≤ 2), printed last.

Requests run in-process (Flask's test client), so what is measured is the gateway's work and the
database's, not an HTTP server's. The 100,000 members are written straight into the tables (writing
them through SCIM is what part 1 measures).
Run: IDGATE_TEST_DATABASE_URL=postgresql://… python bench/scim.py [--users 10000] [--large 100000] [--lookups 300]
     [--redis redis://…/N]  (throttle counters in Redis, as deployed at scale; else in PostgreSQL)
It creates and drops a database of its own on that server.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from gateway import create_app  # noqa: E402
from gateway.accounts.models import User  # noqa: E402
from gateway.actor import Actor  # noqa: E402
from gateway.db import transaction  # noqa: E402
from gateway.migrate import upgrade  # noqa: E402
from gateway.orgs.models import MemberStatus, Membership, Role  # noqa: E402
from gateway.orgs.services import create_org  # noqa: E402
from gateway.scim import tokens  # noqa: E402
from tests.conftest import FAST_HASH, fresh_postgres_database  # noqa: E402

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _org(app, slug: str) -> tuple[int, str]:
    with app.app_context(), transaction(app) as db:
        org = create_org(db, slug=slug, name=slug.title(), now=NOW)
        db.flush()
        _row, token = tokens.create(db, org.id, Actor(user_agent="bench"), name="bench", now=NOW)
        return org.id, token


def _fill(app, org_id: int, count: int, prefix: str) -> None:
    """`count` members named by SCIM, written in batches straight into the tables."""
    import uuid

    engine = app.extensions["idgate.engine"]
    for start in range(0, count, 5000):
        rows = range(start, min(count, start + 5000))
        with engine.begin() as conn:
            ids = conn.execute(insert(User.__table__).returning(User.__table__.c.id), [
                {"email": f"{prefix}{n}@bench.example", "name": f"Person {n}", "sso_only": True,
                 "must_change_password": False, "created_at": NOW} for n in rows]).scalars().all()
            conn.execute(insert(Membership.__table__), [
                {"org_id": org_id, "user_id": user_id, "role": Role.USER, "status": MemberStatus.ACTIVE,
                 "joined_at": NOW, "version": 1, "scim_id": str(uuid.uuid4()),
                 "scim_user_name": f"{prefix}{n}@bench.example", "scim_user_key": f"{prefix}{n}@bench.example"}
                for n, user_id in zip(rows, ids)])
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))


def _lookups(client, slug: str, token: str, prefix: str, size: int, rounds: int) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    for _ in range(rounds):
        wanted = f"{prefix}{random.randrange(size)}@bench.example"
        started = time.perf_counter()
        response = client.get(f"/scim/v2/{slug}/Users", query_string={"filter": f'userName eq "{wanted}"'},
                              headers=headers)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200 and response.get_json()["totalResults"] == 1, response.get_data()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--redis", help="a Redis URL for the throttles' counters")
    args = parser.parse_args()
    server = os.environ.get("IDGATE_TEST_DATABASE_URL")
    if not server or not server.startswith("postgresql"):
        sys.exit("Set IDGATE_TEST_DATABASE_URL to a PostgreSQL server (a database of the bench's own is made there).")
    with fresh_postgres_database(server, f"idgate_bench_scim_{os.getpid()}") as url:
        import tempfile

        tmp = tempfile.mkdtemp()
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "INSTANCE_PATH": tmp, "CERTS_DIR": tmp,
                          "SCIM_LIMIT_TOKEN": "1000000 per minute", "BASE_URL": "http://127.0.0.1:5000",
                          **({"REDIS_URL": args.redis} if args.redis else {}), **FAST_HASH})
        upgrade(app)
        client = app.test_client()

        _bulk_id, bulk_token = _org(app, "bulk")
        headers = {"Authorization": f"Bearer {bulk_token}", "Content-Type": "application/scim+json"}
        started = time.perf_counter()
        for n in range(args.users):
            body = {"schemas": [USER], "userName": f"user{n}@sync.example", "displayName": f"User {n:05d}",
                    "externalId": f"ext-{n}", "active": True,
                    "emails": [{"value": f"user{n}@sync.example", "type": "work", "primary": True}]}
            response = client.post("/scim/v2/bulk/Users", data=json.dumps(body), headers=headers)
            assert response.status_code == 201, response.get_data()
        elapsed = time.perf_counter() - started
        print(f"created through SCIM: {args.users} users in {elapsed:.1f} s = {args.users / elapsed:.0f} users/s")
        ids = [r["id"] for r in client.get("/scim/v2/bulk/Users", query_string={"count": 200},
                                           headers=headers).get_json()["Resources"] if r["userName"].startswith("user")]
        patch = json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
        times = []
        for scim_id in ids:
            started = time.perf_counter()
            response = client.patch(f"/scim/v2/bulk/Users/{scim_id}", data=patch, headers=headers)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200 and response.get_json()["active"] is False
        # The response leaves once every worker heard of the change (gateway.invalidation): from then on
        # none lets the person pass. Goal ≤ 50 ms.
        print(f"active: false PATCH, median of {len(ids)}: {statistics.median(times) * 1000:.2f} ms (goal ≤ 50 ms)")

        small_id, small_token = _org(app, "small")
        large_id, large_token = _org(app, "large")
        _fill(app, small_id, args.small, "s")
        _fill(app, large_id, args.large, "l")
        small = _lookups(client, "small", small_token, "s", args.small, args.lookups)
        large = _lookups(client, "large", large_token, "l", args.large, args.lookups)
        print(f"userName eq, median of {args.lookups}: {args.small} members {small * 1000:.2f} ms, "
              f"{args.large} members {large * 1000:.2f} ms")
        app.extensions["idgate.engine"].dispose()
        print(f"ratio {args.large} ÷ {args.small} members: {large / small:.2f} (goal ≤ 2)")


if __name__ == "__main__":
    main()
