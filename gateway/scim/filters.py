"""SCIM filters and attribute paths (RFC 7644 §3.4.2.2, §3.5.2), parsed into a small tree.

The grammar, from the RFC's ABNF:

    FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
    valuePath = attrPath "[" valFilter "]"
    attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
    logExp    = FILTER SP ("and" / "or") SP FILTER
    compValue = false / null / true / number / string
    attrPath  = [URI ":"] ATTRNAME *1subAttr

"not" binds tightest, then "and", then "or" (§3.4.2.2: "logical operators … in order of
precedence"); operators and attribute names are case-insensitive. A tree is then compiled to a
SQLAlchemy condition by the resource's own resolver (gateway.scim.users, .groups), or evaluated
against a JSON value (for PATCH's `members[value eq "…"]`, `emails[type eq "work"]`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from gateway.scim.errors import invalid_filter, invalid_path

COMPARE_OPS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})
MAX_FILTER_LENGTH = 2000
MAX_DEPTH = 20

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@dataclass(frozen=True)
class AttrPath:
    """`name.sub`, lower-cased (attribute names are case-insensitive); `schema` is the URI prefix, if any."""

    name: str
    sub: str | None = None
    schema: str | None = None

    @property
    def dotted(self) -> str:
        return f"{self.name}.{self.sub}" if self.sub else self.name


@dataclass(frozen=True)
class Compare:
    path: AttrPath
    op: str
    value: Any


@dataclass(frozen=True)
class Present:
    path: AttrPath


@dataclass(frozen=True)
class And:
    left: Any
    right: Any


@dataclass(frozen=True)
class Or:
    left: Any
    right: Any


@dataclass(frozen=True)
class Not:
    inner: Any


@dataclass(frozen=True)
class ValuePath:
    """`emails[type eq "work"]`: the inner filter applies to each value of a multi-valued attribute."""

    path: AttrPath
    filter: Any


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<lparen>\() | (?P<rparen>\)) | (?P<lbracket>\[) | (?P<rbracket>\])
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.:$-]))
    | (?P<word>[A-Za-z$][\w.:$-]*)
    )""", re.VERBOSE)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise invalid_filter(f"The filter cannot be read at character {position + 1}.")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def parse_attr_path(text: str, *, default_schema: str | None = None) -> AttrPath:
    """`userName`, `name.givenName`, `urn:…:User:userName`, `urn:…:enterprise:2.0:User:manager.value`.

    :raise ScimError: invalidFilter for a malformed path.
    """
    schema = None
    if text.lower().startswith("urn:"):
        schema, _, text = text.rpartition(":")
        if not schema or not text:
            raise invalid_filter(f"{text!r} is not an attribute path.")
    parts = text.split(".")
    if len(parts) > 2 or not all(re.fullmatch(r"[A-Za-z$][\w$-]*", part) for part in parts):
        raise invalid_filter(f"{text!r} is not an attribute path.")
    if schema is not None and schema.lower() not in (USER_SCHEMA.lower(), GROUP_SCHEMA.lower(),
                                                      ENTERPRISE_SCHEMA.lower()):
        raise invalid_filter(f"Unknown schema {schema!r}.")
    return AttrPath(parts[0].lower(), parts[1].lower() if len(parts) == 2 else None,
                    schema.lower() if schema else None)


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens, self.i, self.depth = tokens, 0, 0

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        return self.tokens[self.i + offset] if self.i + offset < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise invalid_filter("The filter ends too early.")
        self.i += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].lower() == word:
            self.i += 1
            return True
        return False

    def expect(self, kind: str) -> None:
        if self.take()[0] != kind:
            raise invalid_filter(f"Expected {'a closing parenthesis' if kind == 'rparen' else kind}.")

    def filter(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise invalid_filter("The filter is nested too deeply.")
        node = self.conjunction()
        while self.keyword("or"):
            node = Or(node, self.conjunction())
        self.depth -= 1
        return node

    def conjunction(self):
        node = self.factor()
        while self.keyword("and"):
            node = And(node, self.factor())
        return node

    def factor(self):
        token = self.peek()
        if token and token[0] == "word" and token[1].lower() == "not":
            following = self.peek(1)
            if following and following[0] == "lparen":
                self.i += 2
                inner = self.filter()
                self.expect("rparen")
                return Not(inner)
        if token and token[0] == "lparen":
            self.i += 1
            inner = self.filter()
            self.expect("rparen")
            return inner
        return self.attribute_expression()

    def attribute_expression(self):
        kind, text = self.take()
        if kind != "word":
            raise invalid_filter(f"Expected an attribute name, found {text!r}.")
        path = parse_attr_path(text)
        following = self.peek()
        if following and following[0] == "lbracket":
            self.i += 1
            if path.sub:
                raise invalid_filter("A value filter follows an attribute, not a sub-attribute.")
            inner = self.filter()
            self.expect("rbracket")
            return ValuePath(path, inner)
        kind, op = self.take()
        op = op.lower()
        if kind != "word" or (op != "pr" and op not in COMPARE_OPS):
            raise invalid_filter(f"{op!r} is not a comparison operator (eq ne co sw ew gt ge lt le pr).")
        if op == "pr":
            return Present(path)
        return Compare(path, op, self.value())

    def value(self):
        kind, text = self.take()
        if kind == "string":
            try:
                return json.loads(text)
            except ValueError:
                raise invalid_filter(f"{text} is not a valid string.") from None
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "word" and text.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text.lower()]
        raise invalid_filter(f"{text!r} is not a value (a quoted string, number, true, false or null).")


