"""Entra ID's and Okta's request shapes (tests/fixtures/scim/), played step by step with their effects."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parents[2] / "fixtures" / "scim"


def _fill(value, saved: dict):
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: saved.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [_fill(item, saved) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, saved) for key, item in value.items()}
    return value


def _at(document: dict, path: str):
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        document = document[int(part[1:-1])] if part.startswith("[") else document[part]
    return document


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_each_request_has_its_effect(scim, fixture):
    saved: dict[str, str] = {}
    for step in json.loads(fixture.read_text())["steps"]:
        path, expect = _fill(step["path"], saved), step["expect"]
        kwargs = {"json": _fill(step["body"], saved)} if "body" in step else {}
        response = getattr(scim, step["method"].lower())(path, **kwargs)
        assert response.status_code == expect["status"], (step["name"], response.get_json())
        body = response.get_json(silent=True) or {}
        if "save" in step:
            saved[step["save"]] = body["id"]
        if "totalResults" in expect:
            assert body["totalResults"] == expect["totalResults"], step["name"]
        for kind in ("user", "group"):
            for attribute, value in expect.get(kind, {}).items():
                assert _at(body, attribute) == value, (step["name"], attribute, body)
        if "members" in expect:
            group = scim.get(_fill("/Groups/{group_id}", saved)).get_json()
            assert len(group.get("members", [])) == expect["members"], step["name"]
