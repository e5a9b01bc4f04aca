"""The `idgate` command: Flask's CLI with our commands."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from gateway.actor import Actor
from gateway.errors import GatewayError


def _create_app():
    from gateway import create_app

    return create_app()


def main() -> None:
    cli = FlaskGroup(create_app=_create_app, add_default_commands=False,
                     help="idgate, the identity gateway.")
    cli(prog_name="idgate")


def _fail(exc: GatewayError):
    raise click.ClickException(exc.message)


@click.command("init")
@with_appcontext
def init_command():
    """Create or upgrade the database schema and generate missing keys."""
    from gateway.migrate import upgrade
    from gateway.sso.keys import ensure_sp_keypair

    upgrade(current_app)
    from gateway.tokens.keys import FAMILIES, ensure_signing_key

    certs_dir = current_app.extensions["idgate.settings"].certs_dir
    key_path, cert_path = ensure_sp_keypair(certs_dir)
    for family in FAMILIES:
        ensure_signing_key(certs_dir, family)
    click.echo(f"SAML SP key pair: {cert_path}; token signing keys (ES256, RS256) in {certs_dir}")
    click.echo(f"Database ready: {current_app.extensions['idgate.engine'].url.render_as_string(hide_password=True)}")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1), envvar="IDGATE_WORKERS",
              help="Worker processes: one a core.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(min=1), envvar="IDGATE_THREADS",
              help="Python threads a worker, for requests that wait on the database.")
@with_appcontext
def serve_command(host: str, port: int, workers: int, threads: int):
    """Run the gateway under granian."""
    from gateway.accounts.services import signup_is_open
    from gateway.db import transaction
    from gateway.server import run

    base = current_app.extensions["idgate.settings"].base_url
    with transaction() as db:
        next_step = f"{base}/signup to create your organization" if signup_is_open(
            db, current_app.extensions["idgate.settings"]) else f"{base}/login to sign in"
    click.echo(f"idgate listens on http://{host}:{port} (public URL {base}). Next: open {next_step}.")
    run(host=host, port=port, workers=workers, threads=threads)


@click.group("org")
def org_group():
    """Manage organizations."""


@org_group.command("create")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--admin-email", required=True)
@click.option("--admin-name", required=True)
@with_appcontext
def org_create_command(slug: str, name: str, admin_email: str, admin_name: str):
    """Create an organization and its first admin; prints the admin's temporary password once."""
    from gateway.accounts.services import create_org_with_admin
    from gateway.clock import now
    from gateway.db import transaction

    try:
        with transaction() as db:
            user, temporary = create_org_with_admin(
                db, slug=slug, name=name, admin_email=admin_email, admin_name=admin_name,
                passwords=current_app.extensions["idgate.passwords"], actor=Actor(user_agent="idgate cli"),
                now=now(),
            )
    except GatewayError as exc:
        _fail(exc)
    settings = current_app.extensions["idgate.settings"]
    click.echo(f"Created organization {slug} with admin {user.email}.")
    click.echo(f"Temporary password (shown once): {temporary}")
    click.echo(f"Sign in at {settings.base_url}/login; the first sign-in asks for a new password.")


@click.group("saml")
def saml_group():
    """SAML single sign-on."""


@saml_group.command("configure")
@click.argument("slug")
@click.option("--idp-metadata", "metadata", required=True, type=click.File("r"), help="The IdP's metadata XML.")
@click.option("--default-role", type=click.Choice(["user", "admin"]), default="user", show_default=True)
@click.option("--allow-idp-initiated", is_flag=True, help="Accept sign-ins started at the IdP.")
@click.option("--email-domain", "domains", multiple=True, help="A domain the IdP answers for (repeatable).")
@click.option("--admin-group", "admin_groups", multiple=True, help="A group value that makes an admin (repeatable).")
@with_appcontext
def saml_configure_command(slug, metadata, default_role, allow_idp_initiated, domains, admin_groups):
    """Connect an organization's identity provider from its metadata."""
    from gateway.clock import now
    from gateway.db import transaction
    from gateway.sso import connections, saml_protocol

    try:
        with transaction() as db:
            org = connections.organization(db, slug)
            connection = connections.configure(
                db, org.id, metadata_xml=metadata.read(), default_role=default_role,
                allow_idp_initiated=allow_idp_initiated, email_domains=domains, admin_groups=admin_groups,
                actor=Actor(user_agent="idgate cli"), now=now())
            idp_entity_id = connection.idp_entity_id
    except GatewayError as exc:
        _fail(exc)
    sp = saml_protocol.service_provider(current_app.extensions["idgate.settings"], slug)
    click.echo(f"{slug} signs in through {idp_entity_id}.")
    click.echo(f"Give the IdP this SP metadata: {sp.entity_id}")


