"""A certified relying party signs in through our provider: panva's openid-client (tests/e2e/oidc_rp.mjs)
against a real `idgate serve`, with a member signed in through the real /login by `requests`.
openid-client is strict (RFC 9207 `iss`, state, PKCE, ID token checks), so what it accepts a real
relying party will; the code's replay must be refused."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import text

from gateway.db import make_engine
from tests.helpers.processes import (
    ROOT,
    clean_env,
    free_port,
    idgate,
    start_idgate_serve,
    stop,
)

RP_SCRIPT = ROOT / "tests" / "e2e" / "oidc_rp.mjs"
OPENID_CLIENT = ROOT / "tests" / "e2e" / "node_modules" / "openid-client"
NEW_PASSWORD = "walnut harbor lantern 2046 quietly"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("node"), reason="no node"),
    pytest.mark.skipif(not OPENID_CLIENT.is_dir(), reason="openid-client not installed: npm ci --prefix tests/e2e"),
]


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


@pytest.fixture
def gateway(served_database_url, tmp_path):
    """`idgate init`, organization acme with its admin, an OpenID Connect client registered by the
    command line, and `idgate serve` on a free port."""
    port, rp_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(IDGATE_DATABASE_URL=served_database_url, IDGATE_INSTANCE_PATH=str(tmp_path / "instance"),
                    IDGATE_BASE_URL=base, IDGATE_ARGON2_TIME_COST="1", IDGATE_ARGON2_MEMORY_COST="1024",
                    IDGATE_ARGON2_PARALLELISM="1")
    idgate("init", env=env, cwd=tmp_path)
    created = idgate("org", "create", "acme", "--name", "Acme", "--admin-email", "ops@acme.example",
                     "--admin-name", "Olga Ops", env=env, cwd=tmp_path).stdout
    temporary = re.search(r"\(shown once\): (\S+)", created).group(1)
    redirect, bye = f"http://127.0.0.1:{rp_port}/cb", f"http://127.0.0.1:{rp_port}/bye"
    registered = idgate("oidc", "client", "create", "acme", "Grafana", "--redirect-uri", redirect,
                        "--post-logout-redirect-uri", bye, env=env, cwd=tmp_path).stdout
    client_id = re.search(r"client_id: (\S+)", registered).group(1)
    secret = re.search(r"client_secret: (\S+)", registered).group(1)
    server = start_idgate_serve(env=env, cwd=tmp_path, port=port)
    try:
        yield {"database_url": served_database_url, "base": base, "temporary": temporary,
               "client_id": client_id, "secret": secret, "redirect": redirect, "bye": bye}
    finally:
        print(stop(server))


def _session_of_member(base: str, temporary: str) -> str:
    """Sign in as a browser would (the temporary password, then the new one it must choose); the
    idgate_session cookie."""
    with requests.Session() as browser:
        signed_in = browser.post(f"{base}/login", data={"csrf_token": _csrf(browser.get(f"{base}/login").text),
                                                         "email": "ops@acme.example", "password": temporary})
        assert signed_in.status_code == 200, signed_in.text[:500]
        form = browser.get(f"{base}/password/change")
        changed = browser.post(f"{base}/password/change",
                               data={"csrf_token": _csrf(form.text), "new_password": NEW_PASSWORD})
        assert changed.status_code == 200, changed.text[:500]
        token = browser.cookies.get("idgate_session")
        assert token
        return token


def _relying_party(gateway: dict, session: str) -> subprocess.CompletedProcess:
    return subprocess.run(["node", str(RP_SCRIPT), gateway["base"], gateway["client_id"], gateway["redirect"],
                           gateway["bye"]],
                          env={**clean_env(), "OIDC_CLIENT_SECRET": gateway["secret"], "IDGATE_SESSION": session},
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_openid_client_signs_a_member_in_reads_userinfo_refreshes_and_cannot_replay_the_code(gateway):
    session = _session_of_member(gateway["base"], gateway["temporary"])
    engine = make_engine(gateway["database_url"])
    try:
        with engine.connect() as connection:
            user_id = connection.scalar(text("SELECT id FROM users WHERE email = 'ops@acme.example'"))
    finally:
        engine.dispose()

    run = _relying_party(gateway, session)
    assert run.returncode == 0, f"openid-client refused our provider:\n{run.stdout}\n{run.stderr}"
    result = json.loads(run.stdout)

    assert result["issuer"] == gateway["base"] and result["callback_iss"] == gateway["base"]
    claims = result["claims"]
    assert claims["iss"] == gateway["base"] and claims["aud"] in (gateway["client_id"], [gateway["client_id"]])
    assert claims["sub"] == str(user_id) and claims["email"] == "ops@acme.example" and claims["org"] == "acme"

    userinfo = result["userinfo"]
    assert userinfo["sub"] == claims["sub"] and userinfo["email"] == claims["email"]

    assert result["has_refresh_token"] and result["refreshed"]["refresh_token_changed"]
    assert result["refreshed"]["access_token_changed"] and result["refreshed"]["userinfo_sub"] == claims["sub"]

    end_session = urlsplit(result["end_session_url"])
    assert f"{end_session.scheme}://{end_session.netloc}".startswith(gateway["base"])
    assert parse_qs(end_session.query)["post_logout_redirect_uri"] == [gateway["bye"]]

    replay = result["replay"]
    assert replay["refused"] and replay["error"] == "invalid_grant", replay
