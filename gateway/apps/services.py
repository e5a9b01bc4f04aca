"""Registering applications: where each is, and the rule that says who may reach it.

A route is "host[:port][/path-prefix]" as an admin writes it; gateway.apps.urls normalises it the
way /auth/verify normalises the URL it is asked about, so that the two meet. A host is one
organization's: the first to register it has it (the database decides, gateway.apps.models.AppHost).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from gateway.accounts.models import User
from gateway.apps import rules
from gateway.apps.models import (
    Access,
    App,
    AppHost,
    AppRoute,
    AppRuleGroup,
    AppRuleRole,
)
from gateway.apps.urls import BadUrl, host_key, prefix_key
from gateway.audit.actions import AuditAction
from gateway.audit.service import record
from gateway.db import insert_if_absent
from gateway.errors import BadRequest, Conflict, NotFound
from gateway.groups import services as groups
from gateway.groups.models import Group, GroupMember
from gateway.oidc.models import OidcClient
from gateway.orgs import roles
from gateway.orgs.access import AdminScope
from gateway.orgs.models import Membership, MemberStatus
from gateway.params import row_id

MAX_ROUTES = 20


@dataclass(frozen=True)
class AppView:
    id: int
    name: str
    routes: list[str]
    access: str
    roles: list[str]
    groups: list[str]
    requires_mfa: bool
    oidc_client: int | None = None  # the OpenID Connect client this app is (its id), if it is one

    @property
    def rule(self) -> rules.Rule:
        return rules.Rule(self.access == Access.EVERYONE, frozenset(self.roles), frozenset(self.groups))


def parse_route(text) -> tuple[str, str]:
    """"wiki.example.com/docs" → ("wiki.example.com", "/docs"). :raise BadRequest: not a route."""
    text = str(text or "").strip()
    host, slash, path = text.partition("/")
    try:
        return host_key(host), prefix_key(slash + path)
    except BadUrl as exc:
        raise BadRequest(f"{text[:100]!r} is not a host with an optional path prefix: {exc}", code="invalid_route",
                         field="routes") from None


def route_text(host: str, prefix: str) -> str:
    return host if prefix == "/" else host + prefix


def list_apps(db: Session, org_id: int) -> list[AppView]:
    apps = list(db.scalars(select(App).where(App.org_id == org_id).order_by(App.name, App.id)))
    return _views(db, apps)


def get_app(db: Session, org_id: int, app_id) -> App:
    """:raise NotFound: no such app in this organization."""
    app_id = row_id(app_id)
    app = db.get(App, app_id) if app_id is not None else None
    if app is None or app.org_id != org_id:
        raise NotFound("There is no such application in this organization.", code="unknown_app")
    return app


def view(db: Session, app: App) -> AppView:
    return _views(db, [app])[0]


def create_app(db: Session, scope: AdminScope, *, name, routes, access=Access.EVERYONE, roles_=(), groups_=(),
               requires_mfa: bool = False, now: datetime, needs_routes: bool = True) -> App:
    """:raise BadRequest: a bad name, route, role or group. :raise Conflict: the name is taken here, or a
    host is another organization's, or a route is another app's. (An OpenID Connect client's app
    signs in through the provider and `needs_routes` not: it may be behind no proxy at all.)"""
    name, access, routes = _name(name), _access(access), _parse_routes(routes, needs_routes)
    rule = _rule(db, scope.org_id, roles_, groups_)  # everything is checked before anything is written
    _ensure_name_free(db, scope.org_id, name)
    app = App(org_id=scope.org_id, name=name, access=access, requires_mfa=bool(requires_mfa),
              created_at=now, updated_at=now)
    db.add(app)
    db.flush()
    _set_routes(db, scope, app, routes)
    _set_rule(db, app, *rule)
    record(db, scope.actor, AuditAction.APP_CREATE, now=now, org_id=scope.org_id, app=name, **_summary(db, app))
    return app


_UNSET = object()


def update_app(db: Session, scope: AdminScope, app_id, *, name=_UNSET, routes=_UNSET, access=_UNSET, roles_=_UNSET,
               groups_=_UNSET, requires_mfa=_UNSET, now: datetime) -> App:
    """Change what is given; the rest stays."""
    app = get_app(db, scope.org_id, app_id)
    routes = _UNSET if routes is _UNSET else _parse_routes(routes, not _is_oidc_client(db, app))
    rule = None
    if roles_ is not _UNSET or groups_ is not _UNSET:
        current = view(db, app)
        rule = _rule(db, scope.org_id, current.roles if roles_ is _UNSET else roles_,
                     current.groups if groups_ is _UNSET else groups_)
    if name is not _UNSET and (name := _name(name)) != app.name:
        _ensure_name_free(db, scope.org_id, name)
        app.name = name
    if access is not _UNSET:
        app.access = _access(access)
    if requires_mfa is not _UNSET:
        app.requires_mfa = bool(requires_mfa)
    if routes is not _UNSET:
        _set_routes(db, scope, app, routes)
    if rule is not None:
        _set_rule(db, app, *rule)
    app.updated_at = now
    db.flush()
    record(db, scope.actor, AuditAction.APP_UPDATE, now=now, org_id=scope.org_id, app=app.name, **_summary(db, app))
    return app


def delete_app(db: Session, scope: AdminScope, app_id, *, now: datetime) -> None:
    """The app, its routes and rule; an OpenID Connect client's app takes the client along."""
    app = get_app(db, scope.org_id, app_id)
    if client_id := db.scalar(select(OidcClient.client_id).where(OidcClient.app_id == app.id)):
        record(db, scope.actor, AuditAction.OIDC_CLIENT_DELETE, now=now, org_id=scope.org_id, app=app.name,
               client_id=client_id)
    db.execute(delete(AppRoute).where(AppRoute.app_id == app.id))
    _release_unused_hosts(db, scope.org_id)
    db.delete(app)
    record(db, scope.actor, AuditAction.APP_DELETE, now=now, org_id=scope.org_id, app=app.name)


