"""Sign-in with an authenticator code against sign-in without one, over real HTTP, in the same run.

Starts `idgate serve` (SQLite, the production argon2 parameters). A code works once per account,
and a real clock hands out a new one every 30 seconds: so each round signs in to an account of its
own, one set up with an authenticator app beforehand (as a person does, through /account/security).
  * without: POST /login → 303 to the account page;
  * with: POST /login → 200, the second step's page itself (the code form, posting to
    /login/verify), then POST /login/verify with the app's code and the CSRF token of that page
    → 303 to the account page.
Both fetch the sign-in form (and its CSRF token) first, as a browser does. Goal (issue 18):
with ÷ without ≤ 1.05 (argon2 dominates both). The ratio is printed last.
Run: python bench/signin_totp.py [--rounds N]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyotp
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.processes import clean_env, free_port, idgate, start_idgate_serve, stop  # noqa: E402

PASSWORD = "walnut harbor lantern 2046 quietly"
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _csrf(browser: requests.Session, url: str) -> str:
    return _CSRF.search(browser.get(url).text).group(1)


def _sign_up(base: str, n: int) -> requests.Session:
    browser = requests.Session()
    response = browser.post(f"{base}/signup", allow_redirects=False, data={
        "csrf_token": _csrf(browser, f"{base}/signup"), "org_name": f"Bench {n}", "org_slug": f"bench{n}",
        "name": "Bench Person", "email": f"p{n}@example.com", "password": PASSWORD})
    assert response.status_code == 303, response.status_code
    return browser


def _with_an_app(base: str, n: int) -> pyotp.TOTP:
    browser = _sign_up(base, n)
    browser.post(f"{base}/account/security/totp", data={"csrf_token": _csrf(browser, f"{base}/account/security")})
    page = browser.get(f"{base}/account/security").text
    app = pyotp.TOTP(re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", ""))
    confirmed = browser.post(f"{base}/account/security/totp/confirm",
                             data={"csrf_token": _CSRF.search(page).group(1), "code": app.now()})
    assert confirmed.status_code == 200, confirmed.status_code
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = clean_env(
            IDGATE_DATABASE_URL=f"sqlite:///{tmp}/bench.db", IDGATE_INSTANCE_PATH=f"{tmp}/instance",
            IDGATE_CERTS_DIR=f"{tmp}/certs", IDGATE_BASE_URL=f"http://127.0.0.1:{port}", IDGATE_SIGNUP="open",
            IDGATE_LOGIN_LIMIT_ACCOUNT="100000 per minute", IDGATE_LOGIN_LIMIT_ADDRESS="100000 per minute",
        )
        idgate("init", env=env, cwd=Path(tmp))
        server = start_idgate_serve(env=env, cwd=Path(tmp), port=port, workers=1)
        base = f"http://127.0.0.1:{port}"
        try:
            _sign_up(base, 0)  # the account that signs in without a code
            apps = [_with_an_app(base, n) for n in range(1, rounds + 2)]
            time.sleep(31 - time.time() % 30)  # a step none of the set-up codes belongs to

            def without(_n):
                browser = requests.Session()
                response = browser.post(f"{base}/login", allow_redirects=False, data={
                    "csrf_token": _csrf(browser, f"{base}/login"), "email": "p0@example.com", "password": PASSWORD})
                assert response.headers["Location"] == "/account", response.headers.get("Location")

            def with_code(n):
                browser = requests.Session()
                response = browser.post(f"{base}/login", allow_redirects=False, data={
                    "csrf_token": _csrf(browser, f"{base}/login"), "email": f"p{n}@example.com",
                    "password": PASSWORD})
                assert response.status_code == 200 and 'action="/login/verify"' in response.text, response.status_code
                response = browser.post(f"{base}/login/verify", allow_redirects=False, data={
                    "csrf_token": _CSRF.search(response.text).group(1), "code": apps[n - 1].now()})
                assert response.headers["Location"] == "/account", response.status_code

            samples: dict[str, list[float]] = {"without a code": [], "with a code": []}
            for n in range(1, rounds + 2):
                for name, fn in (("without a code", without), ("with a code", with_code)):
                    start = time.perf_counter()
                    fn(n)
                    if n > 1:  # the first round warms up
                        samples[name].append(time.perf_counter() - start)
        finally:
            stop(server)

    medians = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    print(f"{rounds} rounds over HTTP (idgate serve, 1 worker), medians:")
    for name, value in medians.items():
        print(f"  sign-in {name:16s} {value:8.1f} ms")
    print(f"with a code / without: {medians['with a code'] / medians['without a code']:.3f} (goal ≤ 1.05)")


if __name__ == "__main__":
    main()
