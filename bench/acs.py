"""ACS cost: our whole ACS request against stock python3-saml's `is_valid`, same responses, same run.

Our side is the whole WSGI request through the app, from the environ a
server hands over to the response (validation with compiled schemas and
XPath, our extra checks, replay row, just-in-time provisioning, session,
audit, commit). The baseline is python3-saml 1.16 exactly as shipped, which
compiles its XML schema on every call. Goal (issue 5): ratio ≤ 1.0.

How it is measured, and why:
- The IdP's answers are made first: pysaml2 signs through the xmlsec1
  program, whose start-up would otherwise sit between the measurements.
- The environ (HTTP parsing, the form encoding of the browser) is built
  before the clock starts, as a WSGI server would build it.
- Both sides run over the same answers in blocks of ten, taking turns at
  going first, so that each runs warm, as it would in a server handling
  sign-ins. One call each in turn would charge our request for the caches
  stock python3-saml has just thrown out compiling its schema.
Two rounds: first sign-ins (each a new user, provisioned) and returning
users. The ratio for first sign-ins, the costlier, is the last line.
Run: python bench/acs.py [--rounds N]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from onelogin.saml2.response import OneLogin_Saml2_Response  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

from gateway import create_app  # noqa: E402
from gateway.actor import Actor  # noqa: E402
from gateway.clock import SystemClock  # noqa: E402
from gateway.db import transaction  # noqa: E402
from gateway.migrate import upgrade  # noqa: E402
from gateway.orgs.models import Organization  # noqa: E402
from gateway.sso import connections, saml_protocol  # noqa: E402
from saml import settings as saml_settings  # noqa: E402
from saml import compiled  # noqa: E402
from saml.request_data import request_data  # noqa: E402
from tests.helpers.idp import TestIdP  # noqa: E402

BASE_URL = "http://localhost"


def connect_acme(app, client, idp):
    """An organization with the test IdP connected; returns python3-saml settings and request data."""
    clock = app.extensions["idgate.clock"]
    with app.app_context():
        with transaction() as db:
            db.add(Organization(slug="acme", name="Acme", created_at=clock.now()))
        idp.trust_sp(client.get("/saml/acme/metadata").get_data(as_text=True))
        with transaction() as db:
            org = db.query(Organization).filter_by(slug="acme").one()
            connections.configure(db, org.id, metadata_xml=idp.metadata_xml(), email_domains=["acme.example.com"],
                                  actor=Actor(), now=clock.now())
            sp = saml_protocol.service_provider(app.extensions["idgate.settings"], "acme")
            idp_config = saml_protocol.identity_provider(connections.idp_connection(db, "acme"))
    return saml_settings.for_pair(sp, idp_config), request_data(sp.acs_url)


def answers(client, idp, count: int) -> list[tuple[dict, str]]:
    """(AuthnRequest, signed SAMLResponse) pairs for user0 … user{count-1}, each from a real /login."""
    made = []
    for n in range(count):
        # Each from a browser of its own, as sign-ins come (SSO starts are limited per address).
        start = client.get("/saml/acme/login", query_string={"next": "/account"},
                           environ_base={"REMOTE_ADDR": f"10.0.{n // 250}.{n % 250 + 1}"})
        request = idp.read_authn_request(start.headers["Location"])
        email = f"user{n}@acme.example.com"
        made.append((request, idp.response(sp_entity_id=request["sp_entity_id"], acs_url=request["acs_url"],
                                           in_response_to=request["id"], name_id=email,
                                           attributes={"email": [email], "displayName": [f"User {n}"]})))
    return made


@contextlib.contextmanager
def stock_python3_saml():
    """The library exactly as shipped, for the baseline."""
    compiled.uninstall()
    try:
        yield
    finally:
        compiled.install()


BLOCK = 10


def measure(app, settings, acs, pairs) -> tuple[float, float, float]:
    """Medians of stock `is_valid` and of our ACS request over the same answers, and the median of
    the ratios block by block (each block's two sides ran within milliseconds of each other, so a
    passing slowdown of the machine weighs on both)."""
    baseline, ours, ratios = [], [], []

    def stock(request, answer):
        with stock_python3_saml():
            t0 = time.perf_counter()
            assert OneLogin_Saml2_Response(settings, answer).is_valid(acs, request["id"])
            return time.perf_counter() - t0

    def gateway(request, answer):
        body = urlencode({"SAMLResponse": answer, "RelayState": request["relay_state"]}).encode()
        environ = EnvironBuilder(path="/saml/acme/acs", method="POST", data=body, base_url=BASE_URL,
                                 content_type="application/x-www-form-urlencoded").get_environ()
        status = []
        t0 = time.perf_counter()
        b"".join(app(environ, lambda code, headers, exc_info=None: status.append(code)))
        elapsed = time.perf_counter() - t0
        assert status[0].startswith("303"), status
        return elapsed

    for start in range(0, len(pairs), BLOCK):
        block = pairs[start:start + BLOCK]
        sides = {stock: [], gateway: []}
        for side in (stock, gateway) if (start // BLOCK) % 2 == 0 else (gateway, stock):
            sides[side] = [side(*pair) for pair in block][1:]  # the first of a block warms up
        if sides[stock] and sides[gateway]:
            baseline += sides[stock]
            ours += sides[gateway]
            ratios.append(statistics.median(sides[gateway]) / statistics.median(sides[stock]))
    return statistics.median(baseline), statistics.median(ours), statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=60)
    rounds = parser.parse_args().rounds

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/bench.db", "SECRET_KEY": "bench",
                          "INSTANCE_PATH": f"{tmp}/instance", "CERTS_DIR": f"{tmp}/certs", "CLOCK": SystemClock()})
        upgrade(app)
        client = app.test_client()
        idp = TestIdP(Path(tmp) / "idp")
        settings, acs = connect_acme(app, client, idp)
        count = rounds + -(-rounds // (BLOCK - 1))  # one more per block, for the warm-up
        first = measure(app, settings, acs, answers(client, idp, count))
        returning = measure(app, settings, acs, answers(client, idp, count))

    print(f"{rounds} sign-ins of each kind, medians (ms); ratio: the median of the blocks' ratios")
    print(f"{'':32s}{'stock is_valid':>16s}{'our ACS request':>17s}{'ratio':>8s}")
    for label, (b, o, ratio) in (("returning users", returning), ("first sign-ins (provisioning)", first)):
        print(f"  {label:30s}{b * 1000:16.2f}{o * 1000:17.2f}{ratio:8.3f}")
    print(f"ACS / stock is_valid: {first[2]:.3f} (goal ≤ 1.0)")


if __name__ == "__main__":
    main()
