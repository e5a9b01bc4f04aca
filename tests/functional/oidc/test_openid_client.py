"""A certified relying party signs in through our provider: panva's openid-client (tests/e2e/oidc_rp.mjs)
against a real `idgate serve`, with a member signed in through the real /login by `requests`.
openid-client is strict (RFC 9207 `iss`, state, PKCE, ID token checks), so what it accepts a real
relying party will; the code's replay must be refused."""

from __future__ import annotations

import json
import shutil
import subprocess
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from gateway.db import make_engine
from tests.helpers.processes import (
    ROOT,
    clean_env,
    free_port,
)

RP_SCRIPT = ROOT / "tests" / "e2e" / "oidc_rp.mjs"
OPENID_CLIENT = ROOT / "tests" / "e2e" / "node_modules" / "openid-client"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("node"), reason="no node"),
    pytest.mark.skipif(not OPENID_CLIENT.is_dir(), reason="openid-client not installed: npm ci --prefix tests/e2e"),
]


@pytest.fixture(scope="module")
def gateway(provider):
    """A client registered for the relying party (which listens nowhere: it reads the redirect)."""
    rp_port = free_port()
    redirect, bye = f"http://127.0.0.1:{rp_port}/cb", f"http://127.0.0.1:{rp_port}/bye"
    client_id, secret = provider.register("Grafana", redirect, post_logout_redirect_uri=bye)
    return {"base": provider.base, "client_id": client_id, "secret": secret, "redirect": redirect, "bye": bye,
            "database_url": provider.database_url, "provider": provider}


def _session_of_member(gateway: dict) -> str:
    """The idgate_session cookie of a browser signed in through the form."""
    return gateway["provider"].browser().cookies.get("idgate_session")


def _relying_party(gateway: dict, session: str) -> subprocess.CompletedProcess:
    return subprocess.run(["node", str(RP_SCRIPT), gateway["base"], gateway["client_id"], gateway["redirect"],
                           gateway["bye"]],
                          env={**clean_env(), "OIDC_CLIENT_SECRET": gateway["secret"], "IDGATE_SESSION": session},
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_openid_client_signs_a_member_in_reads_userinfo_refreshes_and_cannot_replay_the_code(gateway):
    session = _session_of_member(gateway)
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