# -- routes and hosts ----------------------------------------------------------------------------

def _parse_routes(texts, needed: bool = True) -> list[tuple[str, str]]:
    if isinstance(texts, str):
        texts = texts.split()
    wanted = sorted({parse_route(text) for text in texts})
    if not wanted and needed:
        raise BadRequest("An application needs at least one host.", code="no_routes", field="routes")
    if len(wanted) > MAX_ROUTES:
        raise BadRequest(f"An application has at most {MAX_ROUTES} routes.", code="too_many_routes", field="routes")
    return wanted


def _set_routes(db: Session, scope: AdminScope, app: App, wanted: list[tuple[str, str]]) -> None:
    db.execute(delete(AppRoute).where(AppRoute.app_id == app.id))
    for host in sorted({host for host, _prefix in wanted}):
        _claim(db, scope.org_id, host)
    for host, prefix in wanted:
        if db.scalar(select(AppRoute.app_id).where(AppRoute.host == host, AppRoute.path_prefix == prefix)):
            raise Conflict(f"{route_text(host, prefix)} is another application's already.", code="route_taken",
                           field="routes")
        db.add(AppRoute(app_id=app.id, host=host, path_prefix=prefix))
    db.flush()
    _release_unused_hosts(db, scope.org_id)


def _claim(db: Session, org_id: int, host: str) -> None:
    """:raise Conflict: the host is another organization's. Of two organizations claiming one host at
    once, the primary key lets exactly one insert it."""
    if insert_if_absent(db, AppHost, host=host, org_id=org_id):
        return
    if db.scalar(select(AppHost.org_id).where(AppHost.host == host)) != org_id:
        raise Conflict(f"{host} is registered by another organization.", code="host_taken", field="routes")


def _release_unused_hosts(db: Session, org_id: int) -> None:
    db.execute(delete(AppHost).where(AppHost.org_id == org_id,
                                     ~exists().where(AppRoute.host == AppHost.host)))


# -- the rule ------------------------------------------------------------------------------------

def _rule(db: Session, org_id: int, role_names, group_names) -> tuple[set[str], list[int]]:
    """The rule's roles and group ids. :raise BadRequest: one is not a role or group here."""
    if isinstance(role_names, str) or isinstance(group_names, str):
        raise BadRequest("Roles and groups are lists of names.", code="invalid_rule", field="roles")
    known = set(roles.names(db, org_id))
    wanted_roles = {str(name or "").strip().lower() for name in role_names}
    if unknown := sorted(wanted_roles - known):
        raise BadRequest(f"There is no role named {unknown[0][:40]} in this organization.", code="unknown_role",
                         field="roles")
    return wanted_roles, sorted(groups.ids_named(db, org_id, group_names).values())


def _set_rule(db: Session, app: App, wanted_roles: set[str], group_ids: list[int]) -> None:
    db.execute(delete(AppRuleRole).where(AppRuleRole.app_id == app.id))
    db.execute(delete(AppRuleGroup).where(AppRuleGroup.app_id == app.id))
    db.add_all([AppRuleRole(app_id=app.id, role=name) for name in sorted(wanted_roles)])
    db.add_all([AppRuleGroup(app_id=app.id, group_id=group_id) for group_id in group_ids])
    db.flush()


