"""Team list at scale: the first page at 100,000 members against the first page at 100, same run.

Both organizations live in one PostgreSQL database of the benchmark's own; the page is fetched the
way an admin does, through GET /admin/users. Goal (issue 3): ratio ≤ 2.0, printed last.
Run: python bench/team_list.py [--rounds N]   (IDGATE_TEST_DATABASE_URL picks the server)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from gateway import create_app  # noqa: E402
from gateway.accounts.models import User  # noqa: E402
from gateway.db import transaction  # noqa: E402
from gateway.migrate import upgrade  # noqa: E402
from gateway.orgs.models import Membership, Organization, Role  # noqa: E402
from tests.conftest import fresh_postgres_database  # noqa: E402
from tests.helpers.processes import free_port  # noqa: F401,E402

NOW = datetime.now(timezone.utc)
PASSWORD = "violet tractor mango 1987 sunrise"


def _standing(n: int) -> tuple[str, str]:
    """A realistic mix, the same in both organizations: 1 in 20 inactive, 1 in 100 an admin
    (so 1 in 2,000 is an inactive admin: the rare combination a filter has to dig for)."""
    return ("inactive" if n % 20 == 7 else "active", "admin" if n % 100 == 42 or n % 2000 == 7 else "user")


def populate(db, slug: str, members: int, admin_email: str, passwords) -> None:
    org = Organization(slug=slug, name=slug.title(), created_at=NOW)
    admin = User(email=admin_email, name="Bench Admin", password_hash=passwords.hash(PASSWORD), created_at=NOW)
    db.add_all([org, admin])
    db.flush()
    db.add(Membership(org_id=org.id, user_id=admin.id, role=Role.ADMIN, joined_at=NOW))
    batch = 5000
    for start in range(0, members - 1, batch):
        count = min(batch, members - 1 - start)
        rows = [{"email": f"m{start + i}@{slug}.example.com", "name": f"Member {start + i}",
                 "created_at": NOW, "must_change_password": False, "sso_only": False} for i in range(count)]
        ids = db.execute(insert(User).returning(User.id), rows).scalars().all()
        db.execute(insert(Membership), [
            {"org_id": org.id, "user_id": uid, "status": _standing(start + i)[0], "role": _standing(start + i)[1],
             "joined_at": NOW, "version": 1} for i, uid in enumerate(ids)])


def explain(app, client, path: str) -> None:
    """EXPLAIN ANALYZE of the team-list query that GET `path` runs (captured off the engine)."""
    from sqlalchemy import event

    captured = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM memberships JOIN users" in statement:
            captured.append((statement, parameters))

    engine = app.extensions["idgate.engine"]
    event.listen(engine, "before_cursor_execute", capture)
    try:
        client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = captured[0]
    with engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).scalars()
        print(f"--- {path}\n" + "\n".join(plan))


def timed(client, path: str, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        response = client.get(path)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of each query first")
    args = parser.parse_args()
    server = os.environ.get("IDGATE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    with fresh_postgres_database(server, "idgate_bench_team") as url, tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "INSTANCE_PATH": tmp,
                          "CERTS_DIR": f"{tmp}/certs", "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024,
                          "ARGON2_PARALLELISM": 1})
        upgrade(app)
        started = time.perf_counter()
        with app.app_context(), transaction() as db:
            passwords = app.extensions["idgate.passwords"]
            populate(db, "small", 100, "small-admin@example.com", passwords)
            populate(db, "large", args.members, "large-admin@example.com", passwords)
        with app.extensions["idgate.engine"].begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        print(f"populated 100 + {args.members:,} members in {time.perf_counter() - started:.1f} s")

        results = {}
        for slug in ("small", "large"):
            client = app.test_client()
            token = client.get("/login").get_data(as_text=True).split('name="csrf_token" type="hidden" value="')[1]
            token = token.split('"')[0]
            client.post("/login", data={"csrf_token": token, "email": f"{slug}-admin@example.com",
                                        "password": PASSWORD})
            timed(client, "/admin/users", 5)  # warm up
            rows = client.get("/admin/users").get_data(as_text=True).count(f"@{slug}.example.com")
            assert rows >= 50, f"the first page at {slug} shows {rows} members, not a full page"
            if args.explain:
                for path in ("/admin/users", "/admin/users?status=inactive&role=admin", "/admin/users?q=member%2012"):
                    explain(app, client, path)
            results[slug] = timed(client, "/admin/users", args.rounds)
            # Not part of the goal, but they must stay usable at 100,000 members.
            results[f"{slug} inactive admins"] = timed(client, "/admin/users?status=inactive&role=admin",
                                                       max(5, args.rounds // 5))
            results[f"{slug} search"] = timed(client, "/admin/users?q=member%2012", max(5, args.rounds // 5))
        app.extensions["idgate.engine"].dispose()

    for name, value in results.items():
        print(f"  first page, {name:22s} {value:8.2f} ms (median)")
    print(f"first page at {args.members:,} / at 100 members: {results['large'] / results['small']:.2f} (goal ≤ 2.0)")


if __name__ == "__main__":
    main()