def parse_filter(text) -> Any:
    """The tree of a filter expression. :raise ScimError: invalidFilter."""
    if not isinstance(text, str) or not text.strip():
        raise invalid_filter("The filter is empty.")
    if len(text) > MAX_FILTER_LENGTH:
        raise invalid_filter("The filter is too long.")
    parser = _Parser(_tokens(text))
    node = parser.filter()
    if parser.peek() is not None:
        raise invalid_filter(f"Unexpected {parser.peek()[1]!r} in the filter.")
    return node


@dataclass(frozen=True)
class PatchPath:
    """A PATCH `path` (§3.5.2): `attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub`."""

    attr: AttrPath
    filter: Any = None
    sub: str | None = None


def parse_patch_path(text) -> PatchPath:
    """:raise ScimError: invalidPath."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_FILTER_LENGTH:
        raise invalid_path("The path is empty or too long.")
    text = text.strip()
    try:
        if "[" not in text:
            return PatchPath(parse_attr_path(text))
        head, _, rest = text.partition("[")
        inner, closing, tail = rest.rpartition("]")
        if not closing:
            raise invalid_path("The path's value filter is not closed.")
        sub = None
        if tail:
            if not re.fullmatch(r"\.[A-Za-z$][\w$-]*", tail):
                raise invalid_path(f"{tail!r} cannot follow a value filter.")
            sub = tail[1:].lower()
        attr = parse_attr_path(head)
        if attr.sub:
            raise invalid_path("A value filter follows an attribute, not a sub-attribute.")
        return PatchPath(attr, parse_filter(inner), sub)
    except Exception as exc:  # a filter error inside a path is a path error (§3.5.2: invalidPath)
        if getattr(exc, "scim_type", None) == "invalidFilter":
            raise invalid_path(exc.message) from None
        raise


# -- evaluation against JSON values (PATCH value filters) --------------------------------------

def _lookup(obj: dict, path: AttrPath):
    def get(mapping, key):
        if not isinstance(mapping, dict):
            return None
        return next((value for name, value in mapping.items() if name.lower() == key), None)
    value = get(obj, path.name)
    return get(value, path.sub) if path.sub else value


def _compare_values(actual, op: str, expected) -> bool:
    if isinstance(actual, list):
        return any(_compare_values(item, op, expected) for item in actual)
    if op == "eq":
        return _normalize(actual) == _normalize(expected)
    if op == "ne":
        return _normalize(actual) != _normalize(expected)
    if actual is None or expected is None:
        return False
    if isinstance(actual, str) and isinstance(expected, str):
        a, e = actual.lower(), expected.lower()
        return {"co": e in a, "sw": a.startswith(e), "ew": a.endswith(e), "gt": a > e, "ge": a >= e,
                "lt": a < e, "le": a <= e}[op]
    if isinstance(actual, bool) or isinstance(expected, bool):
        raise invalid_filter(f"{op} does not apply to booleans.")
    if isinstance(actual, (int, float)) and isinstance(expected, (int, float)):
        return {"gt": actual > expected, "ge": actual >= expected, "lt": actual < expected,
                "le": actual <= expected}.get(op, False)
    return False


def _normalize(value):
    # String comparisons of the attributes we filter in memory (member ids, email types and
    # addresses) are not case-exact, except ids, which are UUIDs and compared as we issue them.
    return value.lower() if isinstance(value, str) else value


def matches(node, obj: dict) -> bool:
    """Whether a JSON object (one value of a multi-valued attribute) passes the filter."""
    if isinstance(node, And):
        return matches(node.left, obj) and matches(node.right, obj)
    if isinstance(node, Or):
        return matches(node.left, obj) or matches(node.right, obj)
    if isinstance(node, Not):
        return not matches(node.inner, obj)
    if isinstance(node, Present):
        value = _lookup(obj, node.path)
        return value not in (None, "", [], {})
    if isinstance(node, Compare):
        return _compare_values(_lookup(obj, node.path), node.op, node.value)
    if isinstance(node, ValuePath):
        values = _lookup(obj, node.path)
        values = values if isinstance(values, list) else [values] if isinstance(values, dict) else []
        return any(matches(node.filter, value) for value in values)
    raise invalid_filter("Unsupported filter.")


def parse_datetime(value) -> datetime:
    """:raise ScimError: invalidFilter for anything but an xsd:dateTime."""
    if not isinstance(value, str):
        raise invalid_filter("Compare dates with a quoted xsd:dateTime.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise invalid_filter(f"{value!r} is not a date and time.") from None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise invalid_filter(f"{value!r} is out of range.") from None


Resolver = Callable[[Any], Any]


# -- compilation to SQL ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    """What a resource's resolver answers for an attribute: a SQL expression and how it compares.

    `kind` is "string", "boolean" or "datetime"; `case_exact` False means the column holds the value
    lower-cased (or is compared lower-cased) and the filter's value is lower-cased to match.
    `eq` may replace equality (a condition built by the resolver, for an attribute kept in two places).
    """

    expr: Any
    kind: str = "string"
    case_exact: bool = False
    eq: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class Constant:
    """An attribute every resource has with one value (our single email's type is "work")."""

    value: Any


def to_sql(node, resolve: Callable[[AttrPath], Column | Constant | Callable]):
    """A SQLAlchemy condition for a filter tree. `resolve` maps an attribute path to a Column or a
    Constant; for a multi-valued attribute filtered with [...] it may return a function of the inner
    condition (an EXISTS). :raise ScimError: invalidFilter for attributes or operators that do not apply.
    """
    from sqlalchemy import and_, false, not_, or_, true

    if isinstance(node, And):
        return and_(to_sql(node.left, resolve), to_sql(node.right, resolve))
    if isinstance(node, Or):
        return or_(to_sql(node.left, resolve), to_sql(node.right, resolve))
    if isinstance(node, Not):
        return not_(to_sql(node.inner, resolve))
    if isinstance(node, ValuePath):
        def inner(path: AttrPath):
            if path.sub:
                raise invalid_filter("Inside [...], name sub-attributes of the filtered attribute only.")
            return resolve(AttrPath(node.path.name, path.name, node.path.schema))
        return to_sql(node.filter, inner)
    target = resolve(node.path)
    if isinstance(target, Constant):
        if isinstance(node, Present):
            return true() if target.value not in (None, "") else false()
        return true() if _compare_values(target.value, node.op, node.value) else false()
    if isinstance(node, Present):
        return target.expr.is_not(None) & (target.expr != "") if target.kind == "string" else target.expr.is_not(None)
    return _compare_sql(target, node.op, node.value)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _compare_sql(target: Column, op: str, value):
    from sqlalchemy import false

    expr = target.expr
    if target.kind == "boolean":
        if op not in ("eq", "ne") or not isinstance(value, bool):
            raise invalid_filter("Compare a boolean attribute with eq or ne and true or false.")
        return (expr == value) if op == "eq" else (expr != value)
    if target.kind == "datetime":
        if op in ("co", "sw", "ew"):
            raise invalid_filter(f"{op} does not apply to dates.")
        when = parse_datetime(value)
    else:
        if value is None:
            if op == "eq":
                return expr.is_(None)
            if op == "ne":
                return expr.is_not(None)
            raise invalid_filter(f"{op} null means nothing.")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise invalid_filter("Compare a text attribute with a quoted string.")
        value = str(value)
        if not target.case_exact:
            value = value.lower()
        if op == "eq" and target.eq is not None:
            return target.eq(value)
        if op in ("co", "sw", "ew"):
            pattern = {"co": "%{}%", "sw": "{}%", "ew": "%{}"}[op].format(_like_escape(value))
            return expr.like(pattern, escape="\\")
        when = value
    operations = {"eq": expr == when, "ne": expr != when, "gt": expr > when, "ge": expr >= when,
                  "lt": expr < when, "le": expr <= when}
    if op not in operations:
        return false()
    condition = operations[op]
    return (condition | expr.is_(None)) if op == "ne" else condition
