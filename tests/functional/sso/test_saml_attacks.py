"""Hostile SAML answers: each is refused with a 4xx, never a 500, and nobody gets a session."""

from __future__ import annotations

import copy

import pytest
from lxml import etree
from sqlalchemy import select

from gateway import create_app, housekeeping
from gateway.accounts.models import User
from tests.conftest import FAST_HASH, bearer, csrf_token
from tests.factories import MembershipFactory, OrganizationFactory
from tests.functional.sso.conftest import Browser, b64, connect
from tests.helpers.idp import TestIdP

NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
      "ds": "http://www.w3.org/2000/09/xmldsig#"}
ACS = "http://127.0.0.1:5000/saml/acme/acs"
SP = "http://127.0.0.1:5000/saml/acme/metadata"


@pytest.fixture
def refused(browser, client):
    """Post an answer and check it was refused cleanly; returns the response."""
    def post(saml_response, relay_state, slug="acme", status=(400, 403, 413)):
        response = browser.post(saml_response, relay_state, slug)
        assert response.status_code in status, (response.status_code, response.get_data(as_text=True)[:500])
        assert client.get("/auth/verify").status_code == 401
        return response
    return post


def _xml(browser, request, **kw) -> etree._Element:
    return etree.fromstring(browser.idp.response_xml(
        sp_entity_id=request["sp_entity_id"], acs_url=request["acs_url"], in_response_to=request["id"],
        name_id=kw.pop("name_id", "ann@acme.example.com"),
        attributes=kw.pop("attributes", {"email": ["ann@acme.example.com"]}), **kw))


def _evil_copy(assertion, email="boss@acme.example.com", new_id=True):
    evil = copy.deepcopy(assertion)
    for sig in evil.findall("ds:Signature", NS):
        evil.remove(sig)
    if new_id:
        evil.set("ID", "_evil" + assertion.get("ID"))
    evil.find("saml:Subject/saml:NameID", NS).text = email
    for value in evil.iterfind(".//saml:AttributeValue", NS):
        value.text = email
    return evil


def _wrap_1(response, assertion):  # evil assertion before the signed one
    response.insert(list(response).index(assertion), _evil_copy(assertion))


def _wrap_2(response, assertion):  # signed one moved inside the evil one
    evil = _evil_copy(assertion)
    response.replace(assertion, evil)
    evil.append(assertion)


def _wrap_3(response, assertion):  # evil assertion keeps the original's ID and signature, original appended
    evil = _evil_copy(assertion, new_id=False)
    evil.insert(1, copy.deepcopy(assertion.find("ds:Signature", NS)))
    response.replace(assertion, evil)
    response.append(assertion)


def _wrap_4(response, assertion):  # original hidden in the evil one's Signature/Object
    evil = _evil_copy(assertion, new_id=False)
    signature = copy.deepcopy(assertion.find("ds:Signature", NS))
    obj = etree.SubElement(signature, f"{{{NS['ds']}}}Object")
    obj.append(assertion)
    evil.insert(1, signature)
    response.replace(assertion, evil) if assertion.getparent() is response else response.append(evil)


def _wrap_5(response, assertion):  # evil assertion in Extensions
    extensions = etree.Element(f"{{{NS['samlp']}}}Extensions")
    extensions.append(_evil_copy(assertion))
    response.insert(1, extensions)


def _wrap_6(response, assertion):  # evil content, original signature, nothing else (digest must fail)
    evil = _evil_copy(assertion, new_id=False)
    evil.insert(1, copy.deepcopy(assertion.find("ds:Signature", NS)))
    response.replace(assertion, evil)


def _wrap_7(response, assertion):  # original inside an unknown element, evil at the top
    holder = etree.SubElement(response, "{urn:evil}Holder")
    response.replace(assertion, _evil_copy(assertion, new_id=False))
    holder.append(assertion)


def _wrap_8(response, assertion):  # evil assertion wrapping the signed one as its Advice
    evil = _evil_copy(assertion)
    advice = etree.SubElement(evil, f"{{{NS['saml']}}}Advice")
    response.replace(assertion, evil)
    advice.append(assertion)


@pytest.mark.parametrize("wrap", [_wrap_1, _wrap_2, _wrap_3, _wrap_4, _wrap_5, _wrap_6, _wrap_7, _wrap_8],
                         ids=lambda f: "xsw" + f.__name__[-1])
def test_signature_wrapping_is_refused(acme, browser, refused, wrap):
    request = browser.start()
    response = _xml(browser, request)
    wrap(response, response.find("saml:Assertion", NS))
    refused(b64(etree.tostring(response)), request["relay_state"])


