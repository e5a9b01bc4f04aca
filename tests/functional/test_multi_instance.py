"""Two `idgate serve` processes behind a real nginx balancing round-robin, on one PostgreSQL, with
and without Redis: state lives in the shared stores, never in an instance."""

from __future__ import annotations

import os
import re
import time
import uuid

import pytest
import requests

from tests.conftest import fresh_postgres_database
from tests.helpers import nginx
from tests.helpers.idp import TestIdP
from tests.helpers.processes import clean_env, free_port, idgate, start_idgate_serve, stop

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not nginx.available(), reason="Debian's nginx is not installed")]
REDIS = os.environ.get("IDGATE_TEST_REDIS_URL")


def _balancer(listen: int, ports: list[int]) -> str:
    servers = "".join(f"server 127.0.0.1:{p};" for p in ports)
    return f"""
    upstream gateways {{ {servers} }}
    server {{
        listen 127.0.0.1:{listen};
        location / {{
            proxy_pass http://gateways;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            add_header X-Upstream $upstream_addr always;
        }}
    }}"""


@pytest.fixture(params=["postgresql+redis", "postgresql"])
def cluster(request, database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("several instances share PostgreSQL: run with IDGATE_TEST_DATABASE_URL")
    if request.param == "postgresql+redis" and not REDIS:
        pytest.skip("IDGATE_TEST_REDIS_URL is not set")
    with fresh_postgres_database(database_url, f"idgate_cluster_{os.getpid()}") as url:
        balancer_port, ports = free_port(), [free_port(), free_port()]
        env = clean_env(
            IDGATE_DATABASE_URL=url, IDGATE_INSTANCE_PATH=str(tmp_path / "instance"),
            IDGATE_CERTS_DIR=str(tmp_path / "certs"), IDGATE_BASE_URL=f"http://127.0.0.1:{balancer_port}",
            IDGATE_SECRET_KEY="shared-between-instances", IDGATE_LOGIN_LIMIT_ACCOUNT="4 per 15 minutes",
            IDGATE_LOGIN_LIMIT_ADDRESS="10000 per minute",
            IDGATE_ARGON2_TIME_COST="1", IDGATE_ARGON2_MEMORY_COST="1024", IDGATE_ARGON2_PARALLELISM="1",
            **({"IDGATE_REDIS_URL": REDIS} if request.param == "postgresql+redis" else {}),
        )
        idgate("init", env=env, cwd=tmp_path)
        out = idgate("org", "create", "acme", "--name", "Acme", "--admin-email", "ops@acme.example",
                     "--admin-name", "Olga Ops", env=env, cwd=tmp_path).stdout
        idp = TestIdP(tmp_path / "idp")
        (tmp_path / "idp.xml").write_text(idp.metadata_xml())
        idgate("saml", "configure", "acme", "--idp-metadata", str(tmp_path / "idp.xml"), "--email-domain",
               "sso.example", env=env, cwd=tmp_path)
        servers = [start_idgate_serve(env=env, cwd=tmp_path, port=port) for port in ports]
        proxy = nginx.Nginx(tmp_path / "nginx", _balancer(balancer_port, ports), balancer_port).start()
        base = f"http://127.0.0.1:{balancer_port}"
        idp.trust_sp(requests.get(f"{base}/saml/acme/metadata", timeout=10).text)
        try:
            yield {"base": base, "ports": ports, "idp": idp, "mode": request.param,
                   "temporary": re.search(r"\(shown once\): (\S+)", out).group(1)}
        finally:
            proxy.stop()
            for server in servers:
                stop(server)


def _direct(cluster, n: int) -> str:
    return f"http://127.0.0.1:{cluster['ports'][n]}"


def test_an_sso_sign_in_started_on_one_instance_completes_on_the_other(cluster):
    idp, browser = cluster["idp"], requests.Session()
    start = browser.get(f"{_direct(cluster, 0)}/saml/acme/login?next=/account", allow_redirects=False)
    request = idp.read_authn_request(start.headers["Location"])
    answer = idp.response(sp_entity_id=request["sp_entity_id"], acs_url=request["acs_url"],
                          in_response_to=request["id"], name_id="sam@sso.example",
                          attributes={"email": ["sam@sso.example"], "displayName": ["Sam Sso"]})
    done = browser.post(f"{_direct(cluster, 1)}/saml/acme/acs", allow_redirects=False,
                        data={"SAMLResponse": answer, "RelayState": request["relay_state"]})
    assert done.status_code == 303
    token = done.cookies["idgate_session"]
    for n in (0, 1):  # the session is valid on both
        assert requests.get(f"{_direct(cluster, n)}/auth/verify",
                            headers={"Authorization": f"Bearer {token}"}).headers["X-Auth-Email"] == "sam@sso.example"
    # The same answer, replayed to the other instance, is refused.
    replay = requests.post(f"{_direct(cluster, 0)}/saml/acme/acs", allow_redirects=False,
                           data={"SAMLResponse": answer, "RelayState": request["relay_state"]})
    assert replay.status_code == 400


def test_logout_on_one_instance_is_refused_on_the_other_within_a_second(cluster):
    browser = requests.Session()
    base = _direct(cluster, 0)
    page = browser.get(f"{base}/login").text
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    browser.post(f"{base}/login", data={"csrf_token": csrf, "email": "ops@acme.example",
                                        "password": cluster["temporary"]})
    form = browser.get(f"{base}/password/change").text
    browser.post(f"{base}/password/change", data={
        "csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1),
        "new_password": "walnut harbor lantern 2046 quietly"})
    bearer = {"Authorization": f"Bearer {browser.cookies['idgate_session']}"}
    other = _direct(cluster, 1)
    assert requests.get(f"{other}/auth/verify", headers=bearer).status_code == 200
    account = browser.get(f"{base}/account").text
    browser.post(f"{base}/logout", data={
        "csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"', account).group(1)})
    time.sleep(1.05)
    assert requests.get(f"{other}/auth/verify", headers=bearer).status_code == 401


def test_sign_in_throttling_counts_across_instances(cluster):
    # With Redis the counters live there; without it, in PostgreSQL (gateway/ratelimit_storage.py).
    statuses, victim = [], f"victim-{uuid.uuid4().hex}@acme.example"  # Redis outlives the test
    for n in range(6):
        base = _direct(cluster, n % 2)
        session = requests.Session()
        page = session.get(f"{base}/login").text
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        statuses.append(session.post(f"{base}/login", data={
            "csrf_token": csrf, "email": victim, "password": "wrong wrong wrong"}).status_code)
    assert statuses[:4] == [401] * 4 and statuses[4:] == [429, 429]


def test_the_balancer_spreads_requests_over_both_instances(cluster):
    upstreams = {requests.get(f"{cluster['base']}/healthz").headers["X-Upstream"] for _ in range(6)}
    assert len(upstreams) == 2
