"""Settings: defaults, IDGATE_* environment, overrides; validated once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.config import ConfigError, ensure_secret_key, load_settings, parse_duration


@pytest.mark.parametrize("text, expected", [("30s", timedelta(seconds=30)), ("15m", timedelta(minutes=15)),
                                            ("12h", timedelta(hours=12)), ("7d", timedelta(days=7))])
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["12", "h", "1.5h", "-1h", "1w"])
def test_bad_durations(text):
    with pytest.raises(ConfigError):
        parse_duration(text)


def test_the_environment_is_read_and_typed():
    settings = load_settings(environ={"IDGATE_SESSION_IDLE": "30m", "IDGATE_PASSWORD_MIN_LENGTH": "12",
                                      "IDGATE_BASE_URL": "https://id.example.com/", "IDGATE_SIGNUP": "open"})
    assert settings.session_idle == timedelta(minutes=30) and settings.password_min_length == 12
    assert settings.base_url == "https://id.example.com"
    assert settings.allowed_redirect_hosts == ("id.example.com",)


def test_an_unknown_variable_stops_the_gateway():
    with pytest.raises(ConfigError, match="IDGATE_SESION_IDLE"):
        load_settings(environ={"IDGATE_SESION_IDLE": "30m"})


def test_test_variables_are_ignored():
    load_settings(environ={"IDGATE_TEST_DATABASE_URL": "postgresql://x"})


@pytest.mark.parametrize("env", [{"IDGATE_SIGNUP": "sometimes"}, {"IDGATE_PASSWORD_MIN_LENGTH": "7"},
                                 {"IDGATE_PASSWORD_MIN_LENGTH": "ten"}, {"IDGATE_BASE_URL": "example.com"},
                                 {"IDGATE_SAML_CLOCK_SKEW": "10m"}, {"IDGATE_SESSION_IDLE": "0s"}])
def test_bad_values_are_refused(env):
    with pytest.raises(ConfigError):
        load_settings(environ=env)


@pytest.mark.parametrize("base, secure", [("http://127.0.0.1:5000", False), ("http://localhost:8000", False),
                                          ("http://[::1]:5000", False), ("https://id.example.com", True),
                                          ("http://id.example.com", True)])
def test_cookies_are_secure_except_on_loopback_http(base, secure):
    assert load_settings(environ={"IDGATE_BASE_URL": base}).secure_cookies is secure


def test_the_secret_is_generated_once_into_the_instance_folder(tmp_path):
    settings = load_settings(environ={"IDGATE_INSTANCE_PATH": str(tmp_path)})
    first = ensure_secret_key(settings)
    assert len(first) > 40 and ensure_secret_key(settings) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
