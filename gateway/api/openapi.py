"""GET /api/v1/openapi.json: the OpenAPI 3.1 description of the admin API.

Written from the API's own routes and the operation each view declares (gateway.api.operation):
the paths and methods are the blueprint's, the bodies, query strings and answers are the
pydantic declarations every request is checked against and every answer serialized through
(gateway.api.schemas), and the summaries are the views' docstrings. Nothing here is written twice,
so the description and the checks cannot drift.
"""

from __future__ import annotations

import inspect
import re

from flask import current_app, jsonify
from pydantic.json_schema import models_json_schema

from gateway.api import Operation, bp
from gateway.errors import ErrorBody
from gateway.params import MAX_ROW_ID

_REF = "#/components/schemas/{model}"
_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID}


def _path_parameter(name: str) -> dict:
    """`slug` is the organization's; a `…_id` is a row id (the routes take text: the services answer
    404 for one that names nothing, gateway.params.row_id)."""
    if name == "slug":
        return {"schema": {"type": "string"}, "description": "The organization the session works in"}
    return {"schema": _ID} if name.endswith("_id") else {"schema": {"type": "string"}}



def _error(description: str, headers: dict | None = None) -> dict:
    response = {"description": description,
                "content": {"application/json": {"schema": {"$ref": _REF.format(model=ErrorBody.__name__)}}}}
    if headers:
        response["headers"] = headers
    return response


# The refusals, as `{"error": {"code", "message"}}`; the codes each operation can answer are in its description.
REFUSALS = {
    400: ("BadRequest", _error("The body or query does not fit its declaration (`invalid_json`, `invalid_field`, "
                               "`bad_filter`, `bad_cursor`, `bad_format`), or a service refused a value "
                               "(`invalid_email`, `invalid_name`, `unknown_role`, `invalid_metadata`, …)")),
    401: ("Unauthorized", _error("No bearer token, or not a valid, full session (`unauthorized`)")),
    403: ("Forbidden", _error("The session's member is not an admin of the organization (`admins_only`)")),
    404: ("NotFound", _error("No such organization for this session, member or invitation (`not_found`, "
                             "`unknown_member`, `unknown_invitation`)")),
    409: ("Conflict", _error("The change conflicts with the organization's state (the code says which)")),
    413: ("TooLarge", _error("The body is larger than 64 KiB (`request_entity_too_large`)")),
    415: ("UnsupportedMediaType", _error("A body that is not `application/json` (`unsupported_media_type`)")),
    503: ("Unavailable", _error("The database cannot be reached (`database_unavailable`); retry",
                               {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}})),
}
_EVERY_OPERATION = (401, 403, 404, 503)


def _declared(app) -> list[tuple[str, str, str, object, Operation]]:
    """(path, method, endpoint, view, declaration) of every API route but this document's."""
    found = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        declared = getattr(view, "api_operation", None)
        if not rule.endpoint.startswith(f"{bp.name}.") or declared is None:
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule.removeprefix(bp.url_prefix))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((path, method.lower(), rule.endpoint, view, declared))
    return found


def _schemas(declarations: list[Operation]) -> tuple[dict, dict]:
    """The components' schemas, and each query model's properties (for its parameters)."""
    bodies = {d.body for d in declarations if d.body}
    queries = {d.query for d in declarations if d.query}
    answers = {d.answer for d in declarations} | {ErrorBody}
    models = [(m, "validation") for m in sorted(bodies | queries, key=lambda m: m.__name__)]
    models += [(m, "serialization") for m in sorted(answers, key=lambda m: m.__name__)]
    _, top = models_json_schema(models, ref_template=_REF)
    schemas = top["$defs"]
    query_properties = {q: schemas.pop(q.__name__) for q in queries}  # described as parameters, not bodies
    return schemas, query_properties


def _optional(schema: dict) -> dict:
    """A query parameter is left out, never null: the schema without its `null` branch."""
    branches = [s for s in schema.get("anyOf", ()) if s != {"type": "null"}]
    if not branches or len(branches) == len(schema.get("anyOf", ())):
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**branches[0], **rest} if len(branches) == 1 else {**rest, "anyOf": branches}


