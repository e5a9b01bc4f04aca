"""ACS cost: our whole ACS request against stock python3-saml's `is_valid`, same responses, same run.

Our side is the full request through the app (validation with cached schemas,
our extra checks, replay row, just-in-time provisioning, session, audit,
commit). The baseline is python3-saml 1.16 exactly as shipped, which compiles
its XML schema on every call. Goal (issue 5): ratio ≤ 1.0. The ratio is the last line.
Run: python bench/acs.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from onelogin.saml2.response import OneLogin_Saml2_Response  # noqa: E402

from gateway import create_app  # noqa: E402
from gateway.actor import Actor  # noqa: E402
from gateway.clock import SystemClock  # noqa: E402
from gateway.db import transaction  # noqa: E402
from gateway.migrate import upgrade  # noqa: E402
from gateway.orgs.models import Organization  # noqa: E402
from gateway.sso import services as sso  # noqa: E402
from saml import settings as saml_settings  # noqa: E402
from saml.request_data import request_data  # noqa: E402
from saml.schemas import stock_python3_saml  # noqa: E402
from tests.helpers.idp import TestIdP  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=40)
    rounds = parser.parse_args().rounds

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/bench.db", "SECRET_KEY": "bench",
                          "INSTANCE_PATH": f"{tmp}/instance", "CERTS_DIR": f"{tmp}/certs", "CLOCK": SystemClock()})
        upgrade(app)
        client = app.test_client()
        idp = TestIdP(Path(tmp) / "idp")
        with app.app_context():
            with transaction() as db:
                org = Organization(slug="acme", name="Acme", created_at=app.extensions["idgate.clock"].now())
                db.add(org)
            idp.trust_sp(client.get("/saml/acme/metadata").get_data(as_text=True))
            with transaction() as db:
                org = db.query(Organization).filter_by(slug="acme").one()
                sso.configure(db, org.id, metadata_xml=idp.metadata_xml(), email_domains=["acme.example.com"],
                              actor=Actor(), now=app.extensions["idgate.clock"].now())
                connection = sso.connection_of(db, "acme")[1]
                pair = (sso.service_provider(app.extensions["idgate.settings"], "acme"),
                        sso.identity_provider(connection))

        settings = saml_settings.for_pair(*pair)
        acs = request_data(pair[0].acs_url)
        baseline, ours = [], []
        for n in range(rounds + 2):  # the first two warm up
            start = client.get("/saml/acme/login", query_string={"next": "/account"})
            request = idp.read_authn_request(start.headers["Location"])
            email = f"user{n}@acme.example.com"
            answer = idp.response(sp_entity_id=request["sp_entity_id"], acs_url=request["acs_url"],
                                  in_response_to=request["id"], name_id=email,
                                  attributes={"email": [email], "displayName": [f"User {n}"]})
            with stock_python3_saml():
                t0 = time.perf_counter()
                assert OneLogin_Saml2_Response(settings, answer).is_valid(acs, request["id"])
                t1 = time.perf_counter()
            t2 = time.perf_counter()
            result = client.post("/saml/acme/acs", data={"SAMLResponse": answer,
                                                        "RelayState": request["relay_state"]})
            t3 = time.perf_counter()
            assert result.status_code == 303, result.get_data(as_text=True)
            client.delete_cookie("idgate_session")
            if n >= 2:
                baseline.append(t1 - t0)
                ours.append(t3 - t2)

    b, o = statistics.median(baseline) * 1000, statistics.median(ours) * 1000
    print(f"{rounds} sign-ins, each a new user (provisioning included), medians:")
    print(f"  stock python3-saml is_valid      {b:7.2f} ms")
    print(f"  idgate ACS request, end to end   {o:7.2f} ms")
    print(f"ACS / stock is_valid: {o / b:.3f} (goal ≤ 1.0)")


if __name__ == "__main__":
    main()
