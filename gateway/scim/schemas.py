"""Resource JSON (RFC 7643) and the discovery documents (RFC 7644 §4): what the IdP reads."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from gateway.scim.filters import GROUP_SCHEMA, USER_SCHEMA

LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
MAX_RESULTS = 200
MAX_OPERATIONS = 1000


def timestamp(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def version_of(document: dict) -> str:
    """A weak ETag of everything but `meta`: it changes whenever anything the IdP reads changes."""
    content = {key: value for key, value in document.items() if key != "meta"}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()[:20]
    return f'W/"{digest}"'


def with_meta(document: dict, *, resource_type: str, created: datetime, modified: datetime, location: str) -> dict:
    document["meta"] = {"resourceType": resource_type, "created": timestamp(created),
                        "lastModified": timestamp(modified), "location": location,
                        "version": version_of(document)}
    return document


def _attribute(name, type_="string", *, multi=False, required=False, case_exact=False, mutability="readWrite",
               returned="default", uniqueness="none", sub=None, description="", reference_types=None) -> dict:
    attribute = {"name": name, "type": type_, "multiValued": multi, "description": description or name,
                 "required": required, "caseExact": case_exact, "mutability": mutability, "returned": returned,
                 "uniqueness": uniqueness}
    if sub is not None:
        attribute["subAttributes"] = sub
    if reference_types is not None:
        attribute["referenceTypes"] = reference_types
    return attribute


# Only what we keep is published: a client that reads the schema (scim2-tester does) sends nothing we
# would drop. Attributes of RFC 7643 we do not keep are accepted on input and ignored (see users.py).
USER_ATTRIBUTES = [
    _attribute("userName", required=True, uniqueness="server",
               description="Unique in the organization, without regard to case."),
    # Published as required: every member has a name and a standing, so neither can be removed (a
    # POST without them gets the email's local part and true).
    _attribute("displayName", required=True, description="The person's name (3 to 40 characters)."),
    _attribute("active", "boolean", required=True,
               description="False: the membership is deactivated and every session ends."),
    _attribute("emails", "complex", multi=True, required=True, description="The account's email address (one).", sub=[
        _attribute("value", required=True, description="The address."),
        # One address per account: its type and primary flag are kept as the IdP sent them.
        _attribute("type", description="work, home or other (as sent)."),
        _attribute("primary", "boolean", description="As sent."),
    ]),
    _attribute("groups", "complex", multi=True, mutability="readOnly", description="The groups the member is in.",
               sub=[_attribute("value", mutability="readOnly"),
                    _attribute("$ref", "reference", mutability="readOnly", reference_types=["Group"]),
                    _attribute("display", mutability="readOnly")]),
]
GROUP_ATTRIBUTES = [
    _attribute("displayName", required=True, uniqueness="server",
               description="The group's name; apps receive it in X-Auth-Groups, lower-cased, in a-z 0-9 . _ : -."),
    _attribute("members", "complex", multi=True, description="Members of the organization in the group.", sub=[
        _attribute("value", mutability="immutable", description="The member's id."),
        _attribute("$ref", "reference", mutability="immutable", reference_types=["User"]),
    ]),
]


def schemas(base: str) -> list[dict]:
    return [
        {"schemas": [SCHEMA_SCHEMA], "id": USER_SCHEMA, "name": "User", "description": "A member of the organization",
         "attributes": USER_ATTRIBUTES, "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{USER_SCHEMA}"}},
        {"schemas": [SCHEMA_SCHEMA], "id": GROUP_SCHEMA, "name": "Group", "description": "A group of the organization",
         "attributes": GROUP_ATTRIBUTES,
         "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{GROUP_SCHEMA}"}},
    ]


def resource_types(base: str) -> list[dict]:
    return [
        {"schemas": [RESOURCE_TYPE_SCHEMA], "id": "User", "name": "User", "endpoint": "/Users",
         "description": "Members of the organization", "schema": USER_SCHEMA, "schemaExtensions": [],
         "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/User"}},
        {"schemas": [RESOURCE_TYPE_SCHEMA], "id": "Group", "name": "Group", "endpoint": "/Groups",
         "description": "Groups of the organization", "schema": GROUP_SCHEMA, "schemaExtensions": [],
         "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/Group"}},
    ]


def service_provider_config(base: str, docs_url: str) -> dict:
    return {
        "schemas": [SPC_SCHEMA],
        "documentationUri": docs_url,
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": True},
        "authenticationSchemes": [{
            "type": "oauthbearertoken", "name": "Bearer token", "primary": True,
            "description": "A token from `idgate scim token create` or the console's SCIM page.",
            "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base}/ServiceProviderConfig"},
    }


def list_response(resources: list[dict], *, total: int, start: int) -> dict:
    return {"schemas": [LIST_SCHEMA], "totalResults": total, "startIndex": start, "itemsPerPage": len(resources),
            "Resources": resources}


_ALWAYS = {"id", "schemas"}


def project(document: dict, attributes: list[str] | None, excluded: list[str] | None) -> dict:
    """RFC 7644 §3.4.2.5: `attributes` keeps only those (and id, schemas); `excludedAttributes` drops those."""
    if attributes:
        wanted: dict[str, set[str] | None] = {}
        for path in attributes:
            name, sub = _split(path)
            if sub is None:
                wanted[name] = None
            elif wanted.get(name, set()) is not None:
                wanted.setdefault(name, set()).add(sub)
        kept = {}
        for key, value in document.items():
            lowered = key.lower()
            if lowered in _ALWAYS:
                kept[key] = value
            elif lowered in wanted:
                subs = wanted[lowered]
                kept[key] = value if subs is None else _only(value, subs)
        return kept
    if excluded:
        dropped = {}
        for path in excluded:
            name, sub = _split(path)
            dropped.setdefault(name, set())
            if sub is None:
                dropped[name] = None
            elif dropped[name] is not None:
                dropped[name].add(sub)
        kept = {}
        for key, value in document.items():
            lowered = key.lower()
            if lowered in _ALWAYS or lowered not in dropped:
                kept[key] = value
            elif dropped[lowered] is not None:
                kept[key] = _without(value, dropped[lowered])
        return kept
    return document


def _split(path: str) -> tuple[str, str | None]:
    path = path.strip()
    if path.lower().startswith("urn:"):
        path = path.rpartition(":")[2]
    name, _, sub = path.partition(".")
    return name.lower(), sub.lower() or None


def _only(value, subs: set[str]):
    if isinstance(value, list):
        return [_only(item, subs) for item in value]
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k.lower() in subs}
    return value


def _without(value, subs: set[str]):
    if isinstance(value, list):
        return [_without(item, subs) for item in value]
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k.lower() not in subs}
    return value


def split_list(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [part for part in (p.strip() for p in value.split(",")) if part][:50]


