"""The pysaml2 test IdP (tests/helpers/idp.py) against python3-saml, without our SP.

The SP here is python3-saml driven directly with hand-written metadata and settings: if
these pass, messages from the helper are acceptable to a strict python3-saml SP, and the
helper understands what a python3-saml SP sends it.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, urlsplit

import pytest
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from tests.helpers.idp import EMAIL, TestIdP, make_keypair

SP_BASE = "http://127.0.0.1:5000/saml/acme"
SP_ENTITY_ID = f"{SP_BASE}/metadata"
ACS_URL = f"{SP_BASE}/acs"
SLS_URL = f"{SP_BASE}/sls"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
NS = {
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
}
ATTRIBUTES = {
    "email": ["alice@acme.example.com"],
    "displayName": ["Alice Example"],
    "groups": ["staff", "admins"],
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": ["alice@acme.example.com"],
}


def _request_data(path: str, get_data: dict | None = None, post_data: dict | None = None) -> dict:
    # No "server_port": python3-saml 1.16 deprecates it (DeprecationWarning, an error here);
    # the port is part of http_host instead.
    return {
        "https": "off",
        "http_host": "127.0.0.1:5000",
        "script_name": path,
        "get_data": get_data or {},
        "post_data": post_data or {},
    }


def _pem_body(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if "-----" not in line)


@pytest.fixture
def sp_keys(tmp_path):
    key_path, cert_path = make_keypair(tmp_path / "sp", "sp", "acme SP")
    return key_path.read_text(), cert_path.read_text()


@pytest.fixture
def sp_metadata(sp_keys) -> str:
    _, cert = sp_keys
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"
    xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{SP_ENTITY_ID}">
  <md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true"
      protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{_pem_body(cert)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>
    <md:SingleLogoutService Binding="{REDIRECT}" Location="{SLS_URL}"/>
    <md:NameIDFormat>{EMAIL}</md:NameIDFormat>
    <md:AssertionConsumerService Binding="{POST}" Location="{ACS_URL}" index="1"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"""


@pytest.fixture
def idp(tmp_path, sp_metadata) -> TestIdP:
    idp = TestIdP(tmp_path / "idp")
    idp.trust_sp(sp_metadata)
    return idp


def _settings(idp: TestIdP, sp_keys, **security) -> dict:
    key, cert = sp_keys
    return {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": SP_ENTITY_ID,
            "assertionConsumerService": {"url": ACS_URL, "binding": POST},
            "singleLogoutService": {"url": SLS_URL, "binding": REDIRECT},
            "NameIDFormat": EMAIL,
            "x509cert": cert,
            "privateKey": key,
        },
        "idp": {
            "entityId": idp.entity_id,
            "singleSignOnService": {"url": idp.sso_url, "binding": REDIRECT},
            "singleLogoutService": {"url": idp.slo_url, "binding": REDIRECT},
            "x509cert": idp.cert_pem,
        },
        "security": {
            "authnRequestsSigned": True,
            "logoutRequestSigned": True,
            "logoutResponseSigned": True,
            "wantAssertionsSigned": True,
            "wantMessagesSigned": False,
            "rejectDeprecatedAlgorithm": True,
            "signatureAlgorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "digestAlgorithm": "http://www.w3.org/2001/04/xmlenc#sha256",
            **security,
        },
    }


@pytest.fixture
def settings(idp, sp_keys) -> dict:
    return _settings(idp, sp_keys)


def _login_url(settings: dict, relay_state: str = "relay-123") -> tuple[str, str]:
    auth = OneLogin_Saml2_Auth(_request_data("/saml/acme/login"), settings)
    url = auth.login(return_to=relay_state)
    return url, auth.get_last_request_id()


def _acs(settings: dict, saml_response: str, request_id: str | None):
    response = OneLogin_Saml2_Response(OneLogin_Saml2_Settings(settings), saml_response)
    valid = response.is_valid(_request_data("/saml/acme/acs", post_data={"SAMLResponse": saml_response}), request_id)
    return valid, response


