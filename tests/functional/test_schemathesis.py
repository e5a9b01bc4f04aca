"""schemathesis, every check, over the OpenAPI document a real `idgate serve` publishes, against that
gateway holding real data: an organization with an admin and members, invitations, a SAML connection,
an OpenID Connect IdP (oidc-provider-mock, which PUT /oidc may connect again), custom roles, groups,
applications and OpenID Connect clients.

The document is written from the same declarations the API checks its requests against and
serializes its answers through (gateway.api.schemas), so what schemathesis finds is a real
mismatch between what the API says and what it does. The run is bounded (examples per operation,
steps of the stateful phase, a fixed seed) so that it is the same run every time.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.helpers.idp import TestIdP
from tests.helpers.processes import clean_env, free_port, idgate, start_idgate_serve, stop
from tests.helpers.smtp import SmtpServer

pytestmark = pytest.mark.slow
NEW_PASSWORD = "walnut harbor lantern 2046 quietly"
SEED = 20460
MAX_EXAMPLES = 25
HOOKS = Path(__file__).parents[1] / "helpers" / "schemathesis_hooks.py"  # loaded by schemathesis, not here


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def _full_session(base: str, email: str, temporary: str) -> str:
    """Sign in through the pages with the temporary password and choose a new one: a full session's token."""
    with requests.Session() as browser:
        browser.post(f"{base}/login", data={"csrf_token": _csrf(browser.get(f"{base}/login").text),
                                            "email": email, "password": temporary})
        form = browser.get(f"{base}/password/change")
        browser.post(f"{base}/password/change", data={"csrf_token": _csrf(form.text), "new_password": NEW_PASSWORD})
        assert browser.get(f"{base}/auth/verify").status_code == 200
        return browser.cookies["idgate_session"]


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def oidc_issuer():
    """An OpenID Connect IdP the served gateway can read the discovery document of."""
    # Imported here, where the run's warning filters apply (imported at collection, the deprecated
    # authlib modules it imports are reported).
    oidc_provider_mock = pytest.importorskip("oidc_provider_mock")
    with oidc_provider_mock.run_server_in_thread() as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def gateway(served_database_url, tmp_path, smtp, oidc_issuer):
    """`idgate serve` with organization `acme`: its admin (whose token the run uses), another admin,
    members (one deactivated, one with a custom role), pending invitations, a SAML connection, an
    OpenID Connect IdP, roles, groups, applications and OpenID Connect clients, and mail to send the
    invitations with."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(
        IDGATE_DATABASE_URL=served_database_url, IDGATE_INSTANCE_PATH=str(tmp_path / "instance"),
        IDGATE_CERTS_DIR=str(tmp_path / "certs"), IDGATE_BASE_URL=base, IDGATE_SMTP_URL=smtp.url,
        IDGATE_ARGON2_TIME_COST="1", IDGATE_ARGON2_MEMORY_COST="1024", IDGATE_ARGON2_PARALLELISM="1",
    )
    idgate("init", env=env, cwd=tmp_path)
    created = idgate("org", "create", "acme", "--name", "Acme", "--admin-email", "ops@acme.example",
                     "--admin-name", "Olga Ops", env=env, cwd=tmp_path).stdout
    temporary = re.search(r"\(shown once\): (\S+)", created).group(1)
    metadata = TestIdP(tmp_path / "idp").metadata_xml()
    (tmp_path / "idp.xml").write_text(metadata)
    idgate("saml", "configure", "acme", "--idp-metadata", str(tmp_path / "idp.xml"), "--email-domain",
           "sso.acme.example", "--admin-group", "idgate-admins", env=env, cwd=tmp_path)
    server = start_idgate_serve(env=env, cwd=tmp_path, port=port, workers=1)
    try:
        token = _full_session(base, "ops@acme.example", temporary)
        yield {"base": base, "token": token, "metadata": metadata, "issuer": oidc_issuer, "cwd": tmp_path,
               **_seed(f"{base}/api/v1/orgs/acme", token, smtp, oidc_issuer)}
    finally:
        print(stop(server)[-3000:])


def _seed(acme: str, token: str, smtp: SmtpServer, oidc_issuer: str) -> dict:
    """Members (another admin; one member deactivated; one with a custom role), invitations (mailed),
    the OpenID Connect IdP (with the SAML connection's domains), roles, groups with members,
    applications with rules naming them and OpenID Connect clients (one confidential, one public),
    through the API."""
    with requests.Session() as api:
        api.headers["Authorization"] = f"Bearer {token}"
        roles = [api.post(f"{acme}/roles", json={"name": name}).json()["role"]["name"] for name in ("editor", "ops")]
        members = [api.post(f"{acme}/users", json=person).json()["user"] for person in (
            {"name": "Grace Hopper", "email": "grace@acme.example", "role": "admin"},
            {"name": "Alan Turing", "email": "alan@acme.example"},
            {"name": "Edsger Dijkstra", "email": "edsger@acme.example"},
            {"name": "Frances Allen", "email": "frances@acme.example", "role": "editor"})]
        assert api.post(f"{acme}/users/{members[2]['id']}/deactivate").status_code == 200
        invitations = [api.post(f"{acme}/invitations", json={"email": email, "send_email": True}).json()
                       for email in ("ada@acme.example", "barbara@acme.example")]
        assert len(smtp.wait_for(2)) == 2
        assert api.get(f"{acme}/saml").json()["connection"]["email_domains"] == ["sso.acme.example"]
        assert api.put(f"{acme}/oidc", json={"issuer": oidc_issuer, "client_id": "idgate", "client_secret": "s3cret",
                                             "email_domains": ["sso.acme.example"]}).status_code == 200
        groups = [api.post(f"{acme}/groups", json=group).json()["group"]["id"] for group in (
            {"name": "sre", "description": "On call"}, {"name": "idgate-admins", "sso_name": "idgate-admins"})]
        for member in members[1:3]:
            assert api.post(f"{acme}/groups/{groups[0]}/members", json={"user_id": member["id"]}).status_code == 200
        apps = [api.post(f"{acme}/apps", json=app).json()["app"]["id"] for app in (
            {"name": "Wiki", "routes": ["wiki.acme.example", "acme.example/wiki"]},
            {"name": "Grafana", "routes": ["grafana.acme.example"], "access": "listed", "roles": ["editor"],
             "groups": ["sre"], "requires_mfa": True})]
        oidc_clients = [api.post(f"{acme}/oidc-clients", json=client).json()["oidc_client"]["id"] for client in (
            {"name": "Grafana OIDC", "redirect_uris": ["https://grafana.acme.example/login/generic_oauth"],
             "backchannel_logout_uri": "https://grafana.acme.example/backchannel"},
            {"name": "Dashboard", "redirect_uris": ["http://127.0.0.1:8765/cb"], "public": True})]
        me = api.get(f"{acme}/users", params={"q": "ops@"}).json()["users"][0]["id"]
    return {"me": me, "members": [m["id"] for m in members],
            "invitations": [i["invitation"]["id"] for i in invitations], "roles": roles, "groups": groups,
            "apps": apps, "oidc_clients": oidc_clients}


def _config(gateway) -> str:
    """schemathesis.toml for the run: the session token, the organization, and half the time real
    ids, the SAML IdP's metadata and the OpenID Connect IdP's issuer (the other half, whatever
    schemathesis draws)."""
    return f"""
seed = {SEED}
[generation]
max-examples = {MAX_EXAMPLES}
database = "none"
[phases.stateful]
max-steps = 20
[auth.openapi.session]
bearer = "{gateway["token"]}"
[parameters]
slug = "acme"
"path.user_id" = {{ dictionary = "members", probability = 0.5 }}
"path.invitation_id" = {{ dictionary = "invitations", probability = 0.5 }}
"path.app_id" = {{ dictionary = "apps", probability = 0.5 }}
"path.group_id" = {{ dictionary = "groups", probability = 0.5 }}
"path.role_name" = {{ dictionary = "roles", probability = 0.5 }}
"path.oidc_client_id" = {{ dictionary = "oidc_clients", probability = 0.5 }}
"body.metadata_xml" = {{ dictionary = "metadata", probability = 0.5 }}
"body.issuer" = {{ dictionary = "issuers", probability = 0.5 }}
[dictionaries.members]
values = {json.dumps(gateway["members"])}
[dictionaries.invitations]
values = {json.dumps(gateway["invitations"])}
[dictionaries.apps]
values = {json.dumps(gateway["apps"])}
[dictionaries.groups]
values = {json.dumps(gateway["groups"])}
[dictionaries.roles]
values = {json.dumps(gateway["roles"])}
[dictionaries.oidc_clients]
values = {json.dumps(gateway["oidc_clients"])}
[dictionaries.metadata]
values = [{json.dumps(gateway["metadata"])}]
[dictionaries.issuers]
values = [{json.dumps(gateway["issuer"])}]

# Which text is an IdP's SAML metadata no JSON Schema can say (the service does: 400
# invalid_metadata), so a drawn body is refused, however well-formed. Half the bodies carry the
# test IdP's metadata, which is taken (and then the rest of the body is checked).
[[operations]]
include-path = "/orgs/{{slug}}/saml"
include-method = "PUT"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409"]

# Nor which URL is an OpenID Connect IdP's: the service reads its discovery document (400
# idp_unreachable, bad_discovery), bounded by a short timeout. Half the bodies name the test IdP.
[[operations]]
include-path = "/orgs/{{slug}}/oidc"
include-method = "PUT"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409"]

# Which roles and groups an organization has is its data, not the document's: a role name of the
# right shape that names none of its roles is refused (400 `unknown_role`, `unknown_group`). So is a
# route no pattern can tell from a host (`00` is no canonical IPv4 address: 400 `invalid_route`).
# Nor who its members are: a user id of the right shape that names none is 400 `unknown_member`.
# Nor can a pattern say which hosts are loopback ones (plain http is for those only), whether a port
# is one, or that an authority names no user: a client's URI of the right shape is 400 `invalid_uri`.
[[operations]]
include-operation-id = ["create_user", "update_user", "create_app", "update_app", "add_group_member",
                        "create_group", "update_group", "create_oidc_client", "update_oidc_client"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409"]
"""


def test_schemathesis_finds_nothing_over_the_served_document(gateway):
    config = gateway["cwd"] / "schemathesis.toml"
    config.write_text(_config(gateway))
    run = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color", "run",
         f"{gateway['base']}/api/v1/openapi.json", "--checks", "all", "--workers", "1", "--request-timeout", "10"],
        cwd=gateway["cwd"], capture_output=True, text=True, timeout=110,
        env=clean_env(SCHEMATHESIS_HOOKS=str(HOOKS), IDGATE_SCHEMATHESIS_OWN_USER_ID=str(gateway["me"])),
    )
    assert run.returncode == 0, run.stdout[-30000:] + run.stderr[-5000:]
    phases = run.stdout[run.stdout.index("Test Phases:"):]
    assert all(f"✅ {phase}" in phases for phase in ("Coverage", "Fuzzing", "Stateful")), phases
