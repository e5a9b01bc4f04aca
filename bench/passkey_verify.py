"""Passkey assertion cost on the server: py_webauthn's verify_authentication_response, as
gateway.mfa.passkeys.authenticate calls it (ES256, the rpId and origin checked, user verification
required), over a real credential. Goal (the passkeys issue): median ≤ 1 ms.

How it is measured, and why:
- One credential is made once, by the tests' software authenticator (the `fido2` package's
  structures, a P-256 key from `cryptography`), and registered through verify_registration_response:
  the public key verified against is the one a registration keeps.
- The assertions are made first, each over its own challenge with its counter one up, so that the
  clock holds the server's work only (parsing the JSON, the client data and authenticator data
  checks, the ECDSA verification), not the authenticator's signing.
- Each call is timed alone (perf_counter_ns); the median is the figure, after a warm-up.
Run: python bench/passkey_verify.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import webauthn  # noqa: E402
from fido2.utils import websafe_encode  # noqa: E402

from tests.helpers.authenticator import SoftwareAuthenticator  # noqa: E402

RP_ID, ORIGIN = "localhost", "http://localhost:5000"
GOAL_MS = 1.0


def registered(authenticator: SoftwareAuthenticator) -> bytes:
    challenge = os.urandom(32)
    answer = authenticator.create({"rp": {"id": RP_ID}, "user": {"id": websafe_encode(os.urandom(32))},
                                   "challenge": websafe_encode(challenge)})
    verified = webauthn.verify_registration_response(credential=answer, expected_challenge=challenge,
                                                     expected_rp_id=RP_ID, expected_origin=ORIGIN)
    return verified.credential_public_key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()

    authenticator = SoftwareAuthenticator(origin=ORIGIN)
    public_key = registered(authenticator)
    challenges = [os.urandom(32) for _ in range(args.rounds + 200)]
    answers = [authenticator.get({"rpId": RP_ID, "allowCredentials": [], "challenge": websafe_encode(c)})
               for c in challenges]

    timings = []
    for i, (challenge, answer) in enumerate(zip(challenges, answers)):
        started = time.perf_counter_ns()
        verified = webauthn.verify_authentication_response(
            credential=answer, expected_challenge=challenge, expected_rp_id=RP_ID, expected_origin=ORIGIN,
            credential_public_key=public_key, credential_current_sign_count=0, require_user_verification=True)
        elapsed = time.perf_counter_ns() - started
        assert verified.new_sign_count == i + 1
        if i >= 200:  # warm-up
            timings.append(elapsed / 1e6)

    median = statistics.median(timings)
    p95 = statistics.quantiles(timings, n=20)[-1]
    print(f"verify_authentication_response, {len(timings)} assertions (ES256): "
          f"median {median:.3f} ms, p95 {p95:.3f} ms, min {min(timings):.3f} ms")
    print(f"passkey assertion verification: median {median:.3f} ms against the 1 ms goal: "
          f"{'met' if median <= GOAL_MS else 'NOT met'} ({median / GOAL_MS:.2f}× the goal)")


if __name__ == "__main__":
    main()