@click.group("keys")
def keys_group():
    """Token signing keys."""


@keys_group.command("rotate")
@with_appcontext
def keys_rotate_command():
    """A new token signing key (the old one stays in the JWKS until its tokens have expired), and a
    new key sealing second-factor secrets (every stored secret is sealed again with it)."""
    from gateway.db import transaction
    from gateway.mfa import sealing, totp
    from gateway.clock import now
    from gateway.sso import logout, oidc_connections
    from gateway.tokens.keys import rotate

    certs_dir = current_app.extensions["idgate.settings"].certs_dir
    kid = rotate(certs_dir)
    click.echo(f"New signing key {kid}; the previous key stays published in the JWKS.")
    sealing.add_key(certs_dir)
    with transaction() as db:
        resealed = (totp.reseal_all(db, certs_dir=certs_dir) + oidc_connections.reseal_all(db, certs_dir=certs_dir)
                    + logout.reseal_all(db, certs_dir=certs_dir, now=now()))
    sealing.keep_newest(certs_dir, 2)  # the one before opens what an instance sealed meanwhile
    click.echo(f"New key for second-factor secrets, IdP client secrets and IdP ID tokens; {resealed} sealed again "
               "with it.")


@click.group("client")
def client_group():
    """Downstream clients (token introspection)."""


@client_group.command("create")
@click.argument("name")
@with_appcontext
def client_create_command(name: str):
    """Register a client for POST /oauth/introspect; prints client_id and secret once."""
    from gateway.clock import now
    from gateway.db import transaction
    from gateway.tokens.introspection import create_client

    try:
        with transaction() as db:
            client, secret = create_client(db, name, now=now())
            client_id = client.client_id
    except GatewayError as exc:
        _fail(exc)
    click.echo(f"client_id: {client_id}")
    click.echo(f"client_secret (shown once): {secret}")


def _operator_scope(db, slug: str):
    """Organization `slug`, administered from the command line (whoever runs it runs the server).
    :raise NotFound: no organization has that slug."""
    from gateway.errors import NotFound
    from gateway.orgs.access import AdminScope
    from gateway.sso.connections import organization

    try:
        org = organization(db, slug)
    except NotFound:
        raise NotFound(f"No organization has the slug {slug!r}.") from None
    return AdminScope(org.id, org.slug, org.name, Actor(user_agent="idgate cli"))


@click.group("oidc")
def oidc_group():
    """OpenID Connect: the provider's clients, and organizations' own IdPs."""


@oidc_group.group("client")
def oidc_client_group():
    """An organization's OpenID Connect clients."""


@oidc_client_group.command("create")
@click.argument("slug")
@click.argument("name")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True,
              help="Where the client receives its code, matched exactly (repeatable).")
@click.option("--public", is_flag=True, help="A client that keeps no secret (single-page or native app): PKCE only.")
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True,
              help="Where the client may send people after signing them out (repeatable).")
@click.option("--backchannel-logout-uri", help="Where the gateway posts a logout token when a session ends.")
@with_appcontext
def oidc_client_create_command(slug, name, redirect_uris, public, post_logout_redirect_uris, backchannel_logout_uri):
    """Register an OpenID Connect client of organization SLUG, and its app NAME (whose rule says who
    may sign in); prints client_id and, for a confidential client, client_secret once."""
    from gateway.clock import now
    from gateway.db import transaction
    from gateway.oidc import clients

    try:
        with transaction() as db:
            client, secret = clients.create_client(
                db, _operator_scope(db, slug), name=name, redirect_uris=list(redirect_uris), public=public,
                post_logout_redirect_uris=list(post_logout_redirect_uris),
                backchannel_logout_uri=backchannel_logout_uri, now=now())
            client_id = client.client_id
    except GatewayError as exc:
        _fail(exc)
    click.echo(f"client_id: {client_id}")
    if secret is not None:
        click.echo(f"client_secret: {secret}")
        click.echo("The secret is shown once: only its hash is kept.", err=True)
    click.echo(f"issuer: {current_app.extensions['idgate.settings'].base_url}")


@oidc_group.group("idp")
def oidc_idp_group():
    """An organization's own OpenID Connect IdP (Google Workspace, Entra ID, Okta, Keycloak…)."""


@oidc_idp_group.command("configure")
@click.argument("slug")
@click.option("--issuer", required=True, help="The IdP's issuer URL (its discovery document is read from it).")
@click.option("--client-id", required=True, help="The client id the IdP gave the gateway.")
@click.option("--client-secret-file", required=True, type=click.File("r"),
              help="A file holding the client secret (not an argument: it would show in the process list).")
