"""Behind a real nginx (auth_request) with the shipped config: sign in, reach the app with a verified
identity, never a spoofed one, and lose access the moment a deactivation happens."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import jwt as pyjwt
import pytest
import requests
from sqlalchemy import create_engine, text

from tests.helpers import nginx
from tests.helpers.downstream import downstream_app as make_downstream_app
from tests.helpers.processes import clean_env, free_port, start_idgate_serve, stop, init_with_acme

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not nginx.available(), reason="Debian's nginx is not installed")]
NEW_PASSWORD = "walnut harbor lantern 2046 quietly"


@pytest.fixture
def downstream_app():
    with make_downstream_app() as app:
        yield app


@pytest.fixture
def stack(tmp_path, downstream_app, served_database_url):
    app_port, seen = downstream_app
    idgate_port, nginx_port = free_port(), free_port()
    env = clean_env(
        IDGATE_DATABASE_URL=served_database_url, IDGATE_INSTANCE_PATH=str(tmp_path / "instance"),
        IDGATE_CERTS_DIR=str(tmp_path / "certs"), IDGATE_BASE_URL=f"http://127.0.0.1:{nginx_port}",
        IDGATE_ARGON2_TIME_COST="1", IDGATE_ARGON2_MEMORY_COST="1024", IDGATE_ARGON2_PARALLELISM="1",
    )
    temporary = init_with_acme(env=env, cwd=tmp_path)
    server = start_idgate_serve(env=env, cwd=tmp_path, port=idgate_port)
    proxy = nginx.Nginx(tmp_path / "nginx", nginx.render_shipped_config(
        listen=nginx_port, idgate=idgate_port, app=app_port), nginx_port).start()
    yield {"base": f"http://127.0.0.1:{nginx_port}", "temporary": temporary, "seen": seen,
           "db": served_database_url}
    proxy.stop()
    stop(server)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def test_sign_in_through_nginx_then_the_app_sees_a_verified_identity_until_deactivation(stack):
    base, browser = stack["base"], requests.Session()

    # No session: nginx sends the browser to sign in, with the way back.
    first = browser.get(f"{base}/app/hello?x=1", allow_redirects=False)
    assert first.status_code == 302
    assert first.headers["Location"] == f"{base}/login?next=http%3A%2F%2F127.0.0.1%3A{base.rsplit(':', 1)[1]}%2Fapp%2Fhello%3Fx%3D1"

    login = browser.get(first.headers["Location"])
    signed_in = browser.post(f"{base}/login", allow_redirects=False, data={
        "csrf_token": _csrf(login.text), "email": "ops@acme.example", "password": stack["temporary"],
        "next": f"{base}/app/hello?x=1"})
    # The new password first; the way back is kept for after it.
    change = urlsplit(signed_in.headers["Location"])
    assert change.path == "/password/change" and parse_qs(change.query)["next"] == [f"{base}/app/hello?x=1"]
    assert browser.get(f"{base}/app/hello", allow_redirects=False).status_code == 302  # still restricted
    form = browser.get(f"{base}{signed_in.headers['Location']}")
    changed = browser.post(f"{base}{signed_in.headers['Location']}", allow_redirects=False,
                           data={"csrf_token": _csrf(form.text), "new_password": NEW_PASSWORD})
    assert changed.headers["Location"] == f"{base}/app/hello?x=1"

    # Signed in: the app gets the identity, and a client's own X-Auth-* never gets through.
    reached = browser.get(f"{base}/app/hello", headers={"X-Auth-Email": "ceo@evil.example",
                                                        "X-Auth-Role": "admin", "X-Auth-User-Id": "1"})
    assert reached.status_code == 200
    headers = reached.json()
    assert headers["X-Auth-Email"] == "ops@acme.example" and headers["X-Auth-Org"] == "acme"

    # The app verifies the token with an independent library, against the JWKS.
    token = headers["X-Auth-Token"]
    jwk_set = pyjwt.PyJWKClient(f"{base}/.well-known/jwks.json")
    claims = pyjwt.decode(token, jwk_set.get_signing_key_from_jwt(token).key, algorithms=["ES256"],
                          audience="idgate-downstream", issuer=base)
    assert claims["email"] == "ops@acme.example" and claims["sub"] == headers["X-Auth-User-Id"]

    # A deactivation written by another instance (here: straight into the database) cuts access
    # within one second, however verify caches.
    engine = create_engine(stack["db"].replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE memberships SET status = 'inactive'"))
    engine.dispose()
    time.sleep(1.05)
    cut_off = browser.get(f"{base}/app/hello", allow_redirects=False)
    assert cut_off.status_code == 302 and "/login?next=" in cut_off.headers["Location"]
