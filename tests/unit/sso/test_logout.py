"""Single logout: only a session that came through an IdP with a logout endpoint goes on to it."""

from __future__ import annotations

from gateway.actor import Actor
from gateway.sessions import services as sessions
from gateway.sso import logout
from gateway.sso.models import SamlConnection
from tests.factories import MembershipFactory


def _session(db, org, settings, clock, **sso):
    membership = MembershipFactory(org=org)
    db.flush()
    _, session = sessions.start(db, membership.user_id, org_id=org.id, amr="pwd", actor=Actor(),
                                settings=settings, now=clock.now(), **sso)
    return session


def test_an_sso_session_goes_on_to_the_idps_logout_endpoint(db, acme, idp, settings, clock):
    session = _session(db, acme, settings, clock, sso_org_id=acme.id, sso_name_id="ann@acme.example.com")

    url = logout.logout_redirect(db, session.id, settings=settings)

    assert url.startswith(idp.slo_url) and "SAMLRequest=" in url


def test_a_password_session_does_not(db, acme, settings, clock):
    assert logout.logout_redirect(db, _session(db, acme, settings, clock).id, settings=settings) is None


def test_nor_one_whose_organization_disconnected_its_idp(db, acme, settings, clock):
    session = _session(db, acme, settings, clock, sso_org_id=acme.id, sso_name_id="ann@acme.example.com")
    db.delete(db.query(SamlConnection).filter_by(org_id=acme.id).one())
    db.flush()

    assert logout.logout_redirect(db, session.id, settings=settings) is None
