"""The overview at scale: GET /api/v1/orgs/<slug>/overview at 100,000 members and 10 million audit
events against 100 members and 1,000 events; and the team list's search at 100,000 members against
its first page. Both on PostgreSQL, in a database of the benchmark's own. Goals (issue 23): each
ratio ≤ 2.0; the overview's is printed last.

The data is made with set-based SQL (generate_series), and the roll-ups from the generated audit
log the way gateway.overview.rollups counts them (method from `details.method`, outcome from the
action), so the figures the overview reads are the ones the log implies.

Run: python bench/overview.py [--members N] [--events N] [--rounds N] [--explain]
     (IDGATE_TEST_DATABASE_URL picks the server)
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

from gateway import create_app  # noqa: E402
from gateway.migrate import upgrade  # noqa: E402
from tests.conftest import fresh_postgres_database  # noqa: E402

PASSWORD = "violet tractor mango 1987 sunrise"
SPAN_DAYS = 365  # the events spread over a year, the newest now


def populate(conn, slug: str, members: int, events: int, password_hash: str) -> None:
    """An organization, its admin, `members` - 1 more members and `events` audit events."""
    now = datetime.now(timezone.utc)
    org_id = conn.exec_driver_sql(
        "INSERT INTO organizations (slug, name, created_at, mfa_required) VALUES (%(s)s, %(s)s, %(now)s, false) "
        "RETURNING id", {"s": slug, "now": now}).scalar()
    conn.exec_driver_sql(
        "INSERT INTO users (email, name, password_hash, must_change_password, sso_only, created_at, last_login_at) "
        "VALUES (%(email)s, 'Bench Admin', %(hash)s, false, false, %(now)s, %(now)s)",
        {"email": f"{slug}-admin@example.com", "hash": password_hash, "now": now})
    # Members: 1 in 20 inactive, 1 in 10 SSO-only; last sign-ins spread over 200 days (some never).
    conn.exec_driver_sql(
        "INSERT INTO users (email, name, must_change_password, sso_only, created_at, last_login_at) "
        "SELECT 'm' || g || '@' || %(slug)s || '.example.com', 'Member ' || g, false, g %% 10 = 3, "
        "       %(now)s - interval '400 days', "
        "       CASE WHEN g %% 50 = 1 THEN NULL ELSE %(now)s - ((g * 7919) %% 200) * interval '1 day' END "
        "FROM generate_series(1, %(n)s) g", {"slug": slug, "now": now, "n": members - 1})
    conn.exec_driver_sql(
        "INSERT INTO memberships (org_id, user_id, role, status, joined_at, version) "
        "SELECT %(org)s, id, CASE WHEN email = %(admin)s THEN 'admin' ELSE 'user' END, "
        "       CASE WHEN id %% 20 = 7 AND email <> %(admin)s THEN 'inactive' ELSE 'active' END, "
        "       %(now)s - interval '400 days', 1 "
        "FROM users WHERE email LIKE %(pattern)s OR email = %(admin)s",
        {"org": org_id, "now": now, "admin": f"{slug}-admin@example.com", "pattern": f"%@{slug}.example.com"})
    first = conn.exec_driver_sql("SELECT min(id) FROM users WHERE email LIKE %(p)s",
                                 {"p": f"%@{slug}.example.com"}).scalar()
    # Events: sign-ins mostly (75 % success by password, passkey or SSO; 20 % failed; 4 % throttled),
    # 1 in 100 an admin's change; spread evenly over the year, oldest first.
    step = SPAN_DAYS * 86400 / events
    conn.exec_driver_sql(
        "INSERT INTO audit_events (occurred_at, org_id, action, actor_id, actor_email, target_id, target_email, "
        "                          ip, user_agent, details) "
        "SELECT %(now)s - (%(n)s - g) * %(step)s * interval '1 second', %(org)s, "
        "       CASE WHEN g %% 100 = 0 THEN 'group:update' WHEN g %% 100 < 76 THEN 'login:success' "
        "            WHEN g %% 100 < 96 THEN 'login:failure' ELSE 'login:throttled' END, "
        "       NULL, NULL, %(first)s + (g::bigint * 7919) %% %(members)s, 'm' || g %% %(members)s || '@example.com', "
        "       '198.51.100.' || g %% 250, 'bench', "
        "       CASE WHEN g %% 100 < 76 THEN "
        "            json_build_object('method', (ARRAY['password', 'password', 'passkey', 'saml'])[g %% 4 + 1]) "
        "            WHEN g %% 100 < 96 THEN json_build_object('reason', 'wrong_password') "
        "            ELSE '{}'::json END "
        "FROM generate_series(1, %(n)s) g",
        {"now": now, "n": events, "step": step, "org": org_id, "first": first, "members": members - 1})
    # The roll-ups of that log, counted as gateway.overview.rollups.classify reads each row.
    conn.exec_driver_sql(
        "INSERT INTO signin_days (org_id, day, method, outcome, count) "
        "SELECT org_id, (occurred_at AT TIME ZONE 'UTC')::date, "
        "       CASE WHEN details->>'method' IN ('saml', 'oidc') THEN 'sso' "
        "            WHEN details->>'method' = 'passkey' THEN 'passkey' ELSE 'password' END, "
        "       CASE action WHEN 'login:success' THEN 'success' WHEN 'login:failure' THEN 'failed' "
        "            ELSE 'throttled' END, count(*) "
        "FROM audit_events WHERE org_id = %(org)s AND action LIKE 'login:%%' GROUP BY 1, 2, 3, 4", {"org": org_id})
    conn.exec_driver_sql(
        "INSERT INTO signin_active_days (org_id, day, user_id) "
        "SELECT DISTINCT org_id, (occurred_at AT TIME ZONE 'UTC')::date, target_id "
        "FROM audit_events WHERE org_id = %(org)s AND action = 'login:success'", {"org": org_id})


def sign_in(app, slug: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    answer = client.post("/login", data={"csrf_token": token, "email": f"{slug}-admin@example.com",
                                         "password": PASSWORD})
    assert answer.status_code == 303, answer.status_code
    return client, {"Authorization": f"Bearer {client.get_cookie('idgate_session').value}"}


def timed(client, path: str, rounds: int, headers=None) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        response = client.get(path, headers=headers)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
    return statistics.median(samples) * 1000


def _remade(engine, client, path: str, headers) -> float:
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM overview_snapshots")
    return timed(client, path, 1, headers)


def explain(app, client, path: str, marker: str, headers=None) -> None:
    """EXPLAIN ANALYZE of every query GET `path` runs whose SQL holds `marker`."""
    from sqlalchemy import event

    captured = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if marker in statement:
            captured.append((statement, parameters))

    engine = app.extensions["idgate.engine"]
    event.listen(engine, "before_cursor_execute", capture)
    try:
        client.get(path, headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    with engine.connect() as conn:
        for statement, parameters in captured:
            plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE) {statement}", parameters).scalars()
            print(f"--- {path}\n{statement}\n" + "\n".join(plan))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the queries first")
    args = parser.parse_args()
    server = os.environ.get("IDGATE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    with fresh_postgres_database(server, "idgate_bench_overview") as url, tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "INSTANCE_PATH": tmp,
                          "CERTS_DIR": f"{tmp}/certs", "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024,
                          "ARGON2_PARALLELISM": 1})
        upgrade(app)
        password_hash = app.extensions["idgate.passwords"].hash(PASSWORD)
        engine = app.extensions["idgate.engine"]
        started = time.perf_counter()
        for slug, members, events in (("small", 100, 1_000), ("large", args.members, args.events)):
            with engine.begin() as conn:
                populate(conn, slug, members, events, password_hash)
            print(f"populated {slug}: {members:,} members, {events:,} events "
                  f"({time.perf_counter() - started:.0f} s so far)", flush=True)
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")

        results = {}
        for slug in ("small", "large"):
            client, headers = sign_in(app, slug)
            path = f"/api/v1/orgs/{slug}/overview"
            timed(client, path, 3, headers)  # warm up
            body = client.get(path, headers=headers).get_json()
            assert body["people"]["active"] >= 90 and body["days"][-1]["active_people"] >= 0
            if args.explain:
                for marker in ("signin_days", "signin_active_days", "FROM memberships", "audit_events"):
                    explain(app, client, path, marker, headers)
                if slug == "large":
                    explain(app, client, "/admin/users?q=member%2012", "FROM memberships JOIN users")
            results[f"overview {slug}"] = timed(client, path, args.rounds, headers)
            # Not part of the goal: the one request a minute that works the figures over all members
            # out again (gateway.overview.services.member_figures), its snapshot gone before each.
            results[f"overview {slug}, remade"] = statistics.median(
                _remade(engine, client, path, headers) for _ in range(5))
            results[f"team first page {slug}"] = timed(client, "/admin/users", args.rounds)
            results[f"team search {slug}"] = timed(client, "/admin/users?q=member%2012", args.rounds)
        engine.dispose()

    for name, value in results.items():
        print(f"  {name:26s} {value:8.2f} ms (median)")
    search = results["team search large"] / results["team first page large"]
    overview = results["overview large"] / results["overview small"]
    print(f"team search at {args.members:,} / its first page: {search:.2f} (goal ≤ 2.0)")
    print(f"overview at {args.members:,} members and {args.events:,} events / at 100 and 1,000: "
          f"{overview:.2f} (goal ≤ 2.0)")


if __name__ == "__main__":
    main()