def _response_kwargs(**overrides):
    kwargs = {
        "sp_entity_id": SP_ENTITY_ID,
        "acs_url": ACS_URL,
        "in_response_to": None,
        "name_id": "alice@acme.example.com",
        "attributes": ATTRIBUTES,
    }
    kwargs.update(overrides)
    return kwargs


# ---------------------------------------------------------------- keys and metadata


def test_make_keypair_writes_rsa_2048_self_signed_sha256(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    key_path, cert_path = make_keypair(tmp_path / "k", "thing", "Thing CN")
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert key.key_size == 2048
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert cert.issuer == cert.subject
    assert cert.subject.rfc4514_string() == "CN=Thing CN"
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)


def test_metadata_is_usable_by_python3_saml(idp):
    parsed = OneLogin_Saml2_IdPMetadataParser.parse(idp.metadata_xml())["idp"]
    assert parsed["entityId"] == TestIdP.ENTITY_ID
    assert parsed["singleSignOnService"] == {"url": "https://idp.example.org/sso/redirect", "binding": REDIRECT}
    assert parsed["singleLogoutService"]["url"] == "https://idp.example.org/slo/redirect"
    assert parsed["singleLogoutService"]["binding"] == REDIRECT
    assert parsed["x509cert"] == _pem_body(idp.cert_pem)


def test_entity_id_and_base_url_are_configurable(tmp_path):
    other = TestIdP(tmp_path, entity_id="https://other.example.net/idp", base_url="https://other.example.net/")
    root = etree.fromstring(other.metadata_xml().encode())
    assert root.get("entityID") == "https://other.example.net/idp"
    locations = root.xpath("//md:IDPSSODescriptor/*/@Location", namespaces=NS)
    assert sorted(locations) == ["https://other.example.net/slo/redirect", "https://other.example.net/sso/redirect"]


# ---------------------------------------------------------------- AuthnRequest


def test_reads_a_signed_authn_request_from_python3_saml(idp, settings):
    url, request_id = _login_url(settings)

    request = idp.read_authn_request(url)

    assert request["id"] == request_id
    assert request["acs_url"] == ACS_URL
    assert request["sp_entity_id"] == SP_ENTITY_ID
    assert request["relay_state"] == "relay-123"
    assert request["name_id_policy_format"] == EMAIL
    assert request["destination"] == idp.sso_url
    assert request["sig_alg"] == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    assert request["signature_verified"] is True
    assert request["acs_url_registered"] is True


def test_rejects_a_tampered_authn_request_signature(idp, settings):
    from saml2.response import IncorrectlySigned

    url, _ = _login_url(settings)
    with pytest.raises(IncorrectlySigned):
        idp.read_authn_request(url.replace("RelayState=relay-123", "RelayState=relay-999"))


def test_rejects_an_authn_request_signed_with_another_key(idp, sp_keys, tmp_path):
    from saml2.response import IncorrectlySigned

    key_path, cert_path = make_keypair(tmp_path / "rogue", "rogue", "rogue SP")
    url, _ = _login_url(_settings(idp, (key_path.read_text(), cert_path.read_text())))
    with pytest.raises(IncorrectlySigned):
        idp.read_authn_request(url)


def test_rejects_an_unsigned_authn_request_unless_told_not_to_verify(idp, sp_keys):
    from saml2.response import IncorrectlySigned

    url, request_id = _login_url(_settings(idp, sp_keys, authnRequestsSigned=False))
    with pytest.raises(IncorrectlySigned):
        idp.read_authn_request(url)
    request = idp.read_authn_request(url, verify_signature=False)
    assert request["id"] == request_id
    assert request["signature_verified"] is False


def test_a_request_from_an_untrusted_sp_is_rejected(tmp_path, settings):
    from saml2.response import IncorrectlySigned

    stranger = TestIdP(tmp_path / "fresh")  # never told about the SP
    url, _ = _login_url(settings)
    with pytest.raises(IncorrectlySigned):
        stranger.read_authn_request(url)


