"""The `idgate` command line: init, org create and oidc client create."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from gateway.accounts.models import User
from gateway.apps.models import App
from gateway.oidc import clients
from gateway.oidc.models import OidcClient
from gateway.orgs.models import Membership, Organization, Role


def test_org_create_prints_a_temporary_password_once_and_stores_only_its_hash(runner, db):
    result = runner.invoke(args=["org", "create", "acme", "--name", "Acme", "--admin-email", "Ada@Example.com",
                                 "--admin-name", "Ada Admin"])
    assert result.exit_code == 0, result.output
    temporary = re.search(r"Temporary password \(shown once\): (\S+)", result.output).group(1)
    assert len(temporary) == 16

    user = db.scalar(select(User).where(User.email == "ada@example.com"))
    assert user.must_change_password
    assert temporary not in user.password_hash and user.password_hash.startswith("$argon2id$")
    membership = db.scalar(select(Membership).where(Membership.user_id == user.id))
    assert membership.role == Role.ADMIN and membership.org.slug == "acme"


def test_org_create_refuses_a_taken_slug_without_writing_anything(runner, db):
    assert runner.invoke(args=["org", "create", "acme", "--name", "Acme", "--admin-email", "a@example.com",
                               "--admin-name", "Ada Admin"]).exit_code == 0
    result = runner.invoke(args=["org", "create", "acme", "--name", "Other", "--admin-email", "b@example.com",
                                 "--admin-name", "Bob Admin"])
    assert result.exit_code != 0
    assert "taken" in result.output
    assert db.scalar(select(func.count()).select_from(Organization)) == 1
    assert db.scalar(select(User).where(User.email == "b@example.com")) is None


def test_org_create_refuses_a_bad_email_with_a_clear_message(runner, db):
    result = runner.invoke(args=["org", "create", "acme", "--name", "Acme", "--admin-email", "not-an-email",
                                 "--admin-name", "Ada Admin"])
    assert result.exit_code != 0
    assert "valid email" in result.output
    assert db.scalar(select(func.count()).select_from(Organization)) == 0


def test_init_is_idempotent(runner):
    first = runner.invoke(args=["init"])
    second = runner.invoke(args=["init"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "Database ready" in second.output


class TestOidcClientCreate:
    """`idgate oidc client create SLUG NAME --redirect-uri URI…`: the client and its app, its secret printed once."""

    @staticmethod
    def _org(runner):
        assert runner.invoke(args=["org", "create", "acme", "--name", "Acme", "--admin-email", "a@example.com",
                                   "--admin-name", "Ada Admin"]).exit_code == 0

    def test_a_confidential_client_prints_its_id_and_secret_once_and_keeps_only_a_hash(self, runner, db):
        self._org(runner)
        result = runner.invoke(args=[
            "oidc", "client", "create", "acme", "Grafana", "--redirect-uri", "https://grafana.example.com/cb",
            "--redirect-uri", "http://127.0.0.1:3000/cb", "--post-logout-redirect-uri", "https://grafana.example.com/",
            "--backchannel-logout-uri", "https://grafana.example.com/backchannel"])
        assert result.exit_code == 0, result.output
        client_id = re.search(r"^client_id: (\S+)$", result.stdout, re.MULTILINE).group(1)
        secret = re.search(r"^client_secret: (\S+)$", result.stdout, re.MULTILINE).group(1)

        client = db.scalar(select(OidcClient).where(OidcClient.client_id == client_id))
        assert clients.secret_matches(client, secret) and secret not in client.secret_hash
        view = clients.view(db, client)
        assert view.name == "Grafana" and not view.public
        assert view.redirect_uris == ["http://127.0.0.1:3000/cb", "https://grafana.example.com/cb"]
        assert view.post_logout_redirect_uris == ["https://grafana.example.com/"]
        assert view.backchannel_logout_uri == "https://grafana.example.com/backchannel"

    def test_a_public_client_prints_no_secret(self, runner, db):
        self._org(runner)
        result = runner.invoke(args=["oidc", "client", "create", "acme", "SPA", "--public",
                                     "--redirect-uri", "https://spa.example.com/cb"])
        assert result.exit_code == 0, result.output
        assert "client_id: " in result.stdout and "client_secret" not in result.output

    @pytest.mark.parametrize("args, message", [
        (["acme", "Grafana", "--redirect-uri", "https://*.example.com/cb"], "wildcard"),
        (["acme", "Grafana", "--redirect-uri", "http://grafana.example.com/cb"], "must use https"),
        (["acme", "Grafana", "--redirect-uri", "https://grafana.example.com/cb",
          "--backchannel-logout-uri", "https://grafana.example.com/bc#x"], "fragment"),
        (["nowhere", "Grafana", "--redirect-uri", "https://grafana.example.com/cb"], "No organization has the slug"),
        (["acme", "Grafana"], "--redirect-uri"),
    ])
    def test_bad_input_is_a_clear_message_and_nothing_is_written(self, runner, db, args, message):
        self._org(runner)
        result = runner.invoke(args=["oidc", "client", "create", *args])
        assert result.exit_code != 0
        assert message in result.output and "Traceback" not in result.output
        assert db.scalar(select(func.count()).select_from(OidcClient)) == 0
        assert db.scalar(select(func.count()).select_from(App)) == 0
