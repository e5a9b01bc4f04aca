"""/auth/verify with registered applications: the app is found from the original URL, its rule
admits or refuses the member, and the answer is the same from memory as from the database.

The organization of docs/apps.md: Grafana for admins and the "ops" group, a wiki for everyone,
an admin tool that needs a second factor.
"""

from __future__ import annotations

import itertools

import jwt as pyjwt
import pytest
from werkzeug.test import Client

from gateway.actor import Actor
from gateway.apps import services as apps
from gateway.groups import services as groups
from gateway.orgs import lifecycle
from gateway.orgs.access import AdminScope
from gateway.sessions import services as sessions
from gateway.sessions.cache import cache_of
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

GRAFANA = "https://grafana.example.com/d/abc?orgId=1"
WIKI = "https://example.com/wiki/Home"
ADMIN_TOOL = "https://admin.example.com/"


@pytest.fixture
def acme(app, db, clock):
    org = OrganizationFactory(slug="acme", name="Acme")
    admin = MembershipFactory(org=org, admin=True)
    db.flush()
    scope = AdminScope(org.id, org.slug, org.name, Actor(user_id=admin.user_id))
    ops = groups.create_group(db, scope, "ops", now=clock.now())
    apps.create_app(db, scope, name="Grafana", routes=["grafana.example.com"], access="listed", roles_=["admin"],
                    groups_=["ops"], now=clock.now())
    apps.create_app(db, scope, name="Wiki", routes=["example.com/wiki"], now=clock.now())
    apps.create_app(db, scope, name="Admin tool", routes=["admin.example.com"], access="listed", roles_=["admin"],
                    requires_mfa=True, now=clock.now())
    db.commit()
    return {"org": org, "scope": scope, "admin": admin, "ops": ops}


@pytest.fixture
def start(app, db, clock):
    settings = app.extensions["idgate.settings"]

    def start(membership, amr="pwd"):
        token, _ = sessions.start(db, membership.user_id, org_id=membership.org_id, amr=amr, actor=Actor(),
                                  settings=settings, now=clock.now())
        db.commit()
        return token

    return start


def verify(app, token, url, query=""):
    headers = {"X-Original-URL": url} if url else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return Client(app.wsgi_app).get(f"/auth/verify?{query}", headers=headers)


def test_grafana_admits_admins_and_the_ops_group_and_refuses_other_members(app, db, acme, start, clock):
    in_ops = MembershipFactory(org=acme["org"])
    plain = MembershipFactory(org=acme["org"])
    db.flush()
    groups.add_member(db, acme["scope"], acme["ops"].id, in_ops.user_id, now=clock.now())
    db.commit()

    assert verify(app, start(acme["admin"]), GRAFANA).status_code == 200
    answer = verify(app, start(in_ops), GRAFANA)
    assert answer.status_code == 200 and answer.headers["X-Auth-Groups"] == "ops"
    refused = verify(app, start(plain), GRAFANA)
    assert refused.status_code == 403
    assert b"Grafana is open to" in refused.data


def test_the_wiki_is_for_everyone_and_the_rest_of_its_host_for_nobody(app, db, acme, start):
    token = start(MembershipFactory(org=acme["org"]))

    assert verify(app, token, WIKI).status_code == 200
    assert verify(app, token, "https://example.com/wiki").status_code == 200
    assert verify(app, token, "https://example.com/wikipedia").status_code == 403
    assert verify(app, token, "https://example.com/").status_code == 403


@pytest.mark.settings(allowed_redirect_hosts="admin.example.com")
def test_an_app_that_needs_a_second_factor_steps_up_a_password_only_session(app, acme, start):
    password_only = verify(app, start(acme["admin"]), ADMIN_TOOL)
    assert password_only.status_code == 401
    assert password_only.headers["X-Auth-Redirect"].endswith("/login/verify?next=https%3A%2F%2Fadmin.example.com%2F")
    assert verify(app, start(acme["admin"], amr="pwd otp mfa"), ADMIN_TOOL).status_code == 200


