"""Registered applications behind the shipped proxy configs, run by the real proxies with only their
hosts and ports changed: one nginx with a server block per host, one Caddy with a site per host, one
Traefik router for the three hosts, all in front of one `idgate serve`.

The organization of docs/apps.md: Grafana for admins and the "ops" group, a wiki for everyone, an
admin tool that needs a second factor. Requests go to 127.0.0.1 with the Host header set, so no
name has to resolve.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests

from gateway import create_app
from gateway.actor import Actor
from gateway.apps import services as apps
from gateway.groups import services as groups
from gateway.orgs.access import AdminScope
from gateway.sessions import services as sessions
from tests import factories
from tests.conftest import FAST_HASH
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from tests.helpers import caddy, nginx, traefik
from tests.helpers.downstream import downstream_app
from tests.helpers.processes import (
    clean_env,
    free_port,
    idgate,
    start_idgate_serve,
    stop,
)

pytestmark = pytest.mark.slow

GRAFANA, WIKI, ADMIN_TOOL = "grafana.test", "wiki.test", "admin.test"
HOSTS = (GRAFANA, WIKI, ADMIN_TOOL)
ID_HOST = "id.test"
BASE = f"http://{ID_HOST}"  # IDGATE_BASE_URL: where redirects send the browser (never followed here)
# Which proxies pass idgate's answer to the browser (browser mode, ?redirect=1), and which show their own.
BROWSER_MODE = {"nginx": False, "caddy": True, "traefik": True}


@pytest.fixture(scope="module")
def downstream():
    with downstream_app() as app:
        yield app


def _arrange(env: dict) -> dict[str, str]:
    """The organization, written through the services into the served database; a session token
    for each person, as a sign-in would leave it (password only, or with a second factor)."""
    app = create_app({"DATABASE_URL": env["IDGATE_DATABASE_URL"], "INSTANCE_PATH": env["IDGATE_INSTANCE_PATH"],
                      "CERTS_DIR": env["IDGATE_CERTS_DIR"], "BASE_URL": BASE, **FAST_HASH})
    clock, settings = app.extensions["idgate.clock"], app.extensions["idgate.settings"]
    try:
        with app.extensions["idgate.sessionmaker"]() as db:
            factories.bind(db, app, clock)
            org = OrganizationFactory(slug="acme", name="Acme")
            people = {
                "admin": MembershipFactory(org=org, admin=True, user=UserFactory(email="olga@acme.example")),
                "ops": MembershipFactory(org=org, user=UserFactory(email="oscar@acme.example")),
                "plain": MembershipFactory(org=org, user=UserFactory(email="paula@acme.example")),
            }
            db.flush()
            now = clock.now()
            scope = AdminScope(org.id, org.slug, org.name, Actor(user_id=people["admin"].user_id))
            ops = groups.create_group(db, scope, "ops", now=now)
            groups.add_member(db, scope, ops.id, people["ops"].user_id, now=now)
            apps.create_app(db, scope, name="Grafana", routes=[GRAFANA], access="listed", roles_=["admin"],
                            groups_=["ops"], now=now)
            apps.create_app(db, scope, name="Wiki", routes=[WIKI], now=now)
            apps.create_app(db, scope, name="Admin tool", routes=[ADMIN_TOOL], access="listed", roles_=["admin"],
                            requires_mfa=True, now=now)
            tokens = {}
            for who, membership in people.items():
                tokens[who], _ = sessions.start(db, membership.user_id, org_id=org.id, amr="pwd", actor=Actor(),
                                                settings=settings, now=now)
            tokens["admin+mfa"], _ = sessions.start(db, people["admin"].user_id, org_id=org.id, amr="pwd otp mfa",
                                                    actor=Actor(), settings=settings, now=now)
            db.commit()
    finally:
        app.extensions["idgate.engine"].dispose()
    return tokens


@pytest.fixture(scope="module")
def stack(tmp_path_factory, module_served_database_url, downstream):
    """One idgate, and in front of it every proxy that is installed: name → its address."""
    tmp = tmp_path_factory.mktemp("apps-proxies")
    app_port, seen = downstream
    idgate_port = free_port()
    env = clean_env(
        IDGATE_DATABASE_URL=module_served_database_url, IDGATE_INSTANCE_PATH=str(tmp / "instance"),
        IDGATE_CERTS_DIR=str(tmp / "certs"), IDGATE_BASE_URL=BASE,
        IDGATE_ALLOWED_REDIRECT_HOSTS=",".join((ID_HOST, *HOSTS)),
        IDGATE_ARGON2_TIME_COST="1", IDGATE_ARGON2_MEMORY_COST="1024", IDGATE_ARGON2_PARALLELISM="1",
    )
    idgate("init", env=env, cwd=tmp)
    tokens = _arrange(env)
    server = start_idgate_serve(env=env, cwd=tmp, port=idgate_port)
    proxies, running = {}, []
    try:
        if nginx.available():
            port = free_port()
            conf = nginx.render_shipped_config(listen=port, idgate=idgate_port, app=app_port, server_names=HOSTS)
            running.append(nginx.Nginx(tmp / "nginx", conf, port).start())
            proxies["nginx"] = f"http://127.0.0.1:{port}"
        if caddy.available():
            port = free_port()
            # Its id site at 127.0.0.1, where start() can see it serve without a Host header.
            conf = caddy.render_shipped_config_for_hosts(port=port, id_host="127.0.0.1", app_hosts=HOSTS,
                                                         idgate=idgate_port, app=app_port)
            running.append(caddy.Caddy(tmp / "caddy", conf, f"http://127.0.0.1:{port}/readyz").start())
            proxies["caddy"] = f"http://127.0.0.1:{port}"
        if traefik.available():
            port = free_port()
            conf = traefik.render_shipped_config(idgate=idgate_port, app=app_port)
            # The app router's one host becomes the three (the idgate router keeps the helper's).
            conf = conf.replace(f"Host(`{traefik.APP_HOST}`)", " || ".join(f"Host(`{host}`)" for host in HOSTS))
            running.append(traefik.Traefik(tmp / "traefik", conf, port).start())
            proxies["traefik"] = f"http://127.0.0.1:{port}"
        yield {"proxies": proxies, "tokens": tokens, "seen": seen}
    finally:
        for proxy in running:
            proxy.stop()
        print(stop(server))


PROXIES = list(BROWSER_MODE)


def _get(stack, proxy: str, host: str, path: str = "/", *, who: str | None = None, headers: dict | None = None):
    """A browser's GET of http://host/path through `proxy`; what reaches the app is in stack["seen"]."""
    if proxy not in stack["proxies"]:
        pytest.skip(f"{proxy} is not installed")
    sent = {"Host": host, "Accept": "text/html", **(headers or {})}
    if who:
        sent["Cookie"] = f"idgate_session={stack['tokens'][who]}"
    stack["seen"].clear()
    return requests.get(stack["proxies"][proxy] + path, headers=sent, allow_redirects=False, timeout=30)


