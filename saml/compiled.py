"""Compile python3-saml's XML schemas and XPath expressions once per thread, not on every call.

Stock python3-saml 1.16 parses and compiles `saml-schema-protocol-2.0.xsd`
(with its imports) inside every `validate_xml` call, more than half of the
time `is_valid` spends, and compiles each of the thirty-odd XPath expressions
it evaluates per response anew. What is validated, and how, is unchanged.

While one response is read (`reading_one_response`), each distinct query is
also evaluated once: the library asks for the signed assertion's Reference
before every assertion lookup, 55 queries per response of which 27 differ.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from importlib.metadata import version
from os.path import dirname, join

from lxml import etree
from onelogin.saml2 import xml_utils
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

_SCHEMA_DIR = join(dirname(xml_utils.__file__), "schemas")
_stock = (OneLogin_Saml2_XML.validate_xml, OneLogin_Saml2_XML.query)
# lxml's schema validators must not be shared between threads (and compiled XPath
# objects serialize on a lock when they are): one of each per thread.
_local = threading.local()
# The library's own expressions are a few dozen; its metadata parser builds some from input, so bound it.
_MAX_XPATHS = 256


def _cache(kind: str) -> dict:
    return _local.__dict__.setdefault(kind, {})


def _schema(name: str) -> etree.XMLSchema:
    cache = _cache("schemas")
    if name not in cache:
        with open(join(_SCHEMA_DIR, name), "rb") as fh:
            cache[name] = etree.XMLSchema(etree.parse(fh))
    return cache[name]


def _xpath(expression: str) -> etree.XPath:
    cache = _cache("xpath")
    if expression not in cache:
        if len(cache) >= _MAX_XPATHS:
            cache.clear()
        cache[expression] = etree.XPath(expression, namespaces=OneLogin_Saml2_Constants.NSMAP)
    return cache[expression]


def _cached_validate_xml(xml, schema, debug=False):
    try:
        xml = OneLogin_Saml2_XML.to_etree(xml)
    except Exception:  # the library answers with a code, not an exception
        return "unloaded_xml"
    return xml if _schema(schema).validate(xml) else "invalid_xml"


def _evaluate(source, query: str, tagid):
    # `tagid` is an XPath variable ($tagid), bound at evaluation as the library does.
    return _xpath(query)(source) if tagid is None else _xpath(query)(source, tagid=tagid)


def _cached_query(dom, query, context=None, tagid=None):
    source = dom if context is None else context
    answers = getattr(_local, "answers", None)
    if answers is None:
        return _evaluate(source, query, tagid)
    key = (id(source), query, tagid)
    if key not in answers:
        # The node is kept with its answer, so that its id() cannot be reused within the scope.
        answers[key] = (source, _evaluate(source, query, tagid))
    return list(answers[key][1])  # a copy: callers may change the list they get


@contextmanager
def reading_one_response():
    """Answer each distinct query once while a parsed response is validated and read.

    Sound because nothing in that span changes which elements a query selects:
    python3-saml's `is_valid` and getters read the tree, but for two edits that
    select nothing (signature checking sets an empty Reference URI to "#ID", and
    reading a NameID strips comment nodes). Enter it after the response is parsed
    and decrypted: decryption replaces elements.
    """
    outer = getattr(_local, "answers", None)
    _local.answers = {} if outer is None else outer
    try:
        yield
    finally:
        _local.answers = outer


# What these replacements were written against: another release may validate or query differently.
PINNED = "1.16.0"


def install() -> None:
    """Put the compiled validation and queries in python3-saml's place (idempotent).

    :raise RuntimeError: python3-saml is not the release they were written for.
    """
    found = version("python3-saml")
    if found != PINNED:
        raise RuntimeError(f"saml.compiled was written for python3-saml {PINNED}, not {found}: "
                           "check what changed in its xml_utils, then update PINNED")
    OneLogin_Saml2_XML.validate_xml = staticmethod(_cached_validate_xml)
    OneLogin_Saml2_XML.query = staticmethod(_cached_query)


def uninstall() -> None:
    """python3-saml as shipped again."""
    OneLogin_Saml2_XML.validate_xml, OneLogin_Saml2_XML.query = (staticmethod(f) for f in _stock)