def _is_oidc_client(db: Session, app: App) -> bool:
    return db.scalar(select(exists().where(OidcClient.app_id == app.id)))


def _views(db: Session, apps: list[App]) -> list[AppView]:
    ids = [app.id for app in apps]
    routes, role_names, group_names = {}, {}, {}
    for app_id, host, prefix in db.execute(select(AppRoute.app_id, AppRoute.host, AppRoute.path_prefix)
                                           .where(AppRoute.app_id.in_(ids)).order_by(AppRoute.host,
                                                                                     AppRoute.path_prefix)):
        routes.setdefault(app_id, []).append(route_text(host, prefix))
    for app_id, role in db.execute(select(AppRuleRole.app_id, AppRuleRole.role).where(AppRuleRole.app_id.in_(ids))
                                   .order_by(AppRuleRole.role)):
        role_names.setdefault(app_id, []).append(role)
    for app_id, group in db.execute(select(AppRuleGroup.app_id, Group.name)
                                    .join(Group, Group.id == AppRuleGroup.group_id)
                                    .where(AppRuleGroup.app_id.in_(ids)).order_by(Group.name)):
        group_names.setdefault(app_id, []).append(group)
    clients = dict(db.execute(select(OidcClient.app_id, OidcClient.id).where(OidcClient.app_id.in_(ids))).all())
    return [AppView(app.id, app.name, routes.get(app.id, []), str(app.access), role_names.get(app.id, []),
                    group_names.get(app.id, []), app.requires_mfa, clients.get(app.id)) for app in apps]


def _summary(db: Session, app: App) -> dict:
    current = view(db, app)
    return {"routes": current.routes, "access": current.access, "roles": current.roles, "groups": current.groups,
            "requires_mfa": current.requires_mfa}


def _name(value) -> str:
    name = " ".join(str(value or "").split())
    if not 1 <= len(name) <= 80:
        raise BadRequest("An application's name is 1 to 80 characters.", code="invalid_name", field="name")
    return name


def _access(value) -> Access:
    try:
        return Access(str(value).strip().lower())
    except ValueError:
        raise BadRequest("Access is everyone or listed.", code="invalid_access", field="access") from None


def _ensure_name_free(db: Session, org_id: int, name: str) -> None:
    if db.scalar(select(App.id).where(App.org_id == org_id, App.name == name)) is not None:
        raise Conflict(f"The organization has an application named {name} already.", code="app_exists",
                       field="name")


# -- who reaches what ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Reachable:
    app: AppView
    why: str | None  # None: the rule does not admit them


@dataclass(frozen=True)
class Reacher:
    user_id: int
    name: str
    email: str
    role: str
    why: str


def reach_of_member(db: Session, org_id: int, user_id) -> list[Reachable]:
    """Every app of the organization, each with why the member reaches it (or None). An inactive
    member reaches nothing, whatever the rules say.

    :raise NotFound: not a member here.
    """
    membership = _membership(db, org_id, user_id)
    member_groups = set(groups.names_of(db, membership.id))
    active = membership.status == MemberStatus.ACTIVE
    return [Reachable(app, app.rule.why(membership.role_name, member_groups) if active else None)
            for app in list_apps(db, org_id)]


def reachers(db: Session, org_id: int, app_id) -> list[Reacher]:
    """The active members the app's rule admits, each with why."""
    app = view(db, get_app(db, org_id, app_id))
    member_groups = {}
    for membership_id, name in db.execute(select(GroupMember.membership_id, Group.name)
                                          .join(Group, Group.id == GroupMember.group_id)
                                          .where(Group.org_id == org_id)):
        member_groups.setdefault(membership_id, set()).add(name)
    found = []
    for membership, user in db.execute(select(Membership, User).join(User, User.id == Membership.user_id)
                                       .where(Membership.org_id == org_id, Membership.status == MemberStatus.ACTIVE)
                                       .order_by(User.name, User.id)):
        why = app.rule.why(membership.role_name, member_groups.get(membership.id, ()))
        if why is not None:
            found.append(Reacher(user.id, user.name, user.email, membership.role_name, why))
    return found


def _membership(db: Session, org_id: int, user_id) -> Membership:
    user_id = row_id(user_id)
    membership = db.scalar(select(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id)) \
        if user_id is not None else None
    if membership is None:
        raise NotFound("There is no such member in this organization.", code="unknown_member")
    return membership