def test_trusting_an_sp_again_replaces_its_certificate(idp, sp_metadata, sp_keys, tmp_path):
    from saml2.response import IncorrectlySigned

    key_path, cert_path = make_keypair(tmp_path / "rotated", "sp2", "acme SP rotated")
    new_keys = (key_path.read_text(), cert_path.read_text())
    idp.trust_sp(sp_metadata.replace(_pem_body(sp_keys[1]), _pem_body(new_keys[1])))

    assert idp.read_authn_request(_login_url(_settings(idp, new_keys))[0])["sp_entity_id"] == SP_ENTITY_ID
    with pytest.raises(IncorrectlySigned):
        idp.read_authn_request(_login_url(_settings(idp, sp_keys))[0])


def test_several_sps_can_be_trusted(idp, sp_metadata, sp_keys, settings):
    other = sp_metadata.replace("/saml/acme/", "/saml/globex/")
    idp.trust_sp(other)
    globex = _settings(idp, sp_keys)
    globex["sp"]["entityId"] = SP_ENTITY_ID.replace("acme", "globex")
    globex["sp"]["assertionConsumerService"]["url"] = ACS_URL.replace("acme", "globex")

    assert idp.read_authn_request(_login_url(settings)[0])["sp_entity_id"] == SP_ENTITY_ID
    request = idp.read_authn_request(_login_url(globex)[0])
    assert request["sp_entity_id"] == "http://127.0.0.1:5000/saml/globex/metadata"
    assert request["acs_url_registered"] is True


def test_a_url_for_another_endpoint_is_refused(idp, settings):
    url, _ = _login_url(settings)
    with pytest.raises(ValueError, match="SSO URL"):
        idp.read_authn_request(url.replace("https://idp.example.org/sso/redirect", "https://evil.example/sso"))


# ---------------------------------------------------------------- Response


def test_sp_initiated_response_is_accepted_by_python3_saml(idp, settings):
    url, _ = _login_url(settings)
    request = idp.read_authn_request(url)

    saml_response = idp.response(
        sp_entity_id=request["sp_entity_id"],
        acs_url=request["acs_url"],
        in_response_to=request["id"],
        name_id="alice@acme.example.com",
        attributes=ATTRIBUTES,
        session_index="session-42",
    )
    valid, response = _acs(settings, saml_response, request["id"])

    assert valid, response.get_error()
    assert response.get_nameid() == "alice@acme.example.com"
    assert response.get_nameid_format() == EMAIL
    assert response.get_attributes() == ATTRIBUTES
    assert response.get_session_index() == "session-42"
    assert response.get_issuers() == [TestIdP.ENTITY_ID]
    assert response.get_in_response_to() == request["id"]


def test_response_for_another_request_id_is_rejected(idp, settings):
    saml_response = idp.response(**_response_kwargs(in_response_to="id-of-some-request"))
    valid, response = _acs(settings, saml_response, "id-of-another-request")
    assert not valid
    assert "InResponseTo" in response.get_error()


def test_response_xml_has_the_expected_shape(idp):
    xml = idp.response_xml(**_response_kwargs(in_response_to="req-1"))
    root = etree.fromstring(xml)

    def one(path):
        (value,) = root.xpath(path, namespaces=NS)
        return value

    assert one("/samlp:Response/@Destination") == ACS_URL
    assert one("/samlp:Response/@InResponseTo") == "req-1"
    assert one("//saml:Audience/text()") == SP_ENTITY_ID
    assert one("//saml:SubjectConfirmation/@Method") == "urn:oasis:names:tc:SAML:2.0:cm:bearer"
    assert one("//saml:SubjectConfirmationData/@Recipient") == ACS_URL
    assert one("//saml:SubjectConfirmationData/@InResponseTo") == "req-1"
    # signed assertion only (the default), with SHA-256 throughout
    assert root.xpath("/samlp:Response/ds:Signature", namespaces=NS) == []
    assert one("//saml:Assertion/ds:Signature/ds:SignedInfo/ds:SignatureMethod/@Algorithm") == (
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    )
    assert one("//saml:Assertion/ds:Signature//ds:DigestMethod/@Algorithm") == (
        "http://www.w3.org/2001/04/xmlenc#sha256"
    )
    names = root.xpath("//saml:Attribute/@Name", namespaces=NS)
    assert names == list(ATTRIBUTES)
    assert b"sha1" not in xml


