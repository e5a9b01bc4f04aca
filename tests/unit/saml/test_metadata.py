"""Reading IdP metadata, publishing SP metadata."""

from __future__ import annotations

import pytest
from lxml import etree

from saml import errors
from saml.config import ServiceProvider
from saml.metadata import parse_idp_metadata, sp_metadata

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"


def _cert_body(pem: str) -> str:
    return "".join(line for line in pem.splitlines() if "CERTIFICATE" not in line)


def idp_metadata(certs: list[str], sso_binding=REDIRECT, slo=True, entity_id="https://idp.example.org") -> str:
    keys = "".join(
        f'<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
        f"<ds:X509Data><ds:X509Certificate>{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for c in certs)
    slo_xml = f'<md:SingleLogoutService Binding="{REDIRECT}" Location="https://idp.example.org/slo"/>' if slo else ""
    return (f'<md:EntityDescriptor xmlns:md="{MD}" entityID="{entity_id}">'
            f'<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}'
            f'{slo_xml}<md:SingleSignOnService Binding="{sso_binding}" Location="https://idp.example.org/sso"/>'
            f"</md:IDPSSODescriptor></md:EntityDescriptor>")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    from gateway.sso.keys import sp_keypair

    key, cert = sp_keypair(str(tmp_path_factory.mktemp("k1")))
    _key2, cert2 = sp_keypair(str(tmp_path_factory.mktemp("k2")))
    return _cert_body(cert), _cert_body(cert2), key, cert


def test_reads_entity_id_endpoints_and_every_signing_certificate(certs):
    idp = parse_idp_metadata(idp_metadata([certs[0], certs[1]]))
    assert idp.entity_id == "https://idp.example.org"
    assert idp.sso_url == "https://idp.example.org/sso" and idp.slo_url == "https://idp.example.org/slo"
    assert idp.signing_certs == (certs[0], certs[1])  # both, for a certificate rollover


@pytest.mark.parametrize("xml, problem", [
    ("", "empty"),
    ("<not xml", "not readable"),
    ('<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>', "DTD"),
    (f'<md:EntityDescriptor xmlns:md="{MD}" entityID="x"/>', "IDPSSODescriptor"),
])
def test_unreadable_metadata_says_what_is_wrong(xml, problem):
    with pytest.raises(errors.MetadataError, match=problem):
        parse_idp_metadata(xml)


def test_metadata_without_a_signing_certificate_is_refused():
    with pytest.raises(errors.MetadataError, match="signing certificate"):
        parse_idp_metadata(idp_metadata([]))


def test_metadata_without_a_redirect_sso_endpoint_is_refused(certs):
    post = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    with pytest.raises(errors.MetadataError, match="HTTP-Redirect"):
        parse_idp_metadata(idp_metadata([certs[0]], sso_binding=post))


def test_sp_metadata_names_entity_id_endpoints_formats_and_certificate(certs):
    _c1, _c2, key, cert = certs
    sp = ServiceProvider(entity_id="https://id.example.com/saml/acme/metadata",
                         acs_url="https://id.example.com/saml/acme/acs",
                         sls_url="https://id.example.com/saml/acme/sls", cert_pem=cert, key_pem=key)
    root = etree.fromstring(sp_metadata(sp).encode())
    ns = {"md": MD}
    assert root.get("entityID") == sp.entity_id
    descriptor = root.find("md:SPSSODescriptor", ns)
    assert descriptor.get("AuthnRequestsSigned") == "true" and descriptor.get("WantAssertionsSigned") == "true"
    assert descriptor.find("md:AssertionConsumerService", ns).get("Location") == sp.acs_url
    assert descriptor.find("md:SingleLogoutService", ns).get("Location") == sp.sls_url
    assert "emailAddress" in descriptor.find("md:NameIDFormat", ns).text
    assert _cert_body(cert) in etree.tostring(root).decode().replace("\n", "")