def _arrived(stack):
    """The headers the app received for the one request just sent."""
    assert len(stack["seen"]) == 1, stack["seen"]
    return stack["seen"][0]


def _values(arrived, header: str) -> list[str]:
    """Every value a CGI-style backend would read as `header`, however the name was spelt."""
    def variable(name):
        return "".join(c if c.isalnum() else "_" for c in name).upper()

    return [value for name, value in arrived.raw if variable(name) == variable(header)]


@pytest.mark.parametrize("proxy", PROXIES)
def test_a_plain_member_reaches_the_wiki_and_is_refused_on_grafana(stack, proxy):
    wiki = _get(stack, proxy, WIKI, "/Home", who="plain")
    assert wiki.status_code == 200
    assert _arrived(stack)["X-Auth-Email"] == "paula@acme.example"

    refused = _get(stack, proxy, GRAFANA, "/d/abc?orgId=1", who="plain")
    assert refused.status_code == 403
    assert not stack["seen"]
    if BROWSER_MODE[proxy]:  # the proxy shows idgate's page: which app, and whom to ask
        assert "Grafana is open to members with role admin or group ops of Acme" in refused.text
        assert "Ask an admin of Acme for access" in refused.text


@pytest.mark.parametrize("proxy", PROXIES)
def test_a_member_of_ops_reaches_grafana_and_the_app_receives_the_group(stack, proxy):
    spoofed = {"X-Auth-Groups": "admins", "X-Auth-Amr": "pwd otp mfa", "X-Auth-Role": "admin",
               "X_Auth_Groups": "admins", "x-auth-groups": "admins"}
    reached = _get(stack, proxy, GRAFANA, "/d/abc", who="ops", headers=spoofed)
    assert reached.status_code == 200
    arrived = _arrived(stack)
    assert arrived["X-Auth-Email"] == "oscar@acme.example" and arrived["X-Auth-Role"] == "user"
    assert _values(arrived, "X-Auth-Groups") == ["ops"]
    assert _values(arrived, "X-Auth-Amr") == ["pwd"]


@pytest.mark.parametrize("proxy", PROXIES)
def test_an_admin_reaches_grafana_by_role(stack, proxy):
    reached = _get(stack, proxy, GRAFANA, "/d/abc", who="admin", headers={"X-Auth-Groups": "ops"})
    assert reached.status_code == 200
    arrived = _arrived(stack)
    assert arrived["X-Auth-Role"] == "admin"
    # In no group: the header is empty or absent (nginx sends no empty header), never the client's.
    assert set(_values(arrived, "X-Auth-Groups")) <= {""}


@pytest.mark.parametrize("proxy", PROXIES)
def test_the_admin_tool_sends_a_password_only_session_to_the_step_up(stack, proxy):
    stepped_up = _get(stack, proxy, ADMIN_TOOL, "/", who="admin")
    assert stepped_up.status_code == 302
    assert stepped_up.headers["Location"] == f"{BASE}/login/verify?next={quote(f'http://{ADMIN_TOOL}/', safe='')}"
    assert not stack["seen"]

    reached = _get(stack, proxy, ADMIN_TOOL, "/", who="admin+mfa")
    assert reached.status_code == 200
    assert _values(_arrived(stack), "X-Auth-Amr") == ["pwd otp mfa"]

    # A second factor does not stand in for the rule: the tool is for admins.
    assert _get(stack, proxy, ADMIN_TOOL, "/", who="ops").status_code == 403


# What a client might send to make idgate judge another URL than the one the proxy serves: the
# wiki (everyone) named while asking for Grafana (admins and ops).
NAMING_ANOTHER_APP = [
    {"X-Original-URL": f"http://{WIKI}/"},
    {"X-Original-Url": f"http://{WIKI}/", "X-Forwarded-Host": WIKI},
    {"X_Original_URL": f"http://{WIKI}/"},
    {"X.Original.URL": f"http://{WIKI}/"},
    {"X-Forwarded-Host": WIKI, "X-Forwarded-Proto": "http", "X-Forwarded-Uri": "/"},
    {"X_Forwarded_Host": WIKI},
]


@pytest.mark.parametrize("proxy", PROXIES)
@pytest.mark.parametrize("headers", NAMING_ANOTHER_APP, ids=lambda h: "+".join(h))
def test_a_client_cannot_name_another_app_than_the_one_it_asks_for(stack, proxy, headers):
    refused = _get(stack, proxy, GRAFANA, "/d/abc", who="plain", headers=headers)
    assert refused.status_code == 403
    assert not stack["seen"]