def _query_parameters(query_schema: dict) -> list[dict]:
    parameters = []
    for name, schema in query_schema["properties"].items():
        schema = _optional(dict(schema))
        schema.pop("title", None)
        if schema.get("default", "") is None:  # left out is left out: no null to describe
            del schema["default"]
        # An empty value is the parameter left out (gateway.api.query_as).
        parameter = {"name": name, "in": "query", "required": False, "allowEmptyValue": True, "schema": schema}
        if "description" in schema:
            parameter["description"] = schema.pop("description")
        parameters.append(parameter)
    return parameters


def _statuses(method: str, declared: Operation) -> list[int]:
    statuses = set(_EVERY_OPERATION) | set(declared.refusals)
    if declared.body:
        statuses |= {400, 413}
    if declared.query:
        statuses.add(400)
    if method in ("post", "put", "patch"):
        statuses.add(415)  # any body but JSON, declared or not
    return sorted(statuses)


def _links(declared: Operation, path: str, routes) -> dict:
    links = {}
    given = set(re.findall(r"{(\w+)}", path))
    for parameter, pointer in declared.links.items():
        for other_path, _, endpoint, _, _ in routes:
            others = set(re.findall(r"{(\w+)}", other_path)) - {parameter}
            # Only where this request's path gives the rest (a group's members need its group_id).
            if f"{{{parameter}}}" in other_path and other_path != path and others <= given:
                parameters = {parameter: f"$response.body#{pointer}"}
                parameters.update({p: f"$request.path.{p}" for p in re.findall(r"{(\w+)}", other_path)
                                   if p != parameter})
                links[endpoint.removeprefix(f"{bp.name}.")] = {
                    "operationId": endpoint.removeprefix(f"{bp.name}."), "parameters": parameters}
    return links


def _operation(path: str, method: str, endpoint: str, view, declared: Operation, query_properties: dict,
               routes) -> dict:
    summary, _, description = inspect.cleandoc(view.__doc__ or endpoint).partition("\n\n")
    operation = {"operationId": endpoint.removeprefix(f"{bp.name}."), "summary": " ".join(summary.split()),
                 "tags": [view.__module__.rsplit(".", 1)[-1]]}
    if description.strip():
        operation["description"] = description.strip()
    operation["parameters"] = [{"name": name, "in": "path", "required": True, **_path_parameter(name)}
                               for name in re.findall(r"{(\w+)}", path)]
    if declared.query:
        operation["parameters"] += _query_parameters(query_properties[declared.query])
    if declared.body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": _REF.format(model=declared.body.__name__)}}}}
    answer = {"description": " ".join(inspect.cleandoc(declared.answer.__doc__ or "OK").split("\n\n")[0].split())}
    if declared.status != 204:  # No Content has none
        answer["content"] = {"application/json": {"schema": {"$ref": _REF.format(model=declared.answer.__name__)}}}
    if declared.csv:
        answer["content"]["text/csv"] = {"schema": {"type": "string"}}
    if links := _links(declared, path, routes):
        answer["links"] = links
    operation["responses"] = {str(declared.status): answer, **{
        str(status): {"$ref": f"#/components/responses/{REFUSALS[status][0]}"}
        for status in _statuses(method, declared)}}
    return operation


def document(app) -> dict:
    """The OpenAPI document of `app`'s API."""
    routes = _declared(app)
    schemas, query_properties = _schemas([declared for *_, declared in routes])
    paths: dict[str, dict] = {}
    for path, method, endpoint, view, declared in routes:
        paths.setdefault(path, {})[method] = _operation(path, method, endpoint, view, declared, query_properties,
                                                        routes)
    paths["/openapi.json"] = {"get": {
        "operationId": "openapi", "summary": "This document", "tags": ["openapi"], "security": [],
        "responses": {"200": {"description": "OpenAPI 3.1",
                              "content": {"application/json": {"schema": {"type": "object"}}}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "idgate admin API", "version": "1"},
        "servers": [{"url": bp.url_prefix}],
        "security": [{"session": []}],
        "components": {
            "securitySchemes": {"session": {"type": "http", "scheme": "bearer",
                                            "description": "An admin's idgate_session token."}},
            "schemas": schemas,
            "responses": {name: response for name, response in REFUSALS.values()},
        },
        "paths": paths,
    }


@bp.get("/openapi.json")
def openapi():
    app = current_app._get_current_object()
    if "idgate.openapi" not in app.extensions:  # the routes are fixed once the app is built
        app.extensions["idgate.openapi"] = document(app)
    return jsonify(app.extensions["idgate.openapi"])
