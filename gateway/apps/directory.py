"""Which registered application a URL belongs to, held in memory by every worker.

/auth/verify asks on every request, the cached fast path included, so the answer must need no
database: each worker keeps the whole table of routes (host → path prefixes, longest first) and
reads it again only when the invalidation channel's generation moved (a change to an app, a
group, a role, anything gateway.sessions.cache counts as an access change) or cannot be trusted
(then on every request: slower, never stale).
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select

from gateway.apps.models import Access, App, AppRoute, AppRuleGroup, AppRuleRole
from gateway.apps.rules import Rule
from gateway.apps.urls import Target, prefix_matches
from gateway.groups.models import Group
from gateway.invalidation import Generational
from gateway.orgs.models import Organization


class AppEntry(NamedTuple):
    id: int
    name: str
    org_id: int
    org_slug: str
    org_name: str
    rule: Rule
    requires_mfa: bool


class Reach(NamedTuple):
    """What the directory says of a URL: the app it belongs to, if any, and whether its host is
    registered at all (a registered host's unrouted path belongs to no app and is refused)."""

    app: AppEntry | None
    registered_host: bool


NOWHERE = Reach(None, False)


class Directory:
    def __init__(self, routes: dict[str, list[tuple[str, AppEntry]]]):
        # Longest prefix first: "/wiki/admin" before "/wiki" before "/".
        self._hosts = {host: tuple(sorted(entries, key=lambda pair: -len(pair[0]))) for host, entries in routes.items()}

    def __len__(self) -> int:
        return len(self._hosts)

    def find(self, target: Target | None) -> Reach:
        if target is None:
            return NOWHERE
        routes = self._hosts.get(target.host)
        if routes is None:
            return NOWHERE
        for prefix, entry in routes:
            if prefix_matches(prefix, target.path):
                return Reach(entry, True)
        return Reach(None, True)


EMPTY = Directory({})

_APPS = (select(App.id, App.name, App.org_id, Organization.slug, Organization.name, App.access, App.requires_mfa)
         .join(Organization, Organization.id == App.org_id))
_ROUTES = select(AppRoute.app_id, AppRoute.host, AppRoute.path_prefix)
_ROLES = select(AppRuleRole.app_id, AppRuleRole.role)
_GROUPS = select(AppRuleGroup.app_id, Group.name).join(Group, Group.id == AppRuleGroup.group_id)


def entries(connection) -> dict[int, AppEntry]:
    """Every app's entry by id."""
    roles, groups = {}, {}
    for app_id, role in connection.execute(_ROLES):
        roles.setdefault(app_id, set()).add(role)
    for app_id, group in connection.execute(_GROUPS):
        groups.setdefault(app_id, set()).add(group)
    apps = {}
    for app_id, name, org_id, slug, org_name, access, requires_mfa in connection.execute(_APPS):
        rule = Rule(access == Access.EVERYONE, frozenset(roles.get(app_id, ())), frozenset(groups.get(app_id, ())))
        apps[app_id] = AppEntry(app_id, name, org_id, slug, org_name, rule, bool(requires_mfa))
    return apps


def load(connection) -> Directory:
    apps = entries(connection)
    routes = {}
    for app_id, host, prefix in connection.execute(_ROUTES):
        if app_id in apps:
            routes.setdefault(host, []).append((prefix, apps[app_id]))
    return Directory(routes)


class Directories:
    """A worker's directory, read again whenever the channel says access changed."""

    def __init__(self, sessions, channel):
        self.sessions = sessions  # sessions(): a new Session of the app's
        self._held = Generational(channel)

    def current(self) -> Directory:
        return self._held.get(self._load)

    def _load(self) -> Directory:
        with self.sessions() as db:
            return load(db.connection())
