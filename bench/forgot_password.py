"""The forgot-password answer's time, by what the typed address is, over real HTTP.

Starts `idgate serve` (SQLite, one worker) mailing to a local aiosmtpd, with four addresses: a
password account, an unknown address, an SSO-only account and a member deactivated in every
organization. Times POST /password/forgot (→ 200, the same page for all) for each, interleaved so
that drift in machine load hits all alike, and pauses between requests so that the mail queued by
one (delivered after its response has gone out) never delays the next one's timing.
Goal (issue 24): each within ±10% of the existing address's median.
Run: python bench/forgot_password.py [--rounds N]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway import create_app  # noqa: E402
from gateway.accounts.models import User  # noqa: E402
from gateway.db import transaction  # noqa: E402
from gateway.orgs.models import MemberStatus, Membership, Organization, Role  # noqa: E402
from tests.helpers.processes import clean_env, free_port, idgate, start_idgate_serve, stop  # noqa: E402
from tests.helpers.smtp import SmtpServer  # noqa: E402

CASES = {
    "existing password account": "bench@example.com",
    "unknown address": "nobody@example.com",
    "SSO-only account": "sso@example.com",
    "deactivated member": "gone@example.com",
}


def _add_people(database_url: str) -> None:
    """The SSO-only account and the deactivated member, written as the CLI would (no CLI makes them)."""
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "bench"})
    now = datetime.now(timezone.utc)
    with transaction(app) as db:
        org = db.query(Organization).filter_by(slug="bench").one()
        sso = User(email="sso@example.com", name="Sso Person", sso_only=True, created_at=now)
        gone = User(email="gone@example.com", name="Gone Person", password_hash=None, created_at=now)
        db.add_all([sso, gone])
        db.flush()
        db.add_all([Membership(org_id=org.id, user_id=sso.id, role=Role.USER, joined_at=now),
                    Membership(org_id=org.id, user_id=gone.id, role=Role.USER, joined_at=now,
                               status=MemberStatus.INACTIVE)])
    app.extensions["idgate.engine"].dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=60)
    rounds = parser.parse_args().rounds

    smtp = SmtpServer().start()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        database_url = f"sqlite:///{tmp}/bench.db"
        env = clean_env(
            IDGATE_DATABASE_URL=database_url, IDGATE_INSTANCE_PATH=f"{tmp}/instance",
            IDGATE_BASE_URL=f"http://127.0.0.1:{port}", IDGATE_SMTP_URL=smtp.url,
            IDGATE_RESET_LIMIT_ACCOUNT="100000 per minute", IDGATE_RESET_LIMIT_ADDRESS="100000 per minute",
        )
        idgate("init", env=env, cwd=Path(tmp))
        idgate("org", "create", "bench", "--name", "Bench", "--admin-email", "bench@example.com",
               "--admin-name", "Bench Admin", env=env, cwd=Path(tmp))
        _add_people(database_url)
        server = start_idgate_serve(env=env, cwd=Path(tmp), port=port, workers=1)
        base = f"http://127.0.0.1:{port}"
        try:
            browser = requests.Session()
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"',
                              browser.get(f"{base}/password/forgot").text).group(1)
            pages = {}

            def ask(email: str) -> float:
                start = time.perf_counter()
                response = browser.post(f"{base}/password/forgot", data={"csrf_token": token, "email": email})
                elapsed = time.perf_counter() - start
                assert response.status_code == 200, response.status_code
                pages[email] = response.text
                time.sleep(0.03)  # the mail this one queued goes out now, outside any timing
                return elapsed

            for email in CASES.values():  # warm up
                ask(email)
            samples: dict[str, list[float]] = {name: [] for name in CASES}
            for n in range(rounds):
                order = list(CASES.items())
                order = order[n % len(order):] + order[:n % len(order)]  # each case follows each other alike
                for name, email in order:
                    samples[name].append(ask(email))
            assert len(set(pages.values())) == 1, "the answers differ"
        finally:
            stop(server)
            smtp.stop()

    medians = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    print(f"POST /password/forgot, {rounds} rounds, SQLite, one worker, medians:")
    for name, value in medians.items():
        print(f"  {name:28s} {value:8.2f} ms")
    existing = medians["existing password account"]
    ratios = ", ".join(f"{name} {value / existing:.3f}" for name, value in medians.items()
                       if name != "existing password account")
    print(f"÷ existing (goal 0.90–1.10): {ratios}")


if __name__ == "__main__":
    main()
