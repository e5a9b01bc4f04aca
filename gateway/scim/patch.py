"""PATCH (RFC 7644 §3.5.2) applied to a resource's JSON, in the spellings IdPs send.

Entra ID writes operations capitalised ("Add", "Replace", "Remove") and booleans as strings
("False"); both Entra and Okta send `{"op": "replace", "value": {"active": false}}` without a path.
Users are small: their PATCH is applied to their JSON here and the result saved like a PUT.
Group members are not: gateway.scim.groups turns member operations into row inserts and deletes,
so that two PATCHes adding different members at once lose neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.scim.errors import invalid_syntax, invalid_value, no_target
from gateway.scim.filters import AttrPath, PatchPath, matches, parse_attr_path, parse_patch_path
from gateway.scim.schemas import MAX_OPERATIONS, PATCH_SCHEMA


@dataclass(frozen=True)
class Operation:
    op: str                   # add | replace | remove
    path: PatchPath | None
    value: Any


def operations(body) -> list[Operation]:
    """The body's operations, checked for shape. :raise ScimError: invalidSyntax, invalidPath, invalidValue."""
    if not isinstance(body, dict):
        raise invalid_syntax("A PATCH body is a JSON object.")
    schemas = body.get("schemas")
    if schemas is not None and (not isinstance(schemas, list) or PATCH_SCHEMA not in schemas):
        raise invalid_syntax(f"A PATCH body names the schema {PATCH_SCHEMA}.")
    ops = next((value for key, value in body.items() if key.lower() == "operations"), None)
    if not isinstance(ops, list) or not ops:
        raise invalid_syntax("A PATCH body has a non-empty list of Operations.")
    if len(ops) > MAX_OPERATIONS:
        raise invalid_syntax(f"At most {MAX_OPERATIONS} operations per PATCH.")
    parsed = []
    for item in ops:
        if not isinstance(item, dict):
            raise invalid_syntax("Each operation is a JSON object.")
        item = {key.lower(): value for key, value in item.items()}
        op = item.get("op")
        if not isinstance(op, str) or op.lower() not in ("add", "replace", "remove"):
            raise invalid_syntax("Each operation's op is add, replace or remove.")
        op = op.lower()
        path = parse_patch_path(item["path"]) if item.get("path") not in (None, "") else None
        if op == "remove" and path is None:
            raise no_target("A remove names a path (RFC 7644 §3.5.2.2).")
        if op != "remove" and "value" not in item:
            raise invalid_syntax(f"An {op} operation carries a value.")
        if path is None and not isinstance(item.get("value"), dict):
            raise invalid_syntax(f"An {op} without a path carries an object of attributes.")
        parsed.append(Operation(op, path, item.get("value")))
    return parsed


def without_path(operation: Operation) -> list[Operation]:
    """An add/replace of `{"attr": value, …}` as one operation per attribute (what §3.5.2.1 means by it)."""
    split = []
    for key, value in operation.value.items():
        if key.lower().startswith("urn:") and isinstance(value, dict):
            # An extension's attributes, grouped under its URN.
            for sub_key, sub_value in value.items():
                split.append(Operation(operation.op, PatchPath(parse_attr_path(f"{key}:{sub_key}")), sub_value))
            continue
        split.append(Operation(operation.op, PatchPath(parse_attr_path(key)), value))
    return split


# RFC 7643's spelling of the names a PATCH may add, for attributes a document does not have yet.
_SPELLING = {name.lower(): name for name in (
    "userName", "displayName", "externalId", "nickName", "profileUrl", "userType", "preferredLanguage",
    "givenName", "familyName", "middleName", "honorificPrefix", "honorificSuffix", "phoneNumbers")}


def _key(document: dict, name: str) -> str:
    """The document's own spelling of an attribute name (names are case-insensitive)."""
    return next((key for key in document if key.lower() == name), _SPELLING.get(name, name))


def _multi(value) -> list:
    return value if isinstance(value, list) else [value]


def apply(document: dict, ops: list[Operation], *, multi_valued: set[str]) -> dict:
    """The document after the operations. `multi_valued` names (lower-case) the multi-valued attributes."""
    for operation in ops:
        if operation.path is None:
            apply(document, without_path(operation), multi_valued=multi_valued)
            continue
        _apply_one(document, operation, multi_valued)
    return document


def _apply_one(document: dict, operation: Operation, multi_valued: set[str]) -> None:
    path, op, value = operation.path, operation.op, operation.value
    attr: AttrPath = path.attr
    if attr.schema and "enterprise" in attr.schema:
        return  # the enterprise extension's attributes are accepted and not kept
    key = _key(document, attr.name)
    if path.filter is not None:
        _apply_filtered(document, key, operation)
        return
    if attr.sub:
        parent = document.get(key)
        if attr.name in multi_valued:
            items = [item for item in (parent or []) if isinstance(item, dict)]
            if op == "remove":
                for item in items:
                    item.pop(_key(item, attr.sub), None)
            else:
                if not items:
                    items = [{}]
                    document[key] = items
                for item in items:
                    item[_key(item, attr.sub)] = value
            return
        if op == "remove":
            if isinstance(parent, dict):
                parent.pop(_key(parent, attr.sub), None)
            return
        parent = parent if isinstance(parent, dict) else {}
        parent[_key(parent, attr.sub)] = value
        document[key] = parent
        return
    if op == "remove":
        if isinstance(value, list) and attr.name in multi_valued:
            # Okta and Entra: remove these values of a multi-valued attribute.
            gone = [item for item in value if isinstance(item, dict)]
            document[key] = [item for item in document.get(key) or []
                             if not any(_same_value(item, other) for other in gone)]
        else:
            document.pop(key, None)
        return
    if attr.name in multi_valued:
        values = _multi(value)
        if op == "add":
            current = list(document.get(key) or [])
            document[key] = current + [item for item in values if not any(_same_value(item, old) for old in current)]
        else:
            document[key] = values
        return
    if op == "add" and isinstance(value, dict) and isinstance(document.get(key), dict):
        document[key].update(value)
        return
    document[key] = value


def _same_value(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        va, vb = a.get(_key(a, "value")), b.get(_key(b, "value"))
        if isinstance(va, str) and isinstance(vb, str):
            return va.lower() == vb.lower()
        return va == vb
    return a == b


def _apply_filtered(document: dict, key: str, operation: Operation) -> None:
    path, op, value = operation.path, operation.op, operation.value
    items = document.get(key)
    items = [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []
    chosen = [item for item in items if matches(path.filter, item)]
    if op == "remove":
        if path.sub:
            for item in chosen:
                item.pop(_key(item, path.sub), None)
        else:
            items = [item for item in items if item not in chosen]
        document[key] = items
        return
    if not chosen:
        # Entra adds a typed email as `emails[type eq "work"].value`: create the value the filter describes.
        seed = _seed(path.filter)
        if seed is None:
            raise no_target("No value matches the path's filter.")
        items.append(seed)
        chosen = [seed]
    for item in chosen:
        if path.sub:
            item[_key(item, path.sub)] = value
        elif isinstance(value, dict):
            item.update(value)
        else:
            raise invalid_value("A value filter without a sub-attribute takes an object.")
    document[key] = items


def _seed(node) -> dict | None:
    from gateway.scim.filters import And, Compare

    if isinstance(node, Compare) and node.op == "eq" and not node.path.sub:
        return {node.path.name: node.value}
    if isinstance(node, And):
        left, right = _seed(node.left), _seed(node.right)
        if left is not None and right is not None:
            return {**left, **right}
    return None
