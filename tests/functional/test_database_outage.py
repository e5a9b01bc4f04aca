"""PostgreSQL stopped under a served gateway: clear 503s, never a 500, and service comes back
without a restart."""

from __future__ import annotations

import re
import threading
import time

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.helpers import postgres
from tests.helpers.processes import clean_env, free_port, idgate, start_idgate_serve, stop

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not postgres.available(), reason="needs root and Debian's PostgreSQL")]


def test_requests_during_an_outage_get_503_and_the_gateway_recovers_by_itself(tmp_path):
    pg = postgres.PrivatePostgres().start()
    server = None
    try:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = clean_env(IDGATE_DATABASE_URL=pg.url, IDGATE_INSTANCE_PATH=str(tmp_path / "i"),
                        IDGATE_CERTS_DIR=str(tmp_path / "certs"), IDGATE_BASE_URL=base,
                        IDGATE_ARGON2_TIME_COST="1", IDGATE_ARGON2_MEMORY_COST="1024", IDGATE_ARGON2_PARALLELISM="1")
        idgate("init", env=env, cwd=tmp_path)
        out = idgate("org", "create", "acme", "--name", "Acme", "--admin-email", "ops@acme.example",
                     "--admin-name", "Olga Ops", env=env, cwd=tmp_path).stdout
        temporary = re.search(r"\(shown once\): (\S+)", out).group(1)
        server = start_idgate_serve(env=env, cwd=tmp_path, port=port, workers=1)
        browser = requests.Session()
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', browser.get(f"{base}/login").text).group(1)
        assert browser.post(f"{base}/login", allow_redirects=False, data={
            "csrf_token": csrf, "email": "ops@acme.example", "password": temporary}).status_code == 303

        # Sign-ins keep coming while the database goes away and comes back.
        statuses, stop_load = [], threading.Event()

        def load():
            while not stop_load.is_set():
                session = requests.Session()
                try:
                    page = session.get(f"{base}/login", timeout=5)
                    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
                    statuses.append(page.status_code)
                    if match:
                        statuses.append(session.post(f"{base}/login", allow_redirects=False, timeout=10, data={
                            "csrf_token": match.group(1), "email": "ops@acme.example",
                            "password": temporary}).status_code)
                except requests.RequestException:
                    statuses.append("connection")

        loaders = [threading.Thread(target=load) for _ in range(3)]
        for thread in loaders:
            thread.start()
        time.sleep(0.5)
        pg.stop()
        for path in ("/login", "/readyz", "/auth/verify", "/admin/users"):
            response = browser.get(f"{base}{path}", allow_redirects=False)
            assert response.status_code == 503, (path, response.status_code)
            assert "Traceback" not in response.text
        assert browser.get(f"{base}/healthz").status_code == 200
        refused = browser.post(f"{base}/login", data={"csrf_token": csrf, "email": "ops@acme.example",
                                                      "password": temporary})
        assert refused.status_code == 503

        pg.start()
        assert postgres.wait_for(lambda: requests.get(f"{base}/readyz").status_code == 200)
        assert browser.get(f"{base}/login").status_code == 200
        time.sleep(0.5)
        stop_load.set()
        for thread in loaders:
            thread.join(timeout=30)
        assert 503 in statuses and 303 in statuses
        assert set(statuses) <= {200, 303, 503}, set(statuses)
        # Each sign-in is one transaction: a session row and its audit row, or neither.
        engine = create_engine(pg.url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn:
            sessions = conn.execute(text("SELECT count(*) FROM sessions")).scalar()
            successes = conn.execute(text("SELECT count(*) FROM audit_events WHERE action = 'login:success'")).scalar()
        engine.dispose()
        assert sessions == successes
    finally:
        log = stop(server) if server else ""
        pg.destroy()
    assert '"status": 500' not in log
