"""Every route, every method, hostile values in every place: a 4xx at worst, never a 500.

A standing sweep, not a fuzzer: a fixed set of the inputs that found 500s before
(ids past the database's integers, NUL, odd Unicode, JSON of the wrong shape), so a
new route or a new parameter is covered the day it lands.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.conftest import bearer, csrf_token

PATH_VALUES = {"int": ["0", str(2**31), str(2**64)],
               "default": ["acme", "x" * 300, quote("a\x00b"), quote("é\u202e"), "..", "%25"]}
QUERY = ["?after=99999999999999999999&before=-1&limit=abc&q=%00&since=9999-12-31T23:59:59-14:00&next=//evil",
         "?org=a&org=b&role=%ff&format=xml&actor=" + "a" * 5000]
FORMS = [{"email": "a\x00b@example.com", "password": "x", "name": "\ud7ff" * 50, "role": "owner", "version": "x",
          "org": "a\x00", "who": "é" * 400, "step": "nope", "next": "javascript:alert(1)", "SAMLResponse": "%%%"},
         {}]
JSON = [{"email": ["a"], "role": {"x": 1}, "name": None, "metadata_xml": 5, "send_email": "yes"},
        {"email": "a@example.com", "role": "admin", "name": "A" * 10000}]
SKIP = {"/metrics"}  # process-wide counters: nothing to send it


def _paths(rule) -> list[str]:
    paths = [rule.rule]
    for name, converter in rule._converters.items():
        values = PATH_VALUES["int" if type(converter).__name__ == "IntegerConverter" else "default"]
        paths = [p.replace(f"<{_arg(rule, name)}>", v) for p in paths for v in values]
    return paths


def _arg(rule, name: str) -> str:
    for part in rule.rule.split("<")[1:]:
        inner = part.split(">", 1)[0]
        if inner.split(":")[-1] == name:
            return inner
    raise AssertionError(name)


def _routes(app):
    # Signing out last, so that the admin stays signed in for everything else.
    rules = sorted(app.url_map.iter_rules(), key=lambda rule: (rule.endpoint == "accounts.logout", rule.rule))
    for rule in rules:
        if rule.rule in SKIP or rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def _requests(client, rule, method, api_headers):
    headers = api_headers if rule.rule.startswith("/api/") else {}
    for path in _paths(rule):
        for query in QUERY:
            if method == "GET":
                yield path + query, {"headers": headers}
                continue
            for form in FORMS:
                yield path + query, {"headers": headers, "data": {**form, "csrf_token": csrf_token(client, "/sso")}}
            for body in JSON:
                yield path + query, {"headers": headers, "json": body}


@pytest.mark.parametrize("who", ["anonymous", "admin"])
def test_no_request_anywhere_answers_500(app, client, signed_in_admin, who):
    api_headers = bearer(client)
    if who == "anonymous":
        client, api_headers = app.test_client(), {}
    failures = []
    for rule, method in _routes(app):
        for url, kwargs in _requests(client, rule, method, api_headers):
            response = client.open(url, method=method, **kwargs)
            if response.status_code >= 500:
                failures.append(f"{method} {url[:120]} -> {response.status_code}")
    assert failures == []
