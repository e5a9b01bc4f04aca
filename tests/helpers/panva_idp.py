"""panva's oidc-provider (tests/e2e/oidc_idp.mjs) as an organization's own OpenID Connect IdP:
started with node, given accounts by the test, and signed in at by plain HTTP, as a browser would."""

from __future__ import annotations

import json
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from tests.helpers.processes import ROOT, clean_env, free_port, terminate, wait_until_ready

SCRIPT = ROOT / "tests" / "e2e" / "oidc_idp.mjs"
PACKAGE = ROOT / "tests" / "e2e" / "node_modules" / "oidc-provider"


def skip_unless_available() -> None:
    """Skip the calling test module when node or the package is missing."""
    if not shutil.which("node"):
        pytest.skip("no node", allow_module_level=True)
    if not PACKAGE.is_dir():
        pytest.skip("oidc-provider not installed: npm ci --prefix tests/e2e", allow_module_level=True)


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


class PanvaIdP:
    """The running IdP: `issuer`, and what a test does with it."""

    def __init__(self, issuer: str, log_path: Path):
        self.issuer, self.log_path = issuer, log_path

    def person(self, sub: str, *, email: str, email_verified: bool = True, name: str | None = None,
               groups: tuple[str, ...] = ()) -> None:
        """The account `sub` with these claims from now on (its next sign-in reads them)."""
        claims = {"email": email, "email_verified": email_verified, "groups": list(groups)}
        if name is not None:
            claims["name"] = name
        answer = requests.put(f"{self.issuer}/test/accounts/{sub}", json=claims, timeout=5)
        assert answer.status_code == 204, answer.text

    def sign_in(self, browser: requests.Session, start_url: str, sub: str | None) -> requests.Response:
        """`browser` opens our sign-in start, follows it to the IdP, signs in there as `sub` (None: the
        IdP must remember the browser and ask nothing), and is sent back: our answer to that, unfollowed.
        Its `url` is the callback the IdP sent the browser to."""
        answer = browser.get(start_url, allow_redirects=False, timeout=10)
        asked = False
        while True:
            assert answer.is_redirect, f"{answer.url} answered {answer.status_code}: {answer.text[:300]}"
            location = urljoin(answer.url, answer.headers["Location"])
            if _origin(location) != _origin(self.issuer):
                break  # back at the relying party
            answer = browser.get(location, allow_redirects=False, timeout=10)
            if answer.status_code == 200 and urlsplit(location).path.startswith("/interaction/"):
                assert sub is not None, f"the IdP asked who signs in: {answer.text[:300]}"
                asked = True
                answer = browser.post(location, data={"sub": sub}, allow_redirects=False, timeout=10)
        assert asked or sub is None, "the IdP signed the browser in without asking: it remembered someone"
        return browser.get(location, allow_redirects=False, timeout=10)


@contextmanager
def panva_idp(workdir: Path, *, client_id: str, client_secret: str, redirect_uris: list[str],
              post_logout_redirect_uris: list[str] = (), backchannel_logout_uri: str | None = None
              ) -> Iterator[PanvaIdP]:
    """oidc-provider on a free port of localhost, its one confidential client as given; stopped after."""
    port = free_port()
    config = workdir / "oidc_idp.json"
    config.write_text(json.dumps({
        "client_id": client_id, "client_secret": client_secret, "redirect_uris": list(redirect_uris),
        "post_logout_redirect_uris": list(post_logout_redirect_uris),
        "backchannel_logout_uri": backchannel_logout_uri}))
    issuer = f"http://localhost:{port}"
    log_path = workdir / f"oidc_idp-{port}.log"
    with open(log_path, "w") as log:  # a file, not a pipe: a pipe nobody reads could fill up and stall it
        process = subprocess.Popen(["node", str(SCRIPT), str(port), str(config)], cwd=ROOT, env=clean_env(),
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_ready(f"{issuer}/.well-known/openid-configuration", process)
        yield PanvaIdP(issuer, log_path)
    except Exception:
        print(log_path.read_text())
        raise
    finally:
        terminate(process)
