"""Test fixtures: the app on SQLite (or PostgreSQL via IDGATE_TEST_DATABASE_URL), one
rolled-back transaction per test, a controllable clock, and helpers that sign in."""

from __future__ import annotations

import html
import os
import re
from contextlib import contextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from gateway import create_app
from gateway.clock import FrozenClock
from gateway.db import make_engine
from gateway.migrate import upgrade
from gateway.sessions import cache
from tests import factories

# argon2 at its cheapest: the tests exercise our logic, not the hash's cost.
FAST_HASH = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 8, "ARGON2_PARALLELISM": 1}
STRONG_PASSWORD = "violet tractor mango 1987 sunrise"


def pytest_report_header(config):
    return f"database: {_database_url_for_header()}"


def _database_url_for_header() -> str:
    return os.environ.get("IDGATE_TEST_DATABASE_URL") or "sqlite (temporary file)"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """The database every test runs on; the schema is built by our Alembic migrations."""
    server_url = os.environ.get("IDGATE_TEST_DATABASE_URL")
    if server_url:
        with fresh_postgres_database(server_url, f"idgate_test_{os.getpid()}") as url:
            _migrate(url)
            yield url
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        _migrate(url)
        yield url


def _migrate(url: str) -> None:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test", **FAST_HASH})
    upgrade(app)
    app.extensions["idgate.engine"].dispose()


@contextmanager
def fresh_postgres_database(server_url: str, name: str):
    """A new, empty database on the PostgreSQL server of `server_url`, dropped afterwards,
    so that concurrent test runs on one server never share tables."""
    admin = make_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    drop = text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    with admin.connect() as conn:
        conn.execute(drop)
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(drop)
        admin.dispose()


@pytest.fixture(scope="session")
def is_postgres(database_url) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture(scope="session")
def engine(database_url):
    # Each test's outer transaction spans the whole test: as a writer from its start it would lock out
    # the CLI commands a test runs on connections of their own (`idgate init`).
    engine = make_engine(database_url, writers_first=False)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine):
    """One outer transaction per test, rolled back at the end: tests never see each other."""
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def settings_overrides(request) -> dict:
    overrides = {}
    for marker in reversed(list(request.node.iter_markers("settings"))):
        overrides.update({key.upper(): value for key, value in marker.kwargs.items()})
    return overrides


@pytest.fixture(scope="session")
def certs_dir(tmp_path_factory) -> str:
    """One key folder for the whole run: generating RSA keys per test would be slow."""
    return str(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def app(database_url, connection, clock, settings_overrides, tmp_path, certs_dir):
    app = create_app({
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "CERTS_DIR": certs_dir,
        "TESTING": True,
        "CLOCK": clock,
        **FAST_HASH,
        **settings_overrides,
    })
    # Every Session the app opens joins the test's outer transaction through savepoints.
    app.extensions["idgate.sessionmaker"].configure(bind=connection, join_transaction_mode="create_savepoint")
    cache.watch(connection.engine)  # the app's writes run on the test's engine
    yield app
    app.extensions["idgate.engine"].dispose()


@pytest.fixture
def db(app):
    """A Session for arranging and inspecting data, beside the app's own."""
    session = app.extensions["idgate.sessionmaker"]()
    factories.bind(session, app, app.extensions["idgate.clock"])
    yield session
    session.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token(client, path: str = "/login") -> str:
    """The CSRF token of this browser session, read from a form as a browser would."""
    return csrf_token_in(client.get(path).get_data(as_text=True), path)


def csrf_token_in(page: str, where: str = "the page") -> str:
    """The CSRF token of the form on a page already fetched."""
    match = _CSRF.search(page)
    assert match, f"no CSRF token on {where}"
    return match.group(1) or match.group(2)


_GOES_ON = re.compile(r'<meta http-equiv="refresh" content="0; url=([^"]+)">')


def goes_on_to(response) -> str | None:
    """Where a page between a post and another site sends the browser on (sso/continue.html)."""
    match = _GOES_ON.search(response.get_data(as_text=True))
    return html.unescape(match.group(1)) if match else None


class Auth:
    """Sign in and out through the real forms."""

    def __init__(self, client):
        self.client = client

    def login(self, email: str, password: str = STRONG_PASSWORD, next: str | None = None, **kw):
        data = {"email": email, "password": password, "csrf_token": csrf_token(self.client)}
        if next:
            data["next"] = next
        return self.client.post("/login", data=data, **kw)

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": csrf_token(self.client, "/account")})

    def change_password(self, new: str, current: str | None = None):
        data = {"new_password": new, "csrf_token": csrf_token(self.client, "/password/change")}
        if current is not None:
            data["current_password"] = current
        return self.client.post("/password/change", data=data)


@pytest.fixture
def auth(client) -> Auth:
    return Auth(client)


@pytest.fixture
def signed_in_admin(db, auth, client):
    """An admin of a fresh organization, signed in through the form; returns their membership."""
    from tests.factories import MembershipFactory

    membership = MembershipFactory(admin=True)
    db.flush()
    assert auth.login(membership.user.email).status_code == 303
    return membership


def bearer(client) -> dict:
    """The Authorization header carrying this browser's session token (as an API client would)."""
    return {"Authorization": f"Bearer {client.get_cookie('idgate_session').value}"}


@pytest.fixture
def api(client, signed_in_admin):
    """The admin API of the signed-in admin's organization: `api.get("/users")` calls
    /api/v1/orgs/<slug>/users with the admin's bearer token (or the `headers` given)."""
    slug = signed_in_admin.org.slug

    class Api:
        headers = bearer(client)
        org = signed_in_admin.org
        me = signed_in_admin

        def __getattr__(self, method):
            def call(path, **kw):
                return getattr(client, method)(f"/api/v1/orgs/{slug}{path}", headers=kw.pop("headers", self.headers),
                                               **kw)
            return call
    return Api()


@contextmanager
def served_database(database_url: str, directory, name: str):
    """A database for a real `idgate serve` process (it commits for real, outside any test's
    transaction): a fresh PostgreSQL database named after `name`, or a SQLite file in `directory`."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{directory / 'served.db'}"
        return
    with fresh_postgres_database(database_url, f"idgate_{name}_{os.getpid()}") as url:
        yield url


@pytest.fixture
def served_database_url(database_url, tmp_path):
    with served_database(database_url, tmp_path, "served") as url:
        yield url


@pytest.fixture(scope="module")
def module_served_database_url(database_url, tmp_path_factory, request):
    """The same, for a module whose one `idgate serve` all its tests share."""
    name = request.module.__name__.rpartition(".")[2].removeprefix("test_")[:30]
    with served_database(database_url, tmp_path_factory.mktemp(f"{name}-db"), name) as url:
        yield url
