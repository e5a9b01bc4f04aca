"""Settings: defaults, then IDGATE_* environment, then test overrides; validated once."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import time
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from types import NoneType, UnionType
from typing import get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

ENV_PREFIX = "IDGATE_"
# Variables the test suite and tooling read themselves; the app ignores them. `idgate serve` reads
# IDGATE_WORKERS and IDGATE_THREADS (the process shape, not the app's settings).
_IGNORED_ENV = {"IDGATE_TEST_DATABASE_URL", "IDGATE_TEST_REDIS_URL", "IDGATE_WORKERS", "IDGATE_THREADS"}

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

# NIST SP 800-63B rev. 4, 3.1.1.2: at least 15 characters for a password used
# alone; verifiers may allow 8 at the least.
PASSWORD_MIN_FLOOR = 8
PASSWORD_MAX_LENGTH = 128
# python3-saml's own time checks allow 5 minutes at most; a larger skew could never apply.
SAML_MAX_CLOCK_SKEW = timedelta(minutes=5)


class ConfigError(ValueError):
    """A setting is unknown or has a value we cannot use."""


def parse_duration(value: str | timedelta) -> timedelta:
    """Turn "90s", "15m", "12h" or "7d" into a timedelta."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value))
    if not match:
        raise ConfigError(f"not a duration: {value!r} (use e.g. 30s, 15m, 12h, 7d)")
    amount, unit = match.groups()
    return timedelta(**{_UNITS[unit]: int(amount)})


class UnregisteredHosts(StrEnum):
    """What /auth/verify does with a host no registered application claims."""

    ALLOW = "allow"  # every active member passes, as before applications existed
    DENY = "deny"


class Signup(StrEnum):
    """Who may create an organization at /signup."""

    FIRST = "first"  # only while no organization exists
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Settings:
    """Typed settings; field names are the env names without the prefix, lowercased."""

    # Secrets, or URLs that may carry a password: never in a repr (tracebacks, debug logs).
    database_url: str = field(default="sqlite:///instance/idgate.db", repr=False)
    redis_url: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    base_url: str = "http://127.0.0.1:5000"
    certs_dir: str = "certs"
    cookie_domain: str | None = None
    allowed_redirect_hosts: tuple[str, ...] = ()
    signup: Signup = Signup.FIRST
    unregistered_hosts: UnregisteredHosts = UnregisteredHosts.ALLOW
    smtp_url: str | None = field(default=None, repr=False)
    mail_from: str = "idgate@localhost"
    session_lifetime: timedelta = timedelta(hours=12)
    session_idle: timedelta = timedelta(hours=1)
    invitation_ttl: timedelta = timedelta(hours=24)
    # The downstream JWT (X-Auth-Token): its lifetime and audience.
    token_ttl: timedelta = timedelta(minutes=5)
    token_audience: str = "idgate-downstream"
    # Allowed difference between our clock and the IdP's, on every SAML time condition.
    saml_clock_skew: timedelta = timedelta(minutes=2)
    password_min_length: int = 15
    # Failed sign-ins allowed per account and per client address (Flask-Limiter syntax).
    login_limit_account: str = "10 per 15 minutes"
    login_limit_address: str = "50 per 15 minutes"
    # Wrong second-factor codes per account (a code has a million values: a few tries a window is plenty).
    mfa_limit_account: str = "5 per 5 minutes"
    # "Forgot password" requests per typed address (whether it has an account or not: the same
    # answer either way) and per client address; each sends a mail, so the budget is small.
    reset_limit_account: str = "5 per hour"
    reset_limit_address: str = "30 per hour"
    # Requests per SCIM token (each token its own budget): an IdP's first sync of thousands of people
    # runs at full speed, a leaked token cannot hammer the database.
    scim_limit_token: str = "3000 per minute"
    # argon2id cost; the defaults are argon2-cffi's RFC 9106 low-memory profile
    # (t=3, m=64 MiB, p=4), above OWASP's m=19 MiB, t=2, p=1.
    argon2_time_cost: int = 3
    argon2_memory_cost: int = 65536
    argon2_parallelism: int = 4
    # Reverse proxies in front whose X-Forwarded-For and -Proto to believe (0: none, the client
    # talks to us directly). Behind one nginx, 1: client addresses then throttle and audit per
    # client, not per proxy. Never more than there are, or clients choose their own address.
    trusted_proxies: int = 0
    instance_path: str = "instance"
    extra: dict = field(default_factory=dict, compare=False)

    # Derived once per Settings (they never change): every sign-in sets a cookie with them.
    @cached_property
    def base_scheme(self) -> str:
        return urlsplit(self.base_url).scheme

    @cached_property
    def base_host(self) -> str:
        return urlsplit(self.base_url).netloc.lower()

    @cached_property
    def secure_cookies(self) -> bool:
        """Secure cookies everywhere except plain http on a loopback address."""
        parts = urlsplit(self.base_url)
        if parts.scheme != "http":
            return True
        host = (parts.hostname or "").lower()
        if host == "localhost":
            return False
        try:
            return not ipaddress.ip_address(host).is_loopback
        except ValueError:
            return True

    @cached_property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


