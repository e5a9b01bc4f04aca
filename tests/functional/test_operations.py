"""What operators rely on: health, readiness, metrics, and a clear 503 while the database is away."""

from __future__ import annotations

import logging

import pytest

from gateway import create_app
from tests.conftest import FAST_HASH
from tests.factories import member


def _sample(text: str, name: str, **labels) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_and_sign_ins_by_outcome(client, db, auth):
    before = client.get("/metrics").get_data(as_text=True)
    user = member()
    db.flush()
    auth.login(user.email, "wrong password for sure")
    auth.login(user.email)
    after = client.get("/metrics").get_data(as_text=True)
    assert _sample(after, "idgate_signins_total", method="password", outcome="failure") == \
        _sample(before, "idgate_signins_total", method="password", outcome="failure") + 1
    assert _sample(after, "idgate_signins_total", method="password", outcome="success") == \
        _sample(before, "idgate_signins_total", method="password", outcome="success") + 1
    assert _sample(after, "idgate_http_requests_total", endpoint="accounts.login", method="POST", status="303") >= 1
    assert "idgate_http_request_duration_seconds_bucket" in after
    assert "idgate_outbox_backlog 0" in after


def test_metrics_never_label_by_raw_path(client):
    client.get("/invite/some-secret-code")
    assert "some-secret-code" not in client.get("/metrics").get_data(as_text=True)


@pytest.fixture
def app_without_database(tmp_path, certs_dir):
    app = create_app({"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "SECRET_KEY": "x",
                      "INSTANCE_PATH": str(tmp_path), "CERTS_DIR": certs_dir, **FAST_HASH})
    app.logger.setLevel(logging.CRITICAL)
    return app


@pytest.mark.parametrize("path", ["/login", "/account", "/auth/verify", "/api/v1/orgs/acme/users",
                                  "/saml/acme/metadata", "/admin/users"])
def test_without_the_database_requests_get_a_clear_503_never_a_500(app_without_database, path):
    response = app_without_database.test_client().get(path, headers={"Authorization": "Bearer token"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "unavailable" in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_without_the_database_health_says_alive_and_readiness_says_not_ready(app_without_database):
    client = app_without_database.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503
    assert client.get("/metrics").status_code == 200


def test_every_response_carries_a_request_id_and_keeps_a_sane_incoming_one(client):
    generated = client.get("/healthz").headers["X-Request-Id"]
    assert len(generated) == 16
    assert client.get("/healthz", headers={"X-Request-Id": "proxy-id-12345"}).headers["X-Request-Id"] == \
        "proxy-id-12345"
    assert client.get("/healthz", headers={"X-Request-Id": "<script>x</script>"}).headers["X-Request-Id"] != "<script>x</script>"


def test_json_log_lines_carry_the_request_id_and_a_redacted_path(app):
    import json

    from gateway.logs import JsonFormatter

    with app.test_request_context("/invite/secret-code-123"):
        from flask import g

        g.request_id = "abc123abc123"
        record = logging.LogRecord("idgate", logging.INFO, __file__, 1, "hello %s", ("world",), None)
        line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello world" and line["request_id"] == "abc123abc123"
    assert line["path"] == "/invite/[redacted]"


def test_a_failure_after_the_view_logs_no_invitation_code(app, client, caplog):
    # A failed commit at the edge reaches Flask's own exception logging, past every view.
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production, not as under TESTING

    @app.after_request
    def _commit_fails(response):
        raise RuntimeError("the database went away at commit")

    caplog.set_level(logging.ERROR, logger=app.logger.name)  # restored afterwards
    app.logger.addHandler(caplog.handler)  # whether or not JSON logging stopped it propagating
    try:
        response = client.get("/invite/secret-code-123")
    finally:
        app.logger.removeHandler(caplog.handler)

    assert response.status_code == 500
    assert "/invite/[redacted]" in caplog.text and "secret-code-123" not in caplog.text
