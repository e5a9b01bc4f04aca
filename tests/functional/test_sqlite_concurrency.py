"""The embedded default carries a small team's morning: `idgate serve` on one SQLite file, its
default workers, sixteen people signing in at once over twenty accounts while an admin changes
roles. Every sign-in and every change succeeds (no 503 `database is locked`)."""

from __future__ import annotations

import re
import threading

import pytest
import requests

from tests.helpers.cluster import running_cluster

pytestmark = pytest.mark.slow
PEOPLE, AT_ONCE, SIGN_INS = 20, 16, 200


def _sign_in(base: str, email: str, password: str) -> int:
    browser = requests.Session()
    page = browser.get(f"{base}/login").text
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    return browser.post(f"{base}/login", allow_redirects=False,
                        data={"csrf_token": csrf, "email": email, "password": password}).status_code


def test_concurrent_sign_ins_and_role_changes_all_succeed_on_sqlite(database_url, served_database_url, tmp_path):
    if database_url.startswith("postgresql"):
        pytest.skip("the embedded default is SQLite")
    with running_cluster(tmp_path, served_database_url, instances=1, workers=None,
                         IDGATE_LOGIN_LIMIT_ACCOUNT="1000 per minute",
                         IDGATE_LOGIN_LIMIT_ADDRESS="1000 per minute") as cluster:
        base = cluster.bases[0]
        people = []
        for n in range(PEOPLE):
            created = cluster.api.post(f"{base}/api/v1/orgs/acme/users",
                                       json={"email": f"p{n}@acme.example", "name": f"Person {n}"}).json()
            people.append((created["user"]["id"], f"p{n}@acme.example", created["temporary_password"]))
        statuses, changes, done = [], [], threading.Event()

        def sign_ins(offset: int) -> None:
            for n in range(offset, SIGN_INS, AT_ONCE):
                _, email, password = people[n % PEOPLE]
                statuses.append(_sign_in(base, email, password))

        def admin() -> None:
            n = 0
            while not done.is_set():
                user_id = people[n % PEOPLE][0]
                role = "admin" if n % 2 == 0 else "user"
                changes.append(cluster.api.patch(f"{base}/api/v1/orgs/acme/users/{user_id}",
                                                 json={"role": role}).status_code)
                n += 1

        changer = threading.Thread(target=admin)
        changer.start()
        threads = [threading.Thread(target=sign_ins, args=(n,)) for n in range(AT_ONCE)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done.set()
        changer.join()

    # A temporary password signs in to the forced change (303); every one of them got there.
    assert statuses == [303] * SIGN_INS
    assert changes and set(changes) == {200}
