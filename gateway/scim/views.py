"""/scim/v2/<slug>/…: SCIM 2.0 over HTTP (RFC 7644) for one organization, with its IdP's bearer token."""

from __future__ import annotations

import json

from flask import Blueprint, g, jsonify, request
from sqlalchemy.exc import IntegrityError

from gateway.clock import now
from gateway.db import get_session
from gateway.errors import GatewayError, discard_transaction
from gateway.limits import SCIM_PER_TOKEN, throttled
from gateway.scim import errors, groups, schemas, tokens, users
from gateway.scim.errors import CONTENT_TYPE, invalid_syntax, invalid_value, not_found
from gateway.web import settings

bp = Blueprint("scim", __name__, url_prefix="/scim/v2/<slug>")
MAX_BODY = 1024 * 1024  # a group PUT of 10,000 members fits; larger is a 413


def _answer(document: dict, status: int = 200, *, location: str | None = None):
    response = jsonify(document)
    response.status_code = status
    response.mimetype = CONTENT_TYPE
    version = (document.get("meta") or {}).get("version")
    if version:
        response.headers["ETag"] = version
    if location:
        response.headers["Location"] = location
    return response


def _base(slug: str) -> str:
    return f"{settings().base_url}/scim/v2/{slug}"


@bp.url_value_preprocessor
def _slug(_endpoint, values):
    g.scim_slug = values.pop("slug", None) if values else None


@bp.url_defaults
def _add_slug(_endpoint, values):
    values.setdefault("slug", g.get("scim_slug"))


@bp.before_request
def _limit_body():
    request.max_content_length = MAX_BODY


def _caller() -> tokens.Caller:
    """The request's token, checked inside the view: within its throttle, so that refused tokens
    spend the budget too (an empty or unknown one, the client address's).

    :raise ScimError: 401.
    """
    if "scim_caller" not in g:
        g.scim_caller = tokens.authenticate(get_session(), g.scim_slug, request.headers.get("Authorization"),
                                            ip=request.remote_addr,
                                            user_agent=(request.user_agent.string or "")[:256] or None, now=now())
    return g.scim_caller