def test_a_removed_signature_is_refused(acme, browser, refused):
    request = browser.start()
    response = _xml(browser, request)
    for signature in response.iterfind(".//ds:Signature", NS):
        signature.getparent().remove(signature)
    assert refused(b64(etree.tostring(response)), request["relay_state"]).status_code == 400


def test_an_unsigned_assertion_inside_a_signed_response_is_refused(acme, browser, refused):
    request = browser.start()
    answer = browser.answer(request, sign_assertion=False, sign_response=True)
    refused(answer, request["relay_state"])


def test_a_certificate_smuggled_into_key_info_is_not_trusted(acme, browser, refused, tmp_path, idp):
    rogue = TestIdP(tmp_path, entity_id=idp.entity_id)  # same name, its own key, its cert in KeyInfo
    rogue.trust_sp(browser.client.get("/saml/acme/metadata").get_data(as_text=True))
    request = browser.start()
    refused(browser.answer(request, idp=rogue), request["relay_state"])


def test_a_comment_in_the_name_id_does_not_truncate_it(acme, browser, client, db):
    request = browser.start()
    crafted = "boss@acme.example.com.attacker.example"
    response = _xml(browser, request, name_id=crafted, attributes={"email": [crafted]})
    for node in [*response.iterfind(".//saml:NameID", NS), *response.iterfind(".//saml:AttributeValue", NS)]:
        node.text = "boss@acme.example.com"
        comment = etree.Comment("")
        comment.tail = ".attacker.example"
        node.append(comment)
    result = browser.post(b64(etree.tostring(response)), request["relay_state"])
    assert result.status_code in (303, 400, 403)
    verify = client.get("/auth/verify")
    assert verify.headers.get("X-Auth-Email") != "boss@acme.example.com"


def test_a_replayed_response_is_refused_here_and_on_another_instance(acme, browser, app, refused):
    request = browser.start()
    answer = browser.answer(request)
    assert browser.post(answer, request["relay_state"]).status_code == 303
    browser.client.delete_cookie("idgate_session")
    refused(answer, request["relay_state"])
    # A second gateway instance sharing the database refuses it too.
    settings = app.extensions["idgate.settings"]
    other = create_app({"DATABASE_URL": settings.database_url, "SECRET_KEY": "test-secret",
                        "CERTS_DIR": settings.certs_dir, "CLOCK": app.extensions["idgate.clock"], **FAST_HASH})
    other.extensions["idgate.sessionmaker"] = app.extensions["idgate.sessionmaker"]
    second = other.test_client().post("/saml/acme/acs", data={"SAMLResponse": answer})
    assert second.status_code == 400


def test_a_replay_after_housekeeping_forgot_the_assertion_is_still_refused(acme, browser, refused, app, db,
                                                                          client, idp, clock):
    # An IdP-initiated answer has no pending request to use up: the replay cache is its only guard
    # until it expires, and the time checks must take over once housekeeping forgets its ID.
    connect(db, client, idp, acme, clock, allow_idp_initiated=True)
    unsolicited = {"sp_entity_id": SP, "acs_url": ACS, "id": None}
    answer = browser.answer(unsolicited)
    assert browser.post(answer, None).status_code == 303
    browser.client.delete_cookie("idgate_session")
    refused(answer, None)  # remembered

    clock.advance(minutes=30)
    purged = housekeeping.run(app)
    assert purged.saml_assertions == 1
    assert b"expired" in refused(answer, None).data


def test_a_response_to_a_request_we_never_made_is_refused(acme, browser, refused):
    request = browser.start()
    forged = dict(request, id="_not_our_request")
    refused(browser.answer(forged), request["relay_state"])


# The pending request lives 10 minutes; the assertion 5, plus 2 minutes of allowed skew.
@pytest.mark.parametrize("shift", [{"minutes": 8}, {"minutes": -3}], ids=["expired", "not-yet-valid"])
def test_expired_and_not_yet_valid_answers_are_refused(acme, browser, refused, clock, shift):
    request = browser.start()
    answer = browser.answer(request)
    clock.advance(**shift)
    assert b"expired" in refused(answer, request["relay_state"]).data


@pytest.mark.parametrize("field, value", [
    ("sp_entity_id", "https://other-sp.example.com/metadata"),        # audience
    ("acs_url", ACS + "/elsewhere"),                                  # recipient and destination
    ("acs_url", "http://127.0.0.1:5000/saml/other/acs"),
])
def test_answers_made_for_someone_else_are_refused(acme, browser, refused, field, value):
    request = browser.start()
    refused(browser.answer(dict(request, **{field: value})), request["relay_state"])