def test_in_browser_mode_a_refused_member_reads_which_app_and_whom_to_ask(app, db, acme, start):
    refused = verify(app, start(MembershipFactory(org=acme["org"])), GRAFANA, "redirect=1")
    assert refused.status_code == 403 and refused.mimetype == "text/html"
    page = refused.get_data(as_text=True)
    assert "Grafana" in page and "Ask an admin of Acme" in page


def test_a_member_of_another_organization_is_refused_and_told_where_the_app_belongs(app, db, acme, start):
    other = MembershipFactory(org=OrganizationFactory(slug="globex", name="Globex"), admin=True)
    refused = verify(app, start(other), WIKI, "redirect=1")
    assert refused.status_code == 403
    assert "Wiki belongs to Acme" in refused.get_data(as_text=True)


@pytest.mark.settings(allowed_redirect_hosts="grafana.example.com")
def test_without_a_session_a_registered_app_still_asks_for_a_sign_in(app, acme):
    answer = verify(app, None, GRAFANA)
    assert answer.status_code == 401 and "next=https%3A%2F%2Fgrafana.example.com" in answer.headers["X-Auth-Redirect"]


def test_hosts_no_app_claims_pass_unless_the_operator_denies_them(app, acme, start):
    token = start(acme["admin"])
    assert verify(app, token, "https://elsewhere.example.com/").status_code == 200
    assert verify(app, token, None).status_code == 200


@pytest.mark.settings(unregistered_hosts="deny")
def test_with_unregistered_hosts_denied_only_registered_apps_pass(app, acme, start):
    token = start(acme["admin"])
    assert verify(app, token, "https://elsewhere.example.com/").status_code == 403
    assert verify(app, token, None).status_code == 403  # no URL at all: nothing to match
    assert verify(app, None, "https://elsewhere.example.com/").status_code == 403  # no sign-in for nothing
    assert verify(app, token, WIKI).status_code == 200


# What a hostile or sloppy proxy hands us: matched as the app would see it, or denied. Never a 500.
HOSTILE = [
    ("https://GRAFANA.Example.COM/d", "grafana"),
    ("https://grafana.example.com./d", "grafana"),
    ("https://grafana.example.com:443/d", "grafana"),
    ("HTTPS://grafana.example.com/", "grafana"),
    ("https://grafana.example.com:8443/", "unregistered"),  # another port is another host
    ("https://grafana.example.com@evil.example/", "denied"),
    ("https://evil.example@grafana.example.com/", "denied"),
    ("https://grafana.example.com../", "denied"),
    ("https://example.com/wiki/../admin", "nothing here"),
    ("https://example.com/wiki/%2e%2e/admin", "nothing here"),
    ("https://example.com/wiki/%2E%2e/Home", "nothing here"),
    ("https://example.com/%77iki/Home", "wiki"),
    ("https://example.com//wiki/Home", "wiki"),
    ("https://example.com/./wiki/Home", "wiki"),
    ("https://example.com/wiki/%252e%252e/", "denied"),
    ("https://example.com/wiki;jsessionid=1/Home", "denied"),
    ("https://example.com/wiki/..;/admin", "denied"),
    ("https://example.com/wiki\\..\\admin", "denied"),
    ("https://example.com/wiki/%00", "denied"),
    ("https://example.com/../../wiki", "denied"),
    ("https://grafana.example.com/, https://example.com/wiki", "denied"),  # two headers joined
    ("https://gr\u0430fana.example.com/", "look-alike"),  # a Cyrillic а: another host, or refused
    ("https://xn--grfana-2ve.example.com/", "unregistered"),
    ("not a url", "denied"),
    ("https://", "denied"),
    ("ftp://grafana.example.com/", "denied"),
    ("//grafana.example.com/", "denied"),
    ("https://grafana.example.com:99999/", "denied"),
    ("https://[::1/", "denied"),
    ("", "unregistered"),
]


