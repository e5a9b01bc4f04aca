"""Compiled once, answering as stock python3-saml does: schema validation and XPath queries."""

from __future__ import annotations

import pytest
from lxml import etree
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from saml import compiled

SCHEMA = "saml-schema-protocol-2.0.xsd"
RESPONSE = b"""<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"
    xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0"
    IssueInstant="2026-01-01T00:00:00Z">
  <saml:Issuer>https://idp.example.org</saml:Issuer>
  <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
  <saml:Assertion ID="_a1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z">
    <saml:Issuer>https://idp.example.org</saml:Issuer>
  </saml:Assertion>
</samlp:Response>"""
NOT_A_RESPONSE = RESPONSE.replace(b'Version="2.0"\n    IssueInstant', b'IssueInstant', 1)  # Version is required


@pytest.fixture(autouse=True)
def installed():
    compiled.install()  # as create_app does


def both(call):
    """(stock answer, compiled answer) of the same call."""
    compiled.uninstall()
    try:
        stock = call()
    finally:
        compiled.install()
    return stock, call()


def test_installing_refuses_another_python3_saml_release(monkeypatch):
    monkeypatch.setattr(compiled, "PINNED", "0.0.1")
    try:
        compiled.install()
    except RuntimeError as exc:
        assert "0.0.1" in str(exc)
    else:
        raise AssertionError("installed over a release it was not written for")


def test_the_gateway_installs_them(app):
    assert OneLogin_Saml2_XML.validate_xml is compiled._cached_validate_xml


def test_schema_validation_agrees_with_stock_on_valid_and_invalid_documents():
    for document, expected in ((RESPONSE, True), (NOT_A_RESPONSE, False)):
        stock, ours = both(lambda d=document: OneLogin_Saml2_XML.validate_xml(d, SCHEMA))

        assert isinstance(stock, etree._Element) is expected
        assert isinstance(ours, etree._Element) is expected
        if not expected:
            assert stock == ours == "invalid_xml"


def test_unparsable_input_is_answered_with_the_librarys_code():
    assert OneLogin_Saml2_XML.validate_xml(b"<not xml", SCHEMA) == "unloaded_xml"


def test_queries_find_what_stock_finds_with_and_without_a_tag_id():
    root = etree.fromstring(RESPONSE)
    queries = [("/samlp:Response/saml:Assertion", None), ("/samlp:Response/saml:Assertion[@ID=$tagid]", "_a1"),
               ("/samlp:Response/saml:Assertion[@ID=$tagid]", "_other"), ("//saml:Issuer", None)]
    for query, tagid in queries:
        stock, ours = both(lambda q=query, t=tagid: OneLogin_Saml2_XML.query(root, q, None, t))

        assert ours == stock


def test_the_xpath_memory_is_bounded():
    root = etree.fromstring(RESPONSE)
    for n in range(compiled._MAX_XPATHS + 10):
        OneLogin_Saml2_XML.query(root, f"//saml:Issuer[@n='{n}']")

    assert len(compiled._cache("xpath")) <= compiled._MAX_XPATHS


def counting_evaluations(monkeypatch) -> list:
    evaluated = []
    evaluate = compiled._evaluate
    monkeypatch.setattr(compiled, "_evaluate", lambda *args: evaluated.append(args[1:]) or evaluate(*args))
    return evaluated


def test_while_one_response_is_read_each_distinct_query_is_evaluated_once(monkeypatch):
    evaluated = counting_evaluations(monkeypatch)
    root = etree.fromstring(RESPONSE)
    with compiled.reading_one_response():
        for _ in range(3):
            issuers = OneLogin_Saml2_XML.query(root, "//saml:Issuer")
            assertion = OneLogin_Saml2_XML.query(root, "/samlp:Response/saml:Assertion[@ID=$tagid]", None, "_a1")
        other = OneLogin_Saml2_XML.query(root, "/samlp:Response/saml:Assertion[@ID=$tagid]", None, "_other")

    assert len(issuers) == 2 and len(assertion) == 1 and other == []
    assert evaluated == [("//saml:Issuer", None), ("/samlp:Response/saml:Assertion[@ID=$tagid]", "_a1"),
                         ("/samlp:Response/saml:Assertion[@ID=$tagid]", "_other")]


def test_answers_are_remembered_per_node_and_only_inside_the_reading(monkeypatch):
    evaluated = counting_evaluations(monkeypatch)
    first, second = etree.fromstring(RESPONSE), etree.fromstring(RESPONSE)
    with compiled.reading_one_response():
        OneLogin_Saml2_XML.query(first, "//saml:Issuer")
        OneLogin_Saml2_XML.query(second, "//saml:Issuer")
    OneLogin_Saml2_XML.query(first, "//saml:Issuer")

    assert len(evaluated) == 3


def test_each_caller_gets_a_list_of_its_own():
    root = etree.fromstring(RESPONSE)
    with compiled.reading_one_response():
        OneLogin_Saml2_XML.query(root, "//saml:Issuer").clear()

        assert len(OneLogin_Saml2_XML.query(root, "//saml:Issuer")) == 2
