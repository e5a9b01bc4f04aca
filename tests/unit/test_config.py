"""Settings: defaults, IDGATE_* environment, overrides; validated once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.config import ConfigError, Settings, ensure_secret_key, load_settings, parse_duration


class TestParseDuration:
    @pytest.mark.parametrize("text, expected", [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("12h", timedelta(hours=12)),
        ("7d", timedelta(days=7)),
        (" 90 s ", timedelta(seconds=90)),
    ])
    def test_reads_seconds_minutes_hours_and_days(self, text, expected):
        assert parse_duration(text) == expected

    def test_passes_a_timedelta_through(self):
        assert parse_duration(timedelta(minutes=3)) == timedelta(minutes=3)

    @pytest.mark.parametrize("text", ["", "12", "h", "1.5h", "-1h", "1w", "15M", "1h30m", "twelve hours"])
    def test_refuses_anything_else(self, text):
        with pytest.raises(ConfigError, match="not a duration"):
            parse_duration(text)


class TestLoadSettings:
    def test_reads_and_types_the_environment(self):
        settings = load_settings(environ={
            "IDGATE_SESSION_IDLE": "30m", "IDGATE_PASSWORD_MIN_LENGTH": "12", "IDGATE_SIGNUP": "open",
        })
        assert settings.session_idle == timedelta(minutes=30)
        assert settings.password_min_length == 12
        assert settings.signup == "open"

    def test_reads_only_the_environ_it_is_given(self, monkeypatch):
        monkeypatch.setenv("IDGATE_SIGNUP", "closed")
        assert load_settings(environ={}).signup == "first"

    def test_ignores_variables_without_the_prefix(self):
        assert load_settings(environ={"PATH": "/usr/bin", "SIGNUP": "nonsense"}).signup == "first"

    def test_an_unknown_variable_stops_the_gateway(self):
        with pytest.raises(ConfigError, match="IDGATE_SESION_IDLE"):
            load_settings(environ={"IDGATE_SESION_IDLE": "30m"})

    def test_ignores_the_test_suites_own_variables(self):
        settings = load_settings(environ={"IDGATE_TEST_DATABASE_URL": "postgresql://elsewhere/test",
                                          "IDGATE_TEST_REDIS_URL": "redis://elsewhere"})
        assert "elsewhere" not in settings.database_url
        assert settings.redis_url is None

    def test_leaves_the_servers_shape_to_idgate_serve(self):
        # `idgate serve` reads them (a container sets IDGATE_WORKERS); they are no app setting.
        assert load_settings(environ={"IDGATE_WORKERS": "4", "IDGATE_THREADS": "8"}) == load_settings(environ={})

    @pytest.mark.parametrize("mode", ["first", "open", "closed"])
    def test_signup_takes_first_open_or_closed(self, mode):
        assert load_settings(environ={"IDGATE_SIGNUP": mode}).signup == mode

    @pytest.mark.parametrize("mode", ["sometimes", "OPEN", ""])
    def test_signup_refuses_other_modes(self, mode):
        with pytest.raises(ConfigError, match="IDGATE_SIGNUP"):
            load_settings(environ={"IDGATE_SIGNUP": mode})

    @pytest.mark.parametrize("length", ["8", "15", "128"])
    def test_password_min_length_between_8_and_128_is_accepted(self, length):
        assert load_settings(environ={"IDGATE_PASSWORD_MIN_LENGTH": length}).password_min_length == int(length)

    @pytest.mark.parametrize("length", ["7", "0", "129", "ten"])
    def test_password_min_length_outside_8_to_128_is_refused(self, length):
        with pytest.raises(ConfigError, match="IDGATE_PASSWORD_MIN_LENGTH"):
            load_settings(environ={"IDGATE_PASSWORD_MIN_LENGTH": length})

    def test_base_url_loses_its_trailing_slash(self):
        assert load_settings(environ={"IDGATE_BASE_URL": "https://id.example.com/"}).base_url == (
            "https://id.example.com")

    @pytest.mark.parametrize("base", ["id.example.com", "ftp://id.example.com", "https://"])
    def test_base_url_must_be_absolute_http(self, base):
        with pytest.raises(ConfigError, match="IDGATE_BASE_URL"):
            load_settings(environ={"IDGATE_BASE_URL": base})

    def test_redirect_hosts_default_to_the_base_urls_host(self):
        settings = load_settings(environ={"IDGATE_BASE_URL": "https://ID.example.com:8443/"})
        assert settings.allowed_redirect_hosts == ("id.example.com:8443",)

    def test_redirect_hosts_are_a_lowercased_list(self):
        settings = load_settings(environ={"IDGATE_ALLOWED_REDIRECT_HOSTS": "App.example.com, wiki.example.com"})
        assert settings.allowed_redirect_hosts == ("app.example.com", "wiki.example.com")

    @pytest.mark.parametrize("env", [{"IDGATE_SAML_CLOCK_SKEW": "10m"}, {"IDGATE_SESSION_IDLE": "0s"},
                                     {"IDGATE_SESSION_LIFETIME": "forever"}])
    def test_other_bad_values_are_refused(self, env):
        with pytest.raises(ConfigError):
            load_settings(environ=env)

    def test_an_unknown_lowercase_override_is_refused(self):
        with pytest.raises(ConfigError, match="sesion_idle"):
            load_settings(environ={}, overrides={"sesion_idle": "1h"})


class TestSecureCookies:
    @pytest.mark.parametrize("base", ["http://127.0.0.1:5000", "http://localhost", "http://[::1]:8000",
                                      "http://127.0.0.2"])
    def test_off_for_plain_http_on_a_loopback_address(self, base):
        assert load_settings(environ={"IDGATE_BASE_URL": base}).secure_cookies is False

    @pytest.mark.parametrize("base", ["https://gateway.example.com", "https://127.0.0.1:5000",
                                      "http://gateway.example.com", "http://localhost.example.com",
                                      "http://10.0.0.5"])
    def test_on_everywhere_else(self, base):
        assert load_settings(environ={"IDGATE_BASE_URL": base}).secure_cookies is True


class TestEnsureSecretKey:
    def test_generates_one_into_the_instance_folder_and_keeps_it(self, tmp_path):
        settings = load_settings(environ={"IDGATE_INSTANCE_PATH": str(tmp_path / "instance")})
        first = ensure_secret_key(settings)
        assert len(first) > 40
        assert ensure_secret_key(settings) == first
        assert (tmp_path / "instance" / "secret_key").read_text().strip() == first

    def test_the_generated_file_is_readable_by_its_owner_only(self, tmp_path):
        ensure_secret_key(load_settings(environ={"IDGATE_INSTANCE_PATH": str(tmp_path)}))
        assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0

    def test_a_configured_secret_wins_and_nothing_is_written(self, tmp_path):
        settings = load_settings(environ={"IDGATE_INSTANCE_PATH": str(tmp_path), "IDGATE_SECRET_KEY": "s3cret"})
        assert ensure_secret_key(settings) == "s3cret"
        assert not (tmp_path / "secret_key").exists()

    def test_an_empty_key_file_is_an_error_not_an_empty_secret(self, tmp_path, monkeypatch):
        monkeypatch.setattr("gateway.config.time.sleep", lambda _: None)
        (tmp_path / "secret_key").write_text("")
        with pytest.raises(ConfigError, match="empty"):
            ensure_secret_key(load_settings(environ={"IDGATE_INSTANCE_PATH": str(tmp_path)}))


def test_secrets_stay_out_of_reprs():
    from saml.config import ServiceProvider

    settings = Settings(secret_key="s3cret-key", database_url="postgresql://idgate:db-password@db/idgate",
                        redis_url="redis://:redis-password@cache", smtp_url="smtp://mail:smtp-password@mx")
    sp = ServiceProvider("https://sp/metadata", "https://sp/acs", "https://sp/sls", "CERT", "PRIVATE-KEY")
    shown = repr(settings) + repr(sp)
    assert not any(secret in shown for secret in ("s3cret-key", "db-password", "redis-password", "smtp-password",
                                                   "PRIVATE-KEY"))