def test_a_recipient_that_merely_contains_our_acs_is_refused(acme, browser, refused):
    request = browser.start()
    response = _xml(browser, request)
    assertion = response.find("saml:Assertion", NS)
    assertion.remove(assertion.find("ds:Signature", NS))
    data = assertion.find(".//saml:SubjectConfirmationData", NS)
    data.set("Recipient", ACS + "?also=https://evil.example/acs")
    signed = browser.idp.sign_xml(etree.tostring(response), assertion.get("ID"))
    refused(b64(signed), request["relay_state"])


def test_an_attribute_named_twice_is_refused_not_a_500(acme, browser, refused):
    request = browser.start()
    response = _xml(browser, request)
    assertion = response.find("saml:Assertion", NS)
    attribute = assertion.find(".//saml:Attribute", NS)
    attribute.addnext(copy.deepcopy(attribute))
    signed = browser.idp.sign_xml(etree.tostring(response), assertion.get("ID"))
    refused(b64(signed), request["relay_state"])


def test_a_destination_that_is_not_exactly_ours_is_refused(acme, browser, refused):
    request = browser.start()
    response = _xml(browser, request)
    response.set("Destination", ACS + "/../acs")
    refused(b64(etree.tostring(response)), request["relay_state"])


def test_another_idps_answer_is_refused(acme, browser, refused, other_idp):
    other_idp.trust_sp(browser.client.get("/saml/acme/metadata").get_data(as_text=True))
    request = browser.start()
    refused(browser.answer(request, idp=other_idp), request["relay_state"])


def test_organization_a_idps_answer_posted_to_organization_b_is_refused(acme, db, client, clock, other_idp,
                                                                         browser, refused):
    beta = OrganizationFactory(slug="beta")
    db.flush()
    connect(db, client, other_idp, beta, clock, email_domains=["beta.example.com"])
    beta_request = Browser(client, other_idp).start("beta")
    acme_request = browser.start()
    answer = browser.answer(acme_request)  # made by acme's IdP for acme
    refused(answer, beta_request["relay_state"], slug="beta")


@pytest.mark.parametrize("xml", [
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><samlp:Response '
    b'xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&x;</samlp:Response>',
    b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>',
    b"<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'><unclosed>",
    b"plain text, not xml",
])
def test_dtds_entities_and_malformed_xml_get_a_clear_400(acme, browser, refused, xml):
    request = browser.start()
    assert refused(b64(xml), request["relay_state"]).status_code == 400


@pytest.mark.parametrize("value", ["%%% not base64 %%%", "", "QUJD" * 70000], ids=["not-base64", "empty", "oversized"])
def test_garbage_and_oversized_input_is_refused(acme, browser, refused, value):
    request = browser.start()
    refused(value, request["relay_state"])


def test_an_acs_post_without_a_response_is_refused(acme, client):
    assert client.post("/saml/acme/acs", data={"RelayState": "x"}).status_code == 400
    assert client.post("/saml/nobody/acs", data={"SAMLResponse": "x"}).status_code == 404


@pytest.mark.parametrize("instant", ["2026-01-01T24:00:00Z", "12026-01-01T00:00:00Z"])
def test_a_response_time_that_cannot_be_read_gets_a_clear_400(acme, browser, refused, instant):
    # Valid xs:dateTime, not a time Python reads; the Response's own IssueInstant is outside the signature.
    request = browser.start()
    response = _xml(browser, request)
    response.set("IssueInstant", instant)
    assert refused(b64(etree.tostring(response)), request["relay_state"]).status_code == 400


# -- another organization's admin, with an IdP of their own ---------------------------------------

@pytest.fixture(scope="module")
def copycat_idp(tmp_path_factory) -> TestIdP:
    """An IdP claiming acme's entity ID, with a key of its own: anyone can upload such metadata."""
    return TestIdP(tmp_path_factory.mktemp("copycat"))


@pytest.fixture
def evil(db, client, clock):
    """Another organization, whose admin connects IdPs of their choosing."""
    org = OrganizationFactory(slug="evil", name="Evil")
    MembershipFactory(org=org, admin=True, user__email="boss@evil.example.net")
    db.flush()
    return org


def _signed_in(browser) -> bool:
    return browser.client.get("/auth/verify").status_code == 200


def test_copying_our_idps_entity_id_signs_in_none_of_our_people(acme, evil, browser, app, db, client, clock,
                                                                idp, copycat_idp):
    assert browser.sign_in().status_code == 303  # ann, linked to acme's IdP
    assert copycat_idp.entity_id == idp.entity_id
    connect(db, client, copycat_idp, evil, clock, email_domains=[])
    attacker = Browser(app.test_client(), copycat_idp)

    response = attacker.sign_in("evil")  # "I am ann", signed with the copycat's key

    assert response.status_code == 403
    assert not _signed_in(attacker)


def _switch(browser, slug):
    return browser.client.post("/account/switch", data={"csrf_token": csrf_token(browser.client, "/account"),
                                                        "org": slug})


