"""/api/v1/orgs/<slug>/apps: the applications behind the gateway and who may reach them (the same
services as /admin/apps)."""

from __future__ import annotations

from gateway.api import body_as, bp, operation, scope_for
from gateway.api.schemas import (
    App,
    AppAccess,
    AppAnswer,
    AppChange,
    AppList,
    NewApp,
    NoContent,
    Reacher,
)
from gateway.apps import services as apps
from gateway.clock import now
from gateway.db import get_session

_APP = {"app_id": "/app/id"}
# The body's names → the services' keywords (`roles_`, `groups_`: the module's own names are taken).
_KEYWORDS = {"roles": "roles_", "groups": "groups_"}


def _app(app) -> AppAnswer:
    return AppAnswer(app=App.of(apps.view(get_session(), app)))


@bp.get("/orgs/<slug>/apps")
@operation(AppList)
def list_apps(slug: str):
    """The organization's applications, by name."""
    return AppList(apps=[App.of(a) for a in apps.list_apps(get_session(), scope_for(slug).org_id)])


@bp.post("/orgs/<slug>/apps")
@operation(AppAnswer, status=201, body=NewApp, refusals=(409,), links=_APP)
def create_app(slug: str):
    """Register an application: its routes, and who may reach it.

    400 `invalid_name`, `invalid_route`, `no_routes`, `too_many_routes`, `invalid_access`, `unknown_role`,
    `invalid_group_name`, `unknown_group`; 409 `app_exists` (the name), `route_taken` (another application's
    route), `host_taken` (a host another organization registered).
    """
    scope = scope_for(slug)
    body = body_as(NewApp)
    app = apps.create_app(get_session(), scope, name=body.name, routes=body.routes, access=body.access,
                          roles_=body.roles, groups_=body.groups, requires_mfa=body.requires_mfa, now=now())
    return _app(app)


@bp.get("/orgs/<slug>/apps/<app_id>")
@operation(AppAnswer)
def get_app(slug: str, app_id: str):
    """One application."""
    return _app(apps.get_app(get_session(), scope_for(slug).org_id, app_id))


@bp.patch("/orgs/<slug>/apps/<app_id>")
@operation(AppAnswer, body=AppChange, refusals=(409,))
def update_app(slug: str, app_id: str):
    """Change an application: what the body gives (routes and rule lists are replaced whole); the rest stays.

    400 and 409: as when it is registered.
    """
    scope = scope_for(slug)
    body = body_as(AppChange)
    changes = {_KEYWORDS.get(name, name): value for name, value in body.model_dump(exclude_unset=True).items()}
    return _app(apps.update_app(get_session(), scope, app_id, now=now(), **changes))


@bp.delete("/orgs/<slug>/apps/<app_id>")
@operation(NoContent, status=204)
def delete_app(slug: str, app_id: str):
    """Remove an application; its hosts are free for others to register."""
    apps.delete_app(get_session(), scope_for(slug), app_id, now=now())
    return NoContent()


@bp.get("/orgs/<slug>/apps/<app_id>/access")
@operation(AppAccess)
def app_access(slug: str, app_id: str):
    """Who may reach the application, and why: its rule applied to every active member."""
    scope = scope_for(slug)
    app = apps.view(get_session(), apps.get_app(get_session(), scope.org_id, app_id))
    reachers = apps.reachers(get_session(), scope.org_id, app_id)
    return AppAccess(app=App.of(app), members=[Reacher(user_id=r.user_id, name=r.name, email=r.email, role=r.role,
                                                       why=r.why) for r in reachers])