def test_idp_initiated_response_has_no_in_response_to(idp, settings):
    xml = idp.response_xml(**_response_kwargs(in_response_to=None))
    root = etree.fromstring(xml)
    assert root.xpath("//@InResponseTo") == []
    assert root.xpath("//saml:SubjectConfirmationData/@Recipient", namespaces=NS) == [ACS_URL]

    valid, response = _acs(settings, base64.b64encode(xml).decode(), None)
    assert valid, response.get_error()
    assert response.get_nameid() == "alice@acme.example.com"


def test_expired_response_is_rejected(idp, settings):
    saml_response = idp.response(**_response_kwargs(issue_instant_offset_seconds=-3600, lifetime_minutes=5))
    valid, response = _acs(settings, saml_response, None)
    assert not valid
    assert "expired" in response.get_error()


def test_not_yet_valid_response_is_rejected(idp, settings):
    saml_response = idp.response(**_response_kwargs(issue_instant_offset_seconds=3600))
    valid, response = _acs(settings, saml_response, None)
    assert not valid
    assert "not yet valid" in response.get_error()


def test_times_follow_offset_and_lifetime(idp):
    from datetime import datetime, timedelta, timezone

    xml = idp.response_xml(**_response_kwargs(issue_instant_offset_seconds=-600, lifetime_minutes=2))
    root = etree.fromstring(xml)

    def when(path):
        (value,) = root.xpath(path, namespaces=NS)
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)

    issued = when("/samlp:Response/@IssueInstant")
    assert abs(issued - (datetime.now(timezone.utc) - timedelta(minutes=10))) < timedelta(seconds=30)
    assert when("//saml:Assertion/@IssueInstant") == issued
    assert when("//saml:Conditions/@NotBefore") == issued
    assert when("//saml:AuthnStatement/@AuthnInstant") == issued
    assert when("//saml:Conditions/@NotOnOrAfter") == issued + timedelta(minutes=2)
    assert when("//saml:SubjectConfirmationData/@NotOnOrAfter") == issued + timedelta(minutes=2)


def test_unsigned_assertion_is_rejected_and_signed_response_accepted(idp, sp_keys, settings):
    unsigned = idp.response(**_response_kwargs(sign_assertion=False))
    valid, response = _acs(settings, unsigned, None)
    assert not valid
    assert "not signed" in response.get_error()

    both = idp.response(**_response_kwargs(sign_response=True))
    strict_messages = _settings(idp, sp_keys, wantMessagesSigned=True)
    valid, response = _acs(strict_messages, both, None)
    assert valid, response.get_error()


def test_response_signed_by_another_idp_is_rejected(idp, settings, tmp_path):
    rogue = TestIdP(tmp_path / "rogue", entity_id=idp.entity_id)  # same name, its own key
    valid, response = _acs(settings, rogue.response(**_response_kwargs()), None)
    assert not valid


# ---------------------------------------------------------------- sign_xml


def test_sign_xml_makes_an_unsigned_assertion_acceptable(idp, settings):
    xml = idp.response_xml(**_response_kwargs(sign_assertion=False))
    (assertion_id,) = etree.fromstring(xml).xpath("//saml:Assertion/@ID", namespaces=NS)

    signed = idp.sign_xml(xml, assertion_id)

    valid, response = _acs(settings, base64.b64encode(signed).decode(), None)
    assert valid, response.get_error()


def test_edited_assertion_fails_until_re_signed(idp, settings):
    xml = idp.response_xml(**_response_kwargs())
    root = etree.fromstring(xml)
    (name_id,) = root.xpath("//saml:NameID", namespaces=NS)
    name_id.text = "mallory@acme.example.com"
    (assertion_id,) = root.xpath("//saml:Assertion/@ID", namespaces=NS)
    edited = etree.tostring(root)

    valid, _ = _acs(settings, base64.b64encode(edited).decode(), None)
    assert not valid

    resigned = idp.sign_xml(edited, assertion_id)
    assert len(etree.fromstring(resigned).xpath("//saml:Assertion/ds:Signature", namespaces=NS)) == 1
    valid, response = _acs(settings, base64.b64encode(resigned).decode(), None)
    assert valid, response.get_error()
    assert response.get_nameid() == "mallory@acme.example.com"


