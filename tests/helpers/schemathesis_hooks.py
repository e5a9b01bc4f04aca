"""schemathesis hooks for tests/functional/test_schemathesis.py (loaded by the schemathesis process)."""

from __future__ import annotations

import os

import jsonschema_rs
import schemathesis

OWN_USER_ID = os.environ["IDGATE_SCHEMATHESIS_OWN_USER_ID"]


@schemathesis.hook
def filter_case(context, case):
    return _leaves_the_token_alone(case) and not _mislabelled_positive(case)


def _leaves_the_token_alone(case) -> bool:
    # The run leaves alone the account whose token it uses: demoted (while another admin exists),
    # its own token would answer 403 to everything after, and the run would test nothing. Nor does it
    # put that account in a group: a group mapped to a role would give it that role (gateway.groups.roles).
    if case.method == "GET" or str((case.path_parameters or {}).get("user_id")) == OWN_USER_ID:
        return case.method == "GET"
    return not (isinstance(case.body, dict) and str(case.body.get("user_id")) == OWN_USER_ID)


def _mislabelled_positive(case) -> bool:
    """A case drawn as valid whose body the document's own schema refuses.

    schemathesis 4 now and then draws a "positive" body that its validator (jsonschema_rs, the one
    it checks answers with) refuses: a name with an unassigned code point against a pattern that bars
    Unicode category C. Such a body is not valid data, and a 400 for it is right.
    """
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return False
    body = case.operation.definition.raw.get("requestBody", {}).get("content", {}).get("application/json")
    if not body:
        return False
    return not _validator(body["schema"]["$ref"], case.operation.schema).is_valid(case.body)


_validators: dict[str, jsonschema_rs.Validator] = {}


def _validator(ref: str, document) -> jsonschema_rs.Validator:
    if ref not in _validators:  # one document a run
        _validators[ref] = jsonschema_rs.validator_for(
            {"$ref": ref, "components": document.raw_schema["components"]}, validate_formats=True)
    return _validators[ref]