def _body():
    """The request's JSON. :raise ScimError: 415 for another content type, invalidSyntax for bad JSON."""
    if request.mimetype not in ("application/scim+json", "application/json"):
        raise errors.ScimError("Send SCIM bodies as application/scim+json.", status=415, code="unsupported_media_type")
    try:
        return json.loads(request.get_data(cache=True).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise invalid_syntax("The body is not valid JSON.") from None


def _paging() -> tuple[int, int]:
    try:
        start = int(request.args.get("startIndex", 1))
        count = int(request.args.get("count", schemas.MAX_RESULTS))
    except ValueError:
        raise invalid_value("startIndex and count are integers.") from None
    # RFC 7644 §3.4.2.4: below 1 means 1; a negative count means 0; above the maximum, the maximum.
    return max(1, min(start, 10**9)), max(0, min(count, schemas.MAX_RESULTS))


def _listed(total: int, resources: list[dict], start: int):
    attributes = schemas.split_list(request.args.get("attributes"))
    excluded = schemas.split_list(request.args.get("excludedAttributes"))
    shown = [schemas.project(resource, attributes, excluded) for resource in resources]
    return _answer(schemas.list_response(shown, total=total, start=start))


def _one(document: dict, status: int = 200, **kwargs):
    attributes = schemas.split_list(request.args.get("attributes"))
    excluded = schemas.split_list(request.args.get("excludedAttributes"))
    return _answer(schemas.project(document, attributes, excluded), status, **kwargs)


@bp.errorhandler(GatewayError)
def _refused(exc: GatewayError):
    discard_transaction()
    return errors.from_gateway_error(exc)


@bp.errorhandler(IntegrityError)
def _concurrent(_exc):
    discard_transaction()
    return errors.response(409, "Someone else changed this at the same moment. Try again.", "uniqueness")


# Everything else (404, 405, 413, 429, a database away) is answered by gateway.errors, in SCIM's shape
# for every path under /scim/.


# -- discovery (RFC 7644 §4) ---------------------------------------------------------------------------

@bp.get("/ServiceProviderConfig")
@throttled(SCIM_PER_TOKEN)
def service_provider_config():
    _caller()
    base = _base(g.scim_slug)
    return _answer(schemas.service_provider_config(base, f"{settings().base_url}/docs/scim"))


@bp.get("/ResourceTypes")
@throttled(SCIM_PER_TOKEN)
def resource_types():
    _caller()
    found = schemas.resource_types(_base(g.scim_slug))
    return _answer(schemas.list_response(found, total=len(found), start=1))


@bp.get("/ResourceTypes/<name>")
@throttled(SCIM_PER_TOKEN)
def resource_type(name: str):
    _caller()
    found = next((t for t in schemas.resource_types(_base(g.scim_slug)) if t["id"] == name), None)
    if found is None:
        raise not_found("No such resource type.")
    return _answer(found)


@bp.get("/Schemas")
@throttled(SCIM_PER_TOKEN)
def schema_list():
    _caller()
    found = schemas.schemas(_base(g.scim_slug))
    return _answer(schemas.list_response(found, total=len(found), start=1))


@bp.get("/Schemas/<path:schema_id>")
@throttled(SCIM_PER_TOKEN)
def schema(schema_id: str):
    _caller()
    found = next((s for s in schemas.schemas(_base(g.scim_slug)) if s["id"] == schema_id), None)
    if found is None:
        raise not_found("No such schema.")
    return _answer(found)


# -- Users -----------------------------------------------------------------------------------------------

@bp.get("/Users")
@throttled(SCIM_PER_TOKEN)
def list_users():
    start, count = _paging()
    total, found = users.list_users(get_session(), _caller(), filter_text=request.args.get("filter"),
                                    start=start, count=count, base=_base(g.scim_slug))
    return _listed(total, found, start)


@bp.post("/Users")
@throttled(SCIM_PER_TOKEN)
def create_user():
    document = users.create(get_session(), _caller(), _body(), settings=settings(), base=_base(g.scim_slug),
                            now=now())
    return _one(document, 201, location=document["meta"]["location"])


@bp.get("/Users/<scim_id>")
@throttled(SCIM_PER_TOKEN)
def get_user(scim_id: str):
    return _one(users.get(get_session(), _caller(), scim_id, _base(g.scim_slug)))


@bp.put("/Users/<scim_id>")
@throttled(SCIM_PER_TOKEN)
def replace_user(scim_id: str):
    return _one(users.replace(get_session(), _caller(), scim_id, _body(), if_match=request.headers.get("If-Match"),
                              base=_base(g.scim_slug), settings=settings(), now=now()))


@bp.patch("/Users/<scim_id>")
@throttled(SCIM_PER_TOKEN)
def patch_user(scim_id: str):
    return _one(users.modify(get_session(), _caller(), scim_id, _body(), if_match=request.headers.get("If-Match"),
                             base=_base(g.scim_slug), settings=settings(), now=now()))


@bp.delete("/Users/<scim_id>")
@throttled(SCIM_PER_TOKEN)
def delete_user(scim_id: str):
    users.delete(get_session(), _caller(), scim_id, if_match=request.headers.get("If-Match"),
                 base=_base(g.scim_slug), now=now())
    return "", 204


# -- Groups ----------------------------------------------------------------------------------------------

@bp.get("/Groups")
@throttled(SCIM_PER_TOKEN)
def list_groups():
    start, count = _paging()
    total, found = groups.list_groups(get_session(), _caller(), filter_text=request.args.get("filter"),
                                      start=start, count=count, base=_base(g.scim_slug))
    return _listed(total, found, start)


@bp.post("/Groups")
@throttled(SCIM_PER_TOKEN)
def create_group():
    document = groups.create(get_session(), _caller(), _body(), base=_base(g.scim_slug), now=now())
    return _one(document, 201, location=document["meta"]["location"])


@bp.get("/Groups/<scim_id>")
@throttled(SCIM_PER_TOKEN)
def get_group(scim_id: str):
    return _one(groups.get(get_session(), _caller(), scim_id, _base(g.scim_slug)))


@bp.put("/Groups/<scim_id>")
@throttled(SCIM_PER_TOKEN)
def replace_group(scim_id: str):
    return _one(groups.replace(get_session(), _caller(), scim_id, _body(),
                               if_match=request.headers.get("If-Match"), base=_base(g.scim_slug), now=now()))


@bp.patch("/Groups/<scim_id>")
@throttled(SCIM_PER_TOKEN)
def patch_group(scim_id: str):
    return _one(groups.modify(get_session(), _caller(), scim_id, _body(),
                              if_match=request.headers.get("If-Match"), base=_base(g.scim_slug), now=now()))


@bp.delete("/Groups/<scim_id>")
@throttled(SCIM_PER_TOKEN)
def delete_group(scim_id: str):
    groups.delete(get_session(), _caller(), scim_id, if_match=request.headers.get("If-Match"),
                  base=_base(g.scim_slug), now=now())
    return "", 204


# -- searching by POST (RFC 7644 §3.4.3) ---------------------------------------------------------------------

SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def _search_request() -> tuple[str | None, int, int, list[str] | None, list[str] | None]:
    _caller()
    body = _body()
    if not isinstance(body, dict):
        raise invalid_syntax("A search is a JSON object.")
    body = {key.lower(): value for key, value in body.items()}
    filter_text = body.get("filter")
    if filter_text is not None and not isinstance(filter_text, str):
        raise invalid_value("filter is a string.")
    try:
        start = int(body.get("startindex", 1))
        count = int(body.get("count", schemas.MAX_RESULTS))
    except (TypeError, ValueError):
        raise invalid_value("startIndex and count are integers.") from None
    lists = []
    for name in ("attributes", "excludedattributes"):
        value = body.get(name)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise invalid_value(f"{name} is a list of attribute names.")
        lists.append(value[:50] if value else None)
    return filter_text, max(1, min(start, 10**9)), max(0, min(count, schemas.MAX_RESULTS)), lists[0], lists[1]


@bp.post("/Users/.search")
@throttled(SCIM_PER_TOKEN)
def search_users():
    filter_text, start, count, attributes, excluded = _search_request()
    total, found = users.list_users(get_session(), _caller(), filter_text=filter_text, start=start, count=count,
                                    base=_base(g.scim_slug))
    shown = [schemas.project(resource, attributes, excluded) for resource in found]
    return _answer(schemas.list_response(shown, total=total, start=start))


@bp.post("/Groups/.search")
@throttled(SCIM_PER_TOKEN)
def search_groups():
    filter_text, start, count, attributes, excluded = _search_request()
    total, found = groups.list_groups(get_session(), _caller(), filter_text=filter_text, start=start, count=count,
                                      base=_base(g.scim_slug))
    shown = [schemas.project(resource, attributes, excluded) for resource in found]
    return _answer(schemas.list_response(shown, total=total, start=start))


@bp.post("/.search")
@throttled(SCIM_PER_TOKEN)
def search_all():
    """Users, then groups: each type the filter applies to (RFC 7644 §3.4.3, at the root)."""
    filter_text, start, count, attributes, excluded = _search_request()
    db, base = get_session(), _base(g.scim_slug)
    pages, applies = [], 0
    for listing in (users.list_users, groups.list_groups):
        try:
            total, _ = listing(db, _caller(), filter_text=filter_text, start=1, count=0, base=base)
        except errors.ScimError as exc:
            if exc.scim_type != "invalidFilter":
                raise
            pages.append((listing, None))
            continue
        applies += 1
        pages.append((listing, total))
    if not applies:
        users.list_users(db, _caller(), filter_text=filter_text, start=1, count=0, base=base)  # says why
    found, skip, wanted = [], start - 1, count
    for listing, total in pages:
        if not total or wanted <= 0:
            continue
        if skip >= total:
            skip -= total
            continue
        _, page = listing(db, _caller(), filter_text=filter_text, start=skip + 1, count=wanted, base=base)
        found += page
        wanted -= len(page)
        skip = 0
    shown = [schemas.project(resource, attributes, excluded) for resource in found]
    return _answer(schemas.list_response(shown, total=sum(t or 0 for _, t in pages), start=start))
