"""The registered OpenID Connect clients, held in memory by every worker.

Each authorization request asks twice for its client and each token request once: read from the
database each time, that was four queries a round trip. The table is read again only when the
invalidation channel's generation moved (any write to the clients, their URIs, apps, rules or
groups counts: gateway.sessions.cache) or cannot be trusted, and through the caller's own
connection: on SQLite a second one would wait for the write lock the request may hold.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select

from gateway.apps import directory
from gateway.apps.directory import AppEntry
from gateway.invalidation import Generational
from gateway.oidc.models import OidcClient, OidcClientUri, UriKind


class Registered(NamedTuple):
    id: int
    client_id: str
    app_id: int
    org_id: int
    secret_hash: str | None
    id_token_alg: str
    require_consent: bool
    backchannel_logout_uri: str | None
    redirect_uris: frozenset[str]
    post_logout_redirect_uris: frozenset[str]
    app: AppEntry | None  # its name, organization and access rule


_CLIENTS = select(OidcClient.id, OidcClient.client_id, OidcClient.app_id, OidcClient.org_id, OidcClient.secret_hash,
                  OidcClient.id_token_alg, OidcClient.require_consent, OidcClient.backchannel_logout_uri)
_URIS = select(OidcClientUri.client_pk, OidcClientUri.kind, OidcClientUri.uri)


def load(connection) -> dict[str, Registered]:
    uris: dict[tuple[int, str], set[str]] = {}
    for client_pk, kind, uri in connection.execute(_URIS):
        uris.setdefault((client_pk, str(kind)), set()).add(uri)
    apps = directory.entries(connection)
    return {
        client_id: Registered(pk, client_id, app_id, org_id, secret_hash, str(alg), bool(consent), backchannel,
                              frozenset(uris.get((pk, UriKind.LOGIN), ())),
                              frozenset(uris.get((pk, UriKind.LOGOUT), ())), apps.get(app_id))
        for pk, client_id, app_id, org_id, secret_hash, alg, consent, backchannel in connection.execute(_CLIENTS)
    }


class Registry:
    """A worker's clients, read again whenever the channel says something changed."""

    def __init__(self, channel):
        self._held = Generational(channel)

    def find(self, db, client_id) -> Registered | None:
        if not isinstance(client_id, str):
            return None
        return self.current(db).get(client_id)

    def current(self, db) -> dict[str, Registered]:
        return self._held.get(lambda: load(db.connection()))