@click.option("--email-domain", "domains", multiple=True, help="A domain the IdP answers for (repeatable).")
@click.option("--default-role", type=click.Choice(["user", "auditor", "admin"]), default="user", show_default=True)
@click.option("--admin-group", "admin_groups", multiple=True, help="A group value that makes an admin (repeatable).")
@click.option("--groups-claim", help="The ID token or userinfo claim that lists the member's groups.")
@click.option("--scope", "scopes", multiple=True, help="A scope to ask for (repeatable; default: openid email profile).")
@click.option("--trust-email", is_flag=True,
              help="The IdP verifies every email it issues (else an email counts only with email_verified: true).")
@click.option("--prefer-oidc/--prefer-saml", "preferred", default=True, show_default=True,
              help="While the organization has a SAML IdP too: where /sso sends sign-ins (--prefer-saml keeps them "
                   "with SAML until this IdP is ready).")
@with_appcontext
def oidc_idp_configure_command(slug, issuer, client_id, client_secret_file, domains, default_role, admin_groups,
                               groups_claim, scopes, trust_email, preferred):
    """Connect organization SLUG's OpenID Connect IdP; prints the redirect URI to register at the IdP."""
    from gateway.clock import now
    from gateway.db import transaction
    from gateway.sso import connections, oidc_connections, oidc_signin, routing

    settings = current_app.extensions["idgate.settings"]
    try:
        with transaction() as db:
            org = connections.organization(db, slug)
            oidc_connections.configure(
                db, org.id, issuer=issuer, client_id=client_id, client_secret=client_secret_file.read().strip(),
                certs_dir=settings.certs_dir, scopes=list(scopes) or None, groups_claim=groups_claim,
                trust_email=trust_email, default_role=default_role, admin_groups=admin_groups, email_domains=domains,
                preferred=preferred, actor=Actor(user_agent="idgate cli"), now=now())
            goes_to = routing.protocol_of(db, slug)
    except GatewayError as exc:
        _fail(exc)
    if goes_to == "oidc":
        click.echo(f"{slug} signs in through {issuer}.")
    else:
        click.echo(f"{slug} still signs in through its SAML IdP; {issuer} is connected beside it.")
    click.echo(f"Register this redirect URI at the IdP: {oidc_signin.callback_url(settings, slug)}")


@click.group("scim")
def scim_group():
    """SCIM 2.0 provisioning: an organization's IdP creates, updates and removes its people and groups."""


@scim_group.group("token")
def scim_token_group():
    """Bearer tokens for an organization's IdP."""


@scim_token_group.command("create")
@click.argument("slug")
@click.option("--name", default="SCIM", show_default=True, help="What the token is for (the IdP's name).")
@with_appcontext
def scim_token_create_command(slug: str, name: str):
    """A SCIM bearer token for organization SLUG; printed once (only its hash is kept)."""
    from gateway.clock import now
    from gateway.db import transaction
    from gateway.scim import tokens

    settings = current_app.extensions["idgate.settings"]
    try:
        with transaction() as db:
            scope = _operator_scope(db, slug)
            _row, token = tokens.create(db, scope.org_id, scope.actor, name=name, now=now())
    except GatewayError as exc:
        _fail(exc)
    click.echo(f"scim_base_url: {settings.base_url}/scim/v2/{slug}")
    click.echo(f"token: {token}")
    click.echo("The token is shown once: only its hash is kept.", err=True)


@click.group("outbox")
def outbox_group():
    """Outgoing mail."""


@outbox_group.command("send")
@with_appcontext
def outbox_send_command():
    """Deliver queued mail and back-channel logouts now (retries what failed before)."""
    from gateway.db import transaction
    from gateway.mail import outbox
    from gateway.oidc import logout

    settings, clock = current_app.extensions["idgate.settings"], current_app.extensions["idgate.clock"]
    transport = outbox.Transport(settings.smtp_url, settings.mail_from)
    sessions = current_app.extensions["idgate.sessionmaker"]
    sent, failed = outbox.send_pending(sessions, transport, clock.now, due_only=False)
    told, not_told = logout.deliver_pending(sessions, settings, clock.now, due_only=False)
    with transaction() as db:
        waiting, logouts_waiting = outbox.backlog(db), logout.backlog(db)
    click.echo(f"Sent {sent}, failed {failed}, waiting {waiting}.")
    click.echo(f"Back-channel logouts: delivered {told}, failed {not_told}, waiting {logouts_waiting}.")
    if failed or not_told:
        raise SystemExit(1)


def register_commands(app: Flask) -> None:
    for command in (init_command, serve_command, org_group, saml_group, keys_group, client_group, oidc_group,
                    outbox_group, scim_group):
        app.cli.add_command(command)


if __name__ == "__main__":
    main()
