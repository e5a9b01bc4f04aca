"""`idgate init`, `idgate org create` and `idgate serve` as real processes, over real HTTP: sign-in on
several workers, the access log, metrics added up across workers, SIGTERM, trusted proxies."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import time

from pathlib import Path

import pytest
import requests
from sqlalchemy import text

from gateway.db import make_engine
from tests.helpers.processes import clean_env, free_port, idgate, start_idgate_serve, stop

pytestmark = pytest.mark.slow
NEW_PASSWORD = "walnut harbor lantern 2046 quietly"
ACCESS_FIELDS = ["remote", "method", "path", "status", "bytes", "ms", "request_id"]


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


@pytest.fixture
def instance(served_database_url, tmp_path):
    """A database and an organization made by the command line; `serve()` starts the gateway on them."""
    env = clean_env(
        IDGATE_DATABASE_URL=served_database_url,
        IDGATE_INSTANCE_PATH=str(tmp_path / "instance"),
        IDGATE_ARGON2_TIME_COST="1", IDGATE_ARGON2_MEMORY_COST="1024", IDGATE_ARGON2_PARALLELISM="1",
    )
    assert "Database ready" in idgate("init", env=env, cwd=tmp_path).stdout
    created = idgate("org", "create", "acme", "--name", "Acme", "--admin-email", "ops@acme.example",
                     "--admin-name", "Olga Ops", env=env, cwd=tmp_path).stdout
    temporary = re.search(r"Temporary password \(shown once\): (\S+)", created).group(1)
    servers = []

    def serve(workers: int = 2, **extra: str):
        port = free_port()
        server = start_idgate_serve(env={**env, "IDGATE_BASE_URL": f"http://127.0.0.1:{port}", **extra},
                                    cwd=tmp_path, port=port, workers=workers)
        server.base = f"http://127.0.0.1:{port}"
        servers.append(server)
        return server

    serve.temporary = temporary
    serve.database_url = served_database_url
    yield serve
    for server in servers:
        stop(server)


@pytest.fixture
def browser():
    with requests.Session() as session:  # closed: no keep-alive socket is left for the collector
        yield session


def _access_lines(log: str) -> list[dict]:
    lines = [json.loads(line) for line in log.splitlines() if line.startswith('{"remote"')]
    assert all(list(line) == ACCESS_FIELDS for line in lines)
    return lines


def _sign_in(browser: requests.Session, base: str, temporary: str) -> None:
    browser.post(f"{base}/login", data={"csrf_token": _csrf(browser.get(f"{base}/login").text),
                                        "email": "ops@acme.example", "password": temporary})
    form = browser.get(f"{base}/password/change")
    browser.post(f"{base}/password/change", data={"csrf_token": _csrf(form.text), "new_password": NEW_PASSWORD})


def _workers_answering(base: str, count: int, timeout: float = 30) -> int:
    """Ask /healthz (a new connection each time) until `count` workers have answered; how many asks."""
    seen, asked, deadline = set(), 0, time.monotonic() + timeout
    while len(seen) < count:
        assert time.monotonic() < deadline, f"only workers {seen} answered"
        seen.add(requests.get(f"{base}/healthz", headers={"Connection": "close"}).json()["worker"])
        asked += 1
    return asked


def test_a_served_gateway_signs_in_with_a_temporary_password_over_http(instance, browser):
    assert len(instance.temporary) == 16
    server = instance(workers=2)
    base = server.base
    token = _csrf(browser.get(f"{base}/login").text)
    signed_in = browser.post(f"{base}/login", allow_redirects=False, data={
        "csrf_token": token, "email": "ops@acme.example", "password": instance.temporary})
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"].endswith("/password/change")
    assert browser.get(f"{base}/auth/verify").status_code == 401

    form = browser.get(f"{base}/password/change")
    changed = browser.post(f"{base}/password/change", allow_redirects=False, data={
        "csrf_token": _csrf(form.text), "new_password": NEW_PASSWORD})
    assert changed.status_code == 303

    verify = browser.get(f"{base}/auth/verify")
    assert verify.status_code == 200
    assert verify.headers["X-Auth-Org"] == "acme"
    assert verify.headers["X-Auth-Role"] == "admin"
    log = stop(server)
    assert instance.temporary not in log and NEW_PASSWORD not in log
    assert server.returncode == 0


def test_the_access_log_is_one_json_line_a_request_with_its_id_and_no_secret(instance, browser):
    server = instance(workers=2)
    base = server.base
    _sign_in(browser, base, instance.temporary)
    answers = [
        requests.get(f"{base}/healthz?token=query-secret-1"),
        requests.get(f"{base}/invite/invitation-code-2?from=mail"),
        requests.get(f"{base}/auth/verify"),
        browser.get(f"{base}/auth/verify"),
        browser.get(f"{base}/auth/verify?org=acme"),  # within a second: the fast path before Flask
        requests.post(f"{base}/login", data={"email": "x@acme.example"}),  # refused by CSRF, still an id
    ]
    log = stop(server)
    lines = _access_lines(log)

    by_id = {line["request_id"]: line for line in lines}
    for answer in answers:
        line = by_id[answer.headers["X-Request-Id"]]
        assert line["status"] == answer.status_code
        assert line["remote"] == "127.0.0.1" and line["method"] == answer.request.method
        assert line["bytes"] == len(answer.content) and line["ms"] >= 0
    assert [by_id[a.headers["X-Request-Id"]]["path"] for a in answers[:3]] == [
        "/healthz", "/invite/[redacted]", "/auth/verify"]
    assert "query-secret-1" not in log and "invitation-code-2" not in log
    assert not any("?" in line["path"] for line in lines)


def test_metrics_add_up_across_workers(instance):
    server = instance(workers=2)
    base = server.base
    sent = _workers_answering(base, 2)
    answered_by = set()
    for _ in range(60):
        answered_by.add(requests.get(f"{base}/healthz", headers={"Connection": "close"}).json()["worker"])
        sent += 1
    assert len(answered_by) == 2  # the kernel spreads new connections over both workers

    def healthz_count() -> float:
        scraped = requests.get(f"{base}/metrics", headers={"Connection": "close"}).text
        sample = re.search(r'^idgate_http_requests_total\{endpoint="ops.healthz",method="GET",status="200"\} (\S+)$',
                           scraped, re.M)
        return float(sample.group(1))

    # Whichever worker answers the scrape, it counts every worker's requests.
    assert {healthz_count() for _ in range(10)} == {sent}


def test_sigterm_lets_a_request_in_flight_finish(instance, browser):
    server = instance(workers=1)  # the request in flight is on the one worker that is stopping
    host, port = server.base.removeprefix("http://").split(":")
    token = _csrf(browser.get(f"{server.base}/login").text)
    body = f"csrf_token={token}&email=ops%40acme.example&password={instance.temporary}".encode()
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("POST", "/login")
    for name, value in {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": str(len(body)),
                        "Cookie": "; ".join(f"{k}={v}" for k, v in browser.cookies.items())}.items():
        conn.putheader(name, value)
    conn.endheaders(body[:20])  # the sign-in has begun: its headers and a part of its form are in
    time.sleep(0.5)  # accepted by the worker before the signal (else the connection is simply refused)

    os.killpg(server.pid, signal.SIGTERM)
    time.sleep(1)  # the shutdown is under way (granian logs "Shutting down"); the sign-in waits on its form
    assert server.poll() is None
    conn.send(body[20:])
    answer = conn.getresponse()
    answer.read()
    conn.close()
    assert answer.status == 303 and "idgate_session=" in answer.getheader("Set-Cookie")
    assert server.wait(timeout=30) == 0
    assert "Shutting down" in Path(server.log_path).read_text()


@pytest.mark.parametrize(("trusted", "believed"), [("0", "127.0.0.1"), ("1", "203.0.113.7")])
def test_x_forwarded_for_is_believed_only_from_trusted_proxies(instance, browser, trusted, believed):
    server = instance(workers=1, IDGATE_TRUSTED_PROXIES=trusted)
    browser.headers["X-Forwarded-For"] = "203.0.113.7"
    failed = browser.post(f"{server.base}/login", data={
        "csrf_token": _csrf(browser.get(f"{server.base}/login").text),
        "email": "ops@acme.example", "password": "not the password at all"})
    assert failed.status_code == 401  # the form again, with one generic error
    log = stop(server)

    assert _access_lines(log)[-1]["remote"] == believed
    engine = make_engine(instance.database_url)
    try:
        with engine.connect() as conn:
            ip = conn.execute(text("SELECT ip FROM audit_events WHERE action = 'login:failure'")).scalar_one()
    finally:
        engine.dispose()
    assert ip == believed