_FIELDS = {f.name: f for f in fields(Settings) if f.name != "extra"}
_TYPES = {name: kind for name, kind in get_type_hints(Settings).items() if name in _FIELDS}


def _coerce(name: str, value):
    """A value from the environment (text) or an override, read as its field's declared type."""
    kind, optional = _TYPES[name], False
    if isinstance(kind, UnionType):  # `str | None`
        optional = NoneType in get_args(kind)
        (kind,) = [arg for arg in get_args(kind) if arg is not NoneType]
    if optional and value in ("", None):
        return None
    if kind is timedelta:
        return parse_duration(value)
    if get_origin(kind) is tuple:  # host names, separated by commas or spaces
        if isinstance(value, str):
            value = value.replace(",", " ").split()
        return tuple(h.strip().lower() for h in value if h.strip())
    if kind is int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be a whole number") from None
    if issubclass(kind, StrEnum):
        try:
            return kind(str(value).strip())
        except ValueError:
            raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be " + ", ".join(kind) + f", not {value!r}") from None
    return value


def _validate(settings: Settings) -> Settings:
    if not (PASSWORD_MIN_FLOOR <= settings.password_min_length <= PASSWORD_MAX_LENGTH):
        raise ConfigError(
            f"IDGATE_PASSWORD_MIN_LENGTH must be between {PASSWORD_MIN_FLOOR} and {PASSWORD_MAX_LENGTH}"
        )
    parts = urlsplit(settings.base_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError("IDGATE_BASE_URL must be an absolute http(s) URL")
    changes: dict = {"base_url": settings.base_url.rstrip("/")}
    if not settings.allowed_redirect_hosts:
        changes["allowed_redirect_hosts"] = (parts.netloc.lower(),)
    for name in ("session_lifetime", "session_idle", "invitation_ttl", "token_ttl"):
        if getattr(settings, name) <= timedelta(0):
            raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be positive")
    if not 0 <= settings.trusted_proxies <= 5:
        raise ConfigError("IDGATE_TRUSTED_PROXIES must be between 0 and 5")
    if settings.saml_clock_skew > SAML_MAX_CLOCK_SKEW:
        raise ConfigError("IDGATE_SAML_CLOCK_SKEW must be 5m or less")
    return replace(settings, **changes)


def load_settings(environ: dict | None = None, overrides: dict | None = None) -> Settings:
    """Build settings from defaults, the IDGATE_* environment and overrides.

    :raise ConfigError: for an unknown IDGATE_* variable or override, or a bad value.
    """
    environ = os.environ if environ is None else environ
    values: dict = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX) or key in _IGNORED_ENV:
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name not in _FIELDS:
            raise ConfigError(f"unknown setting {key}")
        values[name] = _coerce(name, raw)
    extra = {}
    for key, value in (overrides or {}).items():
        name = key.lower()
        if name in _FIELDS:
            values[name] = _coerce(name, value)
        elif key.isupper():
            extra[key] = value  # plain Flask config (TESTING, WTF_CSRF_ENABLED…)
        else:
            raise ConfigError(f"unknown setting override {key}")
    return _validate(Settings(**values, extra=extra))


def ensure_secret_key(settings: Settings) -> str:
    """Return the configured secret, or the one generated into the instance folder.

    Created with O_EXCL so that several workers starting at once agree on one key.
    """
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another worker may be writing it this very moment.
        for _ in range(50):
            if key := path.read_text().strip():
                return key
            time.sleep(0.02)
        raise ConfigError(f"{path} is empty; delete it or set IDGATE_SECRET_KEY") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
