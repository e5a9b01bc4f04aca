"""Sign-in cost over real HTTP against one argon2 verify, measured in the same run.

Starts `idgate serve` (SQLite, the production argon2 parameters), then times:
  * argon2 verify alone, in this process, with the gateway's parameters (the baseline);
  * a successful sign-in (POST /login → 303), a wrong password, an unknown email.
Goals (issue 2): success ≤ 1.15× the baseline; each failure within ±10% of success.
Run: python bench/signin.py [--rounds N]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
from argon2 import PasswordHasher

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.config import Settings  # noqa: E402
from tests.helpers.processes import clean_env, free_port, idgate, start_idgate_serve, stop  # noqa: E402

PASSWORD = "walnut harbor lantern 2046 quietly"


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _timed(fn, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds

    defaults = Settings()
    hasher = PasswordHasher(time_cost=defaults.argon2_time_cost, memory_cost=defaults.argon2_memory_cost,
                            parallelism=defaults.argon2_parallelism)
    stored = hasher.hash(PASSWORD)

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = clean_env(
            IDGATE_DATABASE_URL=f"sqlite:///{tmp}/bench.db", IDGATE_INSTANCE_PATH=f"{tmp}/instance",
            IDGATE_BASE_URL=f"http://127.0.0.1:{port}",
            IDGATE_LOGIN_LIMIT_ACCOUNT="100000 per minute", IDGATE_LOGIN_LIMIT_ADDRESS="100000 per minute",
        )
        idgate("init", env=env, cwd=Path(tmp))
        out = idgate("org", "create", "bench", "--name", "Bench", "--admin-email", "bench@example.com",
                     "--admin-name", "Bench Admin", env=env, cwd=Path(tmp)).stdout
        temporary = re.search(r"\(shown once\): (\S+)", out).group(1)
        server = start_idgate_serve(env=env, cwd=Path(tmp), port=port, workers=1)
        base = f"http://127.0.0.1:{port}"
        try:
            browser = requests.Session()
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', browser.get(f"{base}/login").text).group(1)
            browser.post(f"{base}/login", data={"csrf_token": token, "email": "bench@example.com",
                                                "password": temporary})
            browser.post(f"{base}/password/change", data={"csrf_token": token, "new_password": PASSWORD})

            def sign_in(email: str, password: str, expected: int):
                def attempt():
                    response = browser.post(f"{base}/login", allow_redirects=False,
                                            data={"csrf_token": token, "email": email, "password": password})
                    assert response.status_code == expected, response.status_code
                return attempt

            cases = {
                "argon2 verify (baseline)": lambda: hasher.verify(stored, PASSWORD),
                "sign-in, success": sign_in("bench@example.com", PASSWORD, 303),
                "sign-in, wrong password": sign_in("bench@example.com", PASSWORD + "x", 401),
                "sign-in, unknown email": sign_in("nobody@example.com", PASSWORD, 401),
            }
            for fn in cases.values():  # warm up
                fn()
            # Interleave the cases so that drift in machine load hits all of them alike.
            samples: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(rounds):
                for name, fn in cases.items():
                    samples[name] += _timed(fn, 1)
        finally:
            stop(server)

    medians = {name: _median_ms(values) for name, values in samples.items()}
    print(f"argon2id t={defaults.argon2_time_cost} m={defaults.argon2_memory_cost} KiB "
          f"p={defaults.argon2_parallelism}, {rounds} rounds, medians:")
    for name, value in medians.items():
        print(f"  {name:28s} {value:8.1f} ms")
    baseline, success = medians["argon2 verify (baseline)"], medians["sign-in, success"]
    print(f"wrong password / success: {medians['sign-in, wrong password'] / success:.3f} (goal 0.90–1.10)")
    print(f"unknown email / success:  {medians['sign-in, unknown email'] / success:.3f} (goal 0.90–1.10)")
    print(f"sign-in / argon2 verify:  {success / baseline:.3f} (goal ≤ 1.15)")


if __name__ == "__main__":
    main()
