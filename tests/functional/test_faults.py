"""Faults: Redis going away mid-flight, SMTP down then up (see test_removal_mail.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pytest
import requests

from tests.helpers.processes import clean_env, free_port, idgate, start_idgate_serve, stop

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not shutil.which("redis-server"), reason="no redis-server")]
PASSWORD = "walnut harbor lantern 2046 quietly"


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of this test's own, so that stopping it harms nobody else."""
    port = free_port()
    process = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(tmp_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode != 0:
        assert time.monotonic() < deadline, "redis did not start"
        time.sleep(0.05)
    yield port, process
    if process.poll() is None:
        process.terminate()
        process.wait()


def _sign_in(base: str, password: str) -> requests.Session:
    browser = requests.Session()
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', browser.get(f"{base}/login").text).group(1)
    response = browser.post(f"{base}/login", allow_redirects=False,
                            data={"csrf_token": csrf, "email": "ops@acme.example", "password": password})
    assert response.status_code == 303, response.status_code
    return browser


def test_sign_in_and_verify_keep_working_when_redis_goes_away(tmp_path, private_redis):
    port, redis_process = private_redis
    gateway_port = free_port()
    env = clean_env(IDGATE_DATABASE_URL=f"sqlite:///{tmp_path / 'gw.db'}", IDGATE_INSTANCE_PATH=str(tmp_path / "i"),
                    IDGATE_CERTS_DIR=str(tmp_path / "certs"), IDGATE_BASE_URL=f"http://127.0.0.1:{gateway_port}",
                    IDGATE_REDIS_URL=f"redis://127.0.0.1:{port}/0", IDGATE_ARGON2_TIME_COST="1",
                    IDGATE_ARGON2_MEMORY_COST="1024", IDGATE_ARGON2_PARALLELISM="1")
    idgate("init", env=env, cwd=tmp_path)
    out = idgate("org", "create", "acme", "--name", "Acme", "--admin-email", "ops@acme.example",
                 "--admin-name", "Olga Ops", env=env, cwd=tmp_path).stdout
    temporary = re.search(r"\(shown once\): (\S+)", out).group(1)
    server = start_idgate_serve(env=env, cwd=tmp_path, port=gateway_port)
    base = f"http://127.0.0.1:{gateway_port}"
    try:
        first = _sign_in(base, temporary)
        form = first.get(f"{base}/password/change").text
        first.post(f"{base}/password/change", data={
            "csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1),
            "new_password": PASSWORD})
        assert first.get(f"{base}/auth/verify").status_code == 200

        redis_process.terminate()
        redis_process.wait()

        # Throttling falls back to counting in the process; nothing else needs Redis.
        second = _sign_in(base, PASSWORD)
        assert second.get(f"{base}/auth/verify").status_code == 200
        assert first.get(f"{base}/auth/verify").status_code == 200
        account = second.get(f"{base}/account").text
        second.post(f"{base}/logout", data={
            "csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"', account).group(1)})
        assert second.get(f"{base}/auth/verify").status_code == 401  # revocation stays correct
    finally:
        log = stop(server)
    assert "\"status\": 500" not in log