def test_an_idp_session_stays_in_its_organization(evil, app, db, client, clock, other_idp):
    # Evil invited someone from victim.example.com, then declared that domain for its own IdP:
    # it may sign them in to Evil, and nowhere else they belong.
    home = OrganizationFactory(slug="home")
    victim = MembershipFactory(org=home, admin=True, user__email="vic@victim.example.com").user
    MembershipFactory(org=evil, user=victim)
    db.flush()
    connect(db, client, other_idp, evil, clock, email_domains=["victim.example.com"])
    attacker = Browser(app.test_client(), other_idp)
    assert attacker.sign_in("evil", name_id="vic@victim.example.com").status_code == 303

    refused = _switch(attacker, "home")

    assert refused.status_code == 403 and b"vouches for that organization only" in refused.data
    assert attacker.client.get("/auth/verify?org=home").status_code == 403
    assert attacker.client.get("/auth/verify").headers["X-Auth-Org"] == "evil"
    assert attacker.client.get("/api/v1/orgs/home/users", headers=bearer(attacker.client)).status_code == 404


def test_a_link_made_before_joining_another_organization_opens_only_its_own(acme, browser, app, db):
    assert browser.sign_in().status_code == 303  # ann, linked to acme's IdP
    ann = db.scalar(select(User).where(User.email == "ann@acme.example.com"))
    MembershipFactory(org=OrganizationFactory(slug="later"), user=ann, admin=True)  # joins elsewhere later
    db.flush()
    again = Browser(app.test_client(), browser.idp)
    assert again.sign_in().status_code == 303
    assert _switch(again, "later").status_code == 403


def test_an_idp_cannot_enroll_an_address_outside_its_declared_domains(acme, browser, db):
    response = browser.sign_in(name_id="ceo@other.example.com")

    assert response.status_code == 403 and b"does not answer for that email" in response.data
    assert not _signed_in(browser)
    assert db.scalar(select(User).where(User.email == "ceo@other.example.com")) is None


def test_a_signed_session_index_too_long_to_keep_is_refused(acme, browser, refused):
    # Single logout names it again, so it is stored: past the column's 256 characters it is a 400.
    request = browser.start()
    answer = browser.answer(request, session_index="s" * 300)
    assert b"SessionIndex" in refused(answer, request["relay_state"]).data


# -- login CSRF: an answer for someone's own account, posted from another person's browser ---------

@pytest.mark.settings(base_url="https://id.example.com")
class TestBoundToTheStartingBrowser:
    """On https a key of the starting browser travels with the IdP's POST (SameSite=None; Secure)."""

    def test_the_browser_that_started_the_sign_in_finishes_it(self, acme, browser):
        assert browser.sign_in().status_code == 303

    def test_the_key_cookie_travels_cross_site_and_no_other_host_can_set_it(self, acme, client):
        cookie = client.get("/saml/acme/login").headers["Set-Cookie"]
        assert cookie.startswith("__Host-idgate_sso=") and "Path=/" in cookie and "Domain" not in cookie
        assert all(flag in cookie for flag in ("Secure", "HttpOnly", "SameSite=None"))

    def test_an_answer_posted_from_another_browser_is_refused(self, acme, browser, app, idp, db):
        request = browser.start()  # the attacker's own sign-in
        answer = browser.answer(request, name_id="mallory@acme.example.com")
        victim = Browser(app.test_client(), idp)

        response = victim.post(answer, request["relay_state"])

        assert response.status_code == 400 and b"started in another browser" in response.data
        assert victim.client.get("/auth/verify").status_code == 401
        assert db.scalar(select(User).where(User.email == "mallory@acme.example.com")) is None

    def test_a_relay_state_with_its_tag_changed_is_refused(self, acme, browser):
        request = browser.start()
        nonce, _, tag = request["relay_state"].partition(".")
        forged = f"{nonce}.{'0' * len(tag)}"
        response = browser.post(browser.answer(request), forged)
        assert response.status_code == 400


def test_a_domain_declared_in_unicode_is_held_in_the_form_emails_carry(evil, db, client, clock, idp, other_idp, app):
    # Declared as typed (bücher.example), emails normalize to xn--bcher-kva.example: both must be one domain.
    owner = OrganizationFactory(slug="owner")
    db.flush()
    connect(db, client, idp, owner, clock, email_domains=["bücher.example"])
    connect(db, client, other_idp, evil, clock, email_domains=[])
    squatter = Browser(app.test_client(), other_idp)
    assert squatter.sign_in("evil", name_id="ceo@bücher.example").status_code == 403  # foreign_domain
    assert Browser(app.test_client(), idp).sign_in("owner", name_id="ann@bücher.example").status_code == 303