def test_sign_xml_can_sign_the_response(idp, sp_keys):
    xml = idp.response_xml(**_response_kwargs())
    (response_id,) = etree.fromstring(xml).xpath("/samlp:Response/@ID", namespaces=NS)

    signed = idp.sign_xml(xml, response_id, kind="response")

    root = etree.fromstring(signed)
    assert root.xpath("/samlp:Response/ds:Signature/ds:SignedInfo/ds:Reference/@URI", namespaces=NS) == [
        f"#{response_id}"
    ]
    valid, response = _acs(_settings(idp, sp_keys, wantMessagesSigned=True), base64.b64encode(signed).decode(), None)
    assert valid, response.get_error()


def test_sign_xml_checks_id_and_kind(idp):
    xml = idp.response_xml(**_response_kwargs())
    (assertion_id,) = etree.fromstring(xml).xpath("//saml:Assertion/@ID", namespaces=NS)
    with pytest.raises(ValueError, match="found 0"):
        idp.sign_xml(xml, "no-such-id")
    with pytest.raises(ValueError, match="not a response"):
        idp.sign_xml(xml, assertion_id, kind="response")


# ---------------------------------------------------------------- LogoutRequest


def _process_slo(settings: dict, url: str):
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == SLS_URL
    get_data = dict(parse_qsl(parts.query, keep_blank_values=True))
    auth = OneLogin_Saml2_Auth(_request_data("/saml/acme/sls", get_data=get_data), settings)
    redirect = auth.process_slo(keep_local_session=True)
    return auth, get_data, redirect


def test_logout_request_redirect_is_accepted_by_python3_saml(idp, sp_keys):
    settings = _settings(idp, sp_keys, wantMessagesSigned=True)
    url = idp.logout_request_redirect(
        sls_url=SLS_URL,
        sp_entity_id=SP_ENTITY_ID,
        name_id="alice@acme.example.com",
        session_index="session-42",
        relay_state="bye",
    )

    auth, get_data, redirect = _process_slo(settings, url)

    assert auth.get_errors() == [], auth.get_last_error_reason()
    assert get_data["SigAlg"] == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    assert get_data["RelayState"] == "bye"
    assert redirect.startswith(idp.slo_url + "?SAMLResponse=")
    xml = auth.get_last_request_xml()
    assert OneLogin_Saml2_Logout_Request.get_id(xml) == idp.last_logout_request_id
    assert OneLogin_Saml2_Logout_Request.get_nameid(xml) == "alice@acme.example.com"
    assert OneLogin_Saml2_Logout_Request.get_nameid_format(xml) == EMAIL
    assert OneLogin_Saml2_Logout_Request.get_session_indexes(xml) == ["session-42"]
    assert OneLogin_Saml2_Logout_Request.get_issuer(xml) == TestIdP.ENTITY_ID


def test_unsigned_or_tampered_logout_request_is_rejected(idp, sp_keys):
    settings = _settings(idp, sp_keys, wantMessagesSigned=True)
    unsigned = idp.logout_request_redirect(
        sls_url=SLS_URL, sp_entity_id=SP_ENTITY_ID, name_id="alice@acme.example.com", sign=False
    )
    assert "Signature=" not in unsigned and "SigAlg=" not in unsigned
    auth, _, _ = _process_slo(settings, unsigned)
    assert auth.get_errors()

    signed = idp.logout_request_redirect(
        sls_url=SLS_URL, sp_entity_id=SP_ENTITY_ID, name_id="alice@acme.example.com", relay_state="bye"
    )
    auth, _, _ = _process_slo(settings, signed.replace("RelayState=bye", "RelayState=hi"))
    assert auth.get_errors()
