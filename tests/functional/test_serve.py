"""`idgate init`, `idgate org create` and `idgate serve` as real processes, signed in over real HTTP."""

from __future__ import annotations

import re


import pytest
import requests

from tests.helpers.processes import clean_env, free_port, idgate, start_idgate_serve, stop

pytestmark = pytest.mark.slow
NEW_PASSWORD = "walnut harbor lantern 2046 quietly"


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def test_a_served_gateway_signs_in_with_a_temporary_password_over_http(served_database_url, tmp_path):
    port = free_port()
    env = clean_env(
        IDGATE_DATABASE_URL=served_database_url,
        IDGATE_INSTANCE_PATH=str(tmp_path / "instance"),
        IDGATE_BASE_URL=f"http://127.0.0.1:{port}",
        IDGATE_ARGON2_TIME_COST="1", IDGATE_ARGON2_MEMORY_COST="1024", IDGATE_ARGON2_PARALLELISM="1",
    )
    assert "Database ready" in idgate("init", env=env, cwd=tmp_path).stdout
    created = idgate("org", "create", "acme", "--name", "Acme", "--admin-email", "ops@acme.example",
                     "--admin-name", "Olga Ops", env=env, cwd=tmp_path).stdout
    temporary = re.search(r"Temporary password \(shown once\): (\S+)", created).group(1)
    assert len(temporary) == 16

    server = start_idgate_serve(env=env, cwd=tmp_path, port=port, workers=2)
    try:
        base = f"http://127.0.0.1:{port}"
        browser = requests.Session()
        token = _csrf(browser.get(f"{base}/login").text)
        signed_in = browser.post(f"{base}/login", allow_redirects=False, data={
            "csrf_token": token, "email": "ops@acme.example", "password": temporary})
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
    finally:
        log = stop(server)
    assert temporary not in log and NEW_PASSWORD not in log
    assert server.returncode == 0
