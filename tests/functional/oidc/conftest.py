"""A served gateway for the relying parties' tests: `idgate serve` on a database of the module's own,
organization acme with its admin (ops@acme.example, who has chosen their password), clients
registered with the command line, browsers signed in through the real forms."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from tests.helpers.processes import (
    clean_env,
    free_port,
    idgate,
    init_with_acme,
    start_idgate_serve,
    stop,
)

PASSWORD = "walnut harbor lantern 2046 quietly"
EMAIL = "ops@acme.example"


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


class Provider:
    def __init__(self, base: str, database_url: str, env: dict, cwd: Path):
        self.base, self.database_url, self.env, self.cwd = base, database_url, env, cwd
        self.issuer = base

    def register(self, name: str, *redirect_uris: str, **options: str | bool) -> tuple[str, str | None]:
        """`idgate oidc client create acme NAME --redirect-uri …` plus --option value (True: a flag);
        (client_id, client_secret or None)."""
        args = [arg for uri in redirect_uris for arg in ("--redirect-uri", uri)]
        for option, value in options.items():
            flag = "--" + option.replace("_", "-")
            args += [flag] if value is True else [flag, value]
        out = idgate("oidc", "client", "create", "acme", name, *args, env=self.env, cwd=self.cwd).stdout
        secret = re.search(r"client_secret: (\S+)", out)
        return re.search(r"client_id: (\S+)", out).group(1), secret and secret.group(1)

    def browser(self) -> requests.Session:
        """A browser signed in as acme's admin, through the sign-in form."""
        browser = requests.Session()
        signed_in = browser.post(f"{self.base}/login", data={"csrf_token": csrf_of(browser.get(f"{self.base}/login").text),
                                                             "email": EMAIL, "password": PASSWORD})
        assert signed_in.status_code == 200 and browser.cookies.get("idgate_session"), signed_in.text[:300]
        return browser


@pytest.fixture(scope="module")
def provider(module_served_database_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("oidc-provider")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(IDGATE_DATABASE_URL=module_served_database_url, IDGATE_INSTANCE_PATH=str(tmp / "instance"),
                    IDGATE_BASE_URL=base, IDGATE_ARGON2_TIME_COST="1", IDGATE_ARGON2_MEMORY_COST="1024",
                    IDGATE_ARGON2_PARALLELISM="1")
    temporary = init_with_acme(env=env, cwd=tmp)
    server = start_idgate_serve(env=env, cwd=tmp, port=port)
    try:
        with requests.Session() as browser:  # the temporary password, then the admin's own
            browser.post(f"{base}/login", data={"csrf_token": csrf_of(browser.get(f"{base}/login").text),
                                                "email": EMAIL, "password": temporary})
            changed = browser.post(f"{base}/password/change", data={
                "csrf_token": csrf_of(browser.get(f"{base}/password/change").text), "new_password": PASSWORD})
            assert changed.status_code == 200
        yield Provider(base, module_served_database_url, env, tmp)
    finally:
        print(stop(server))