@pytest.mark.parametrize(("url", "expected"), HOSTILE)
def test_hostile_original_urls_are_matched_as_the_app_sees_them_or_denied(app, db, acme, start, url, expected):
    token = start(MembershipFactory(org=acme["org"]))  # reaches the wiki, not Grafana
    answer = verify(app, token, url.encode("utf-8").decode("latin-1"))
    status = {"grafana": 403, "wiki": 200, "nothing here": 403, "denied": 403, "unregistered": 200,
              "look-alike": (200, 403)}[expected]
    assert answer.status_code in (status if isinstance(status, tuple) else (status,)), answer.data


def test_the_forwarded_headers_name_the_app_too(app, db, acme, start):
    token = start(MembershipFactory(org=acme["org"]))
    answer = Client(app.wsgi_app).get("/auth/verify", headers={
        "Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "GRAFANA.example.com",
        "X-Forwarded-Uri": "/d/abc"})
    assert answer.status_code == 403
    doubled = Client(app.wsgi_app).get("/auth/verify", headers={
        "Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "example.com, grafana.example.com", "X-Forwarded-Uri": "/wiki"})
    assert doubled.status_code == 403


def test_the_fast_path_and_the_view_answer_alike_for_every_app(app, db, acme, start):
    in_ops = MembershipFactory(org=acme["org"])
    db.flush()
    groups.add_member(db, acme["scope"], acme["ops"].id, in_ops.user_id, now=acme["org"].created_at)
    db.commit()
    tokens = [start(acme["admin"]), start(in_ops), start(MembershipFactory(org=acme["org"])), None]
    cache = cache_of(app)
    for token, (url, _), query in itertools.product(tokens, HOSTILE, ["", "redirect=1"]):
        cache.forget()
        by_view = _answer(app.wsgi_app.next, token, url, query)
        by_fast_path = _answer(app.wsgi_app, token, url, query)
        assert by_fast_path == by_view, (url, query)


def _answer(wsgi, token, url, query):
    headers = {"X-Original-URL": url.encode("utf-8").decode("latin-1")} if url else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = Client(wsgi).get(f"/auth/verify?{query}", headers=headers)
    return response.status, sorted((k, v) for k, v in response.headers.items() if k != "X-Request-Id"), response.data


def test_joining_a_group_opens_the_app_at_once_even_from_a_cached_session(app, db, acme, start, clock):
    plain = MembershipFactory(org=acme["org"])
    db.commit()
    token = start(plain)
    assert verify(app, token, GRAFANA).status_code == 403
    assert verify(app, token, GRAFANA).status_code == 403  # now answered from memory

    groups.add_member(db, acme["scope"], acme["ops"].id, plain.user_id, now=clock.now())
    db.commit()
    assert verify(app, token, GRAFANA).status_code == 200

    groups.remove_member(db, acme["scope"], acme["ops"].id, plain.user_id, now=clock.now())
    db.commit()
    assert verify(app, token, GRAFANA).status_code == 403


def test_changing_an_apps_rule_or_registering_a_host_takes_effect_at_once(app, db, acme, start, clock):
    token = start(MembershipFactory(org=acme["org"]))
    assert verify(app, token, GRAFANA).status_code == 403
    grafana = next(a for a in apps.list_apps(db, acme["org"].id) if a.name == "Grafana")
    apps.update_app(db, acme["scope"], grafana.id, access="everyone", now=clock.now())
    db.commit()
    assert verify(app, token, GRAFANA).status_code == 200

    assert verify(app, token, "https://new.example.com/").status_code == 200  # unregistered
    apps.create_app(db, acme["scope"], name="New", routes=["new.example.com"], access="listed", roles_=["admin"],
                    now=clock.now())
    db.commit()
    assert verify(app, token, "https://new.example.com/").status_code == 403


def test_apps_receive_groups_in_the_header_and_the_token(app, db, acme, start, clock):
    member = MembershipFactory(org=acme["org"], user=UserFactory(name="Ops Person"))
    db.flush()
    groups.create_group(db, acme["scope"], "oncall", now=clock.now())
    for name in ("ops", "oncall"):
        group = next(g for g in groups.list_groups(db, acme["org"].id) if g.name == name)
        groups.add_member(db, acme["scope"], group.id, member.user_id, now=clock.now())
    db.commit()
    answer = verify(app, start(member), GRAFANA)
    assert answer.headers["X-Auth-Groups"] == "oncall,ops"
    claims = pyjwt.decode(answer.headers["X-Auth-Token"], options={"verify_signature": False})
    assert claims["groups"] == ["oncall", "ops"]


def test_an_original_url_that_the_forwarded_headers_contradict_is_refused(app, db, acme, start):
    # Caddy and Traefik set X-Forwarded-* and pass a client's own X-Original-URL along.
    token = start(MembershipFactory(org=acme["org"]))
    answer = Client(app.wsgi_app).get("/auth/verify", headers={
        "Authorization": f"Bearer {token}", "X-Original-URL": WIKI, "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "grafana.example.com", "X-Forwarded-Uri": "/d/abc"})
    assert answer.status_code == 403
    agreeing = Client(app.wsgi_app).get("/auth/verify", headers={
        "Authorization": f"Bearer {token}", "X-Original-URL": WIKI, "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "Example.com", "X-Forwarded-Uri": "/wiki/Home"})
    assert agreeing.status_code == 200


def test_a_session_asking_again_for_each_address_gets_that_addresss_answer(app, db, acme, start):
    # From the second question on, the fast path gives the answer it gave (gateway.sessions.fast_verify.Answers).
    token = start(MembershipFactory(org=acme["org"]))
    for _ in range(3):
        assert verify(app, token, WIKI).status_code == 200
        assert verify(app, token, GRAFANA).status_code == 403
        assert verify(app, token, GRAFANA, "org=other").status_code == 403
        assert verify(app, token, WIKI, "role=admin").status_code == 403
        assert verify(app, token, "https://example.com/elsewhere").status_code == 403


def test_an_answer_given_again_carries_a_new_token_once_the_old_one_is_a_third_from_its_end(app, acme, start, clock):
    token = start(acme["admin"])
    first = [verify(app, token, GRAFANA).headers["X-Auth-Token"] for _ in range(3)]
    assert first[0] == first[1] == first[2]
    clock.advance(minutes=3, seconds=21)  # five minutes' life: reused while more than 100 s are left
    again = verify(app, token, GRAFANA).headers["X-Auth-Token"]
    assert again != first[0]
    claims = pyjwt.decode(again, options={"verify_signature": False})
    assert claims["exp"] == int(clock.now().timestamp()) + 300


def test_a_role_change_reaches_the_very_next_answer_to_a_question_asked_before(app, db, acme, start, clock):
    member = MembershipFactory(org=acme["org"])
    db.commit()
    token = start(member)
    for _ in range(3):
        assert verify(app, token, GRAFANA).status_code == 403
    lifecycle.change_role(db, acme["scope"], member.user_id, "admin", now=clock.now())
    db.commit()
    for _ in range(3):
        answer = verify(app, token, GRAFANA)
        assert answer.status_code == 200 and answer.headers["X-Auth-Role"] == "admin"


def test_an_answer_is_never_older_than_the_session_read_it_was_given_to(app, db, acme, start):
    # A change whose notice was lost (written behind the channel's back) shows once the session is
    # read again (its TTL: forget()), though nothing told the workers; the answer follows the read.
    member = MembershipFactory(org=acme["org"])
    db.commit()
    token = start(member)
    for _ in range(3):
        assert verify(app, token, GRAFANA).status_code == 403
    cursor = db.connection().connection.dbapi_connection.cursor()  # below SQLAlchemy: no notice
    cursor.execute(f"UPDATE memberships SET role = (SELECT role FROM memberships WHERE id = {acme['admin'].id}) "
                   f"WHERE id = {member.id}")
    db.commit()
    cache_of(app).forget()
    for _ in range(3):
        assert verify(app, token, GRAFANA).status_code == 200
