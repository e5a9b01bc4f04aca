"""Malformed, oversized and hostile input gets a 4xx that says what is wrong, never a 500."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import func, select

from gateway.accounts.models import User
from gateway.audit.models import AuditEvent
from gateway.errors import BadRequest
from gateway.orgs.models import Organization
from gateway.sessions.cookies import COOKIE_NAME
from gateway.sso.keys import sp_keypair
from tests.conftest import STRONG_PASSWORD, Auth, bearer, csrf_token
from tests.factories import member

URLENCODED = "application/x-www-form-urlencoded"


def row_counts(db) -> dict[str, int]:
    db.expire_all()
    return {model.__name__: db.scalar(select(func.count()).select_from(model))
            for model in (Organization, User, AuditEvent)}


def signup_data(client, **fields) -> dict:
    return {"csrf_token": csrf_token(client, "/signup"), "org_name": "Acme", "org_slug": "acme",
            "name": "Ada Lovelace", "email": "ada@example.com", "password": STRONG_PASSWORD, **fields}


class TestMissingFields:
    def test_sign_in_without_email_and_password_names_both(self, client):
        response = client.post("/login", data={"csrf_token": csrf_token(client)})

        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert "Enter your email address." in page and "Enter your password." in page

    def test_sign_in_with_blank_fields_is_the_same_as_missing_ones(self, client):
        response = client.post("/login", data={"csrf_token": csrf_token(client), "email": "  ", "password": ""})

        assert response.status_code == 400
        assert "Enter your email address." in response.get_data(as_text=True)

    def test_sign_up_without_fields_names_each_of_them(self, client, db):
        response = client.post("/signup", data={"csrf_token": csrf_token(client, "/signup")})

        assert response.status_code == 400
        page = response.get_data(as_text=True)
        for message in ("Name your organization.", "Choose a short name.", "Enter your name.",
                        "Enter your email address.", "Choose a password."):
            assert message in page
        assert row_counts(db) == {"Organization": 0, "User": 0, "AuditEvent": 0}

    def test_password_change_without_the_new_password_says_so(self, auth, client, db):
        auth.login(member().email)

        response = client.post("/password/change", data={"csrf_token": csrf_token(client, "/password/change"),
                                                          "current_password": STRONG_PASSWORD})

        assert response.status_code == 400
        assert "Choose a new password." in response.get_data(as_text=True)


class TestOversizedInput:
    @pytest.mark.parametrize("field", ["email", "password", "next"])
    def test_a_sign_in_field_over_10_kb_is_refused(self, client, db, field):
        data = {"csrf_token": csrf_token(client), "email": "a@example.com", "password": "x", field: "a" * 11_000}

        response = client.post("/login", data=data)

        assert response.status_code in (400, 413)
        assert row_counts(db)["AuditEvent"] == 0

    @pytest.mark.parametrize("field", ["org_name", "name", "password"])
    def test_a_sign_up_field_over_10_kb_is_refused(self, client, db, field):
        response = client.post("/signup", data=signup_data(client, **{field: "a" * 11_000}))

        assert 400 <= response.status_code < 500
        assert row_counts(db) == {"Organization": 0, "User": 0, "AuditEvent": 0}

    def test_a_field_over_10_kb_in_a_multipart_form_is_refused(self, client):
        data = {"csrf_token": csrf_token(client), "email": "a@example.com", "password": "x" * 11_000}

        response = client.post("/login", data=data, content_type="multipart/form-data")

        assert 400 <= response.status_code < 500

    def test_long_fields_under_the_form_limit_get_a_field_message(self, client, db):
        response = client.post("/login", data={"csrf_token": csrf_token(client), "email": "a" * 3000,
                                               "password": "p" * 3000})

        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert "That email address is too long." in page and "That password is too long." in page

    def test_a_body_over_the_content_limit_is_refused_with_413(self, client):
        response = client.post("/login", data={"csrf_token": "x", "email": "a" * (200 * 1024)})

        assert response.status_code == 413
        assert "Error 413" in response.get_data(as_text=True)

    def test_a_raw_body_over_the_content_limit_is_refused_with_413(self, client):
        response = client.post("/login", data=b"email=" + b"a" * (100 * 1024), content_type=URLENCODED)

        assert response.status_code == 413

    def test_a_very_long_next_is_ignored(self, auth, db):
        assert auth.login(member().email, next="/" + "a" * 5000).headers["Location"] == "/account"

    @pytest.mark.parametrize("next_url", ["http://[::1", "https://[evil.com/", "http://]", "\u00ff\u00fe"])
    def test_an_unparseable_next_is_ignored_not_a_500(self, auth, db, next_url):
        response = auth.login(member().email, next=next_url)

        assert response.status_code == 303
        assert response.headers["Location"] == "/account"


class TestUndecodableInput:
    @pytest.mark.parametrize("body", [b"email=%FF%FE&password=x", b"email=a%40example.com&password=%C3%28",
                                      b"email=\xff\xfe&password=x"])
    def test_invalid_utf8_in_a_urlencoded_body_is_refused(self, client, db, body):
        body = f"csrf_token={csrf_token(client)}&".encode() + body

        response = client.post("/login", data=body, content_type=URLENCODED)

        assert response.status_code == 400
        assert "The form is not valid UTF-8." in response.get_data(as_text=True)
        assert row_counts(db)["AuditEvent"] == 0

    def test_invalid_utf8_without_a_csrf_token_is_still_a_400(self, client):
        response = client.post("/login", data=b"email=%FF%FE&password=x", content_type=URLENCODED)

        assert response.status_code == 400

    def test_invalid_utf8_in_a_multipart_body_is_refused(self, client):
        boundary = "XyZ"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n"
                f"{csrf_token(client)}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n"
                ).encode() + b"\xff\xfe@example.com" + (
                f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nx\r\n"
                f"--{boundary}--\r\n").encode()

        response = client.post("/login", data=body, content_type=f"multipart/form-data; boundary={boundary}")

        assert response.status_code == 400

    @pytest.mark.parametrize("field", ["email", "password", "next"])
    def test_a_nul_character_in_a_sign_in_field_is_not_a_500(self, client, db, field):
        data = {"csrf_token": csrf_token(client), "email": "a@example.com", "password": "pass word",
                field: "a\x00b@example.com"}

        response = client.post("/login", data=data)

        assert 400 <= response.status_code < 500

    @pytest.mark.parametrize("field", ["org_name", "org_slug", "name", "email", "password"])
    def test_a_nul_character_in_a_sign_up_field_is_refused_and_nothing_is_written(self, client, db, field):
        response = client.post("/signup", data=signup_data(client, **{field: "Acme\x00 Corp"}))

        assert 400 <= response.status_code < 500
        assert row_counts(db) == {"Organization": 0, "User": 0, "AuditEvent": 0}


class TestOddHeaders:
    # (A NUL in a header never gets this far: the HTTP server refuses it, per RFC 9110 section 5.5.)
    @pytest.mark.parametrize("user_agent", ["a\tb", "\u00ff\u00fe" * 10, "x" * 5000])
    def test_an_odd_user_agent_is_recorded_without_breaking_the_sign_in(self, auth, db, user_agent):
        user = member()

        assert auth.login(user.email, "not it at all", headers={"User-Agent": user_agent}).status_code == 401
        assert auth.login(user.email, headers={"User-Agent": user_agent}).status_code == 303
        db.expire_all()
        assert len(db.scalars(select(AuditEvent.user_agent)).all()) == 2


class TestContentTypes:
    @pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/xml",
                                              "application/octet-stream"])
    def test_sign_in_with_an_unknown_content_type_gets_415(self, client, db, content_type):
        member()
        response = client.post("/login", data='{"email": "a@example.com", "password": "x"}',
                               content_type=content_type)

        assert response.status_code == 415
        assert "application/x-www-form-urlencoded" in response.get_data(as_text=True)
        assert row_counts(db)["AuditEvent"] == 0

    @pytest.mark.parametrize("path", ["/signup", "/password/change", "/logout"])
    def test_other_forms_with_an_unknown_content_type_get_a_4xx(self, client, path):
        response = client.post(path, data="{}", content_type="application/json")

        assert 400 <= response.status_code < 500

    def test_a_malformed_multipart_body_is_a_4xx(self, client):
        response = client.post("/login", data=b"--nope\r\nbroken", content_type="multipart/form-data; boundary=x")

        assert 400 <= response.status_code < 500


class TestAuthorizationHeader:
    @pytest.mark.parametrize("header", [
        "Bearer", "Bearer ", "Bearer    ", "Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Token abc", "garbage",
        "Bearer a b c", "Bearer \u00e9\u00ff", "Bearer \x7f", "Bearer ../../etc/passwd", "Bearer ' OR 1=1 --",
    ])
    def test_a_garbage_authorization_header_on_verify_is_401(self, client, header):
        response = client.get("/auth/verify", headers={"Authorization": header})

        assert response.status_code == 401

    @pytest.mark.parametrize("length", [129, 5_000, 16_000])
    def test_a_very_long_bearer_token_is_401(self, client, length):
        assert client.get("/auth/verify", headers={"Authorization": "Bearer " + "x" * length}).status_code == 401

    def test_a_garbage_session_cookie_is_simply_not_signed_in(self, client):
        client.set_cookie(COOKIE_NAME, "\u00e9" * 10 + "x" * 500)

        assert client.get("/auth/verify").status_code == 401
        assert client.get("/account").status_code == 302

    def test_a_garbage_bearer_token_on_the_api_is_a_json_401(self, client):
        response = client.get("/api/v1/orgs/acme/users", headers={"Authorization": "Bearer \u00ff" * 50})

        assert response.status_code == 401
        assert response.json["error"]["code"] == "unauthorized"


class TestHostileQueryStrings:
    @pytest.mark.parametrize("query", [
        "?next=%00", "?next=%FF%FE", "?next=" + "a" * 3000, "?next=javascript:alert(1)",
        "?next=http://[::1", "?next=%E2%80%AE",
    ])
    def test_the_sign_in_page_never_breaks_on_its_next_parameter(self, client, query):
        assert client.get(f"/login{query}").status_code == 200

    @pytest.mark.parametrize("query", ["?org=%00", "?role=%FF", "?rd=http://[::1", "?rd=%00&redirect=1",
                                       "?org=" + "a" * 3000])
    def test_verify_never_breaks_on_its_query(self, client, query):
        # 400 for a value that is not text (%FF): refused as unreadable, never guessed at
        assert client.get(f"/auth/verify{query}").status_code in (302, 400, 401)

    @pytest.mark.parametrize("headers", [
        {"X-Original-URL": "http://[::1"}, {"X-Original-URL": "\u00ff\u00fe"},
        {"X-Forwarded-Host": "a b", "X-Forwarded-Uri": "\u00ff"}, {"X-Original-URL": "x" * 5000},
    ])
    def test_verify_never_breaks_on_proxy_headers(self, client, headers):
        # An original URL we cannot read is refused outright: nothing to sign in for.
        assert client.get("/auth/verify", headers=headers).status_code == 403


class TestOutOfRangeInput:
    """Numbers and times past what the database holds are "no such thing", not a driver error."""

    HUGE = str(2**31)  # one past what PostgreSQL's INTEGER holds

    @pytest.mark.parametrize("path", [
        "/api/v1/orgs/{slug}/users/{huge}", "/api/v1/orgs/{slug}/users?after={huge}",
        "/api/v1/orgs/{slug}/audit?before={huge}", "/api/v1/orgs/{slug}/audit?before=-1",
        "/api/v1/orgs/{slug}/audit?since=9999-12-31T23:59:59-14:00",
        "/api/v1/orgs/{slug}/audit?until=0001-01-01T00:00:00%2B14:00",
    ])
    def test_the_api(self, client, signed_in_admin, path):
        response = client.get(path.format(slug=signed_in_admin.org.slug, huge=self.HUGE), headers=bearer(client))

        assert response.status_code in (400, 404) and response.is_json

    @pytest.mark.parametrize("path", ["/admin/users/{huge}", "/admin/users?after={huge}",
                                      "/admin/audit?before={huge}", "/admin/audit?since=9999-12-31T23:59:59-14:00",
                                      "/admin/invitations/{huge}/delete"])
    def test_the_console(self, client, signed_in_admin, path):
        assert client.get(path.format(huge=self.HUGE)).status_code in (400, 404)

    def test_deleting_an_invitation_with_a_huge_id(self, client, signed_in_admin):
        response = client.delete(f"/api/v1/orgs/{signed_in_admin.org.slug}/invitations/{self.HUGE}",
                                 headers=bearer(client))
        assert response.status_code == 404


class TestNulCharacters:
    """PostgreSQL's text cannot hold NUL: wherever it comes in, it is a 400 (SQLite stores it)."""

    @pytest.mark.parametrize("path", ["/saml/a%00b/metadata", "/saml/a%00b/login", "/admin/users?q=a%00b",
                                      "/admin/audit?actor=a%00b"])
    def test_in_the_url(self, client, signed_in_admin, path):
        assert client.get(path).status_code in (200, 400, 404)

    @pytest.mark.parametrize("path, data", [("/account/switch", {"org": "a\x00b"}), ("/sso", {"who": "a\x00b"})])
    def test_in_a_form(self, client, signed_in_admin, path, data):
        response = client.post(path, data={"csrf_token": csrf_token(client, "/sso"), **data})
        assert response.status_code in (303, 400, 404)

    def test_in_a_json_body(self, client, signed_in_admin):
        response = client.post(f"/api/v1/orgs/{signed_in_admin.org.slug}/users", headers=bearer(client),
                               json={"email": "ada@example.com", "name": "Ada\x00 Lovelace"})
        assert response.status_code in (201, 400)

    def test_in_the_acs_relay_state(self, client):
        response = client.post("/saml/acme/acs", data={"SAMLResponse": "PHg+", "RelayState": "a\x00b"})
        assert response.status_code in (400, 404)

    def test_the_database_refuses_it_as_a_bad_request(self, app, db, is_postgres):
        if not is_postgres:
            pytest.skip("SQLite stores NUL characters")
        with pytest.raises(BadRequest, match="NUL"):
            db.scalar(select(User).where(User.email == "a\x00b@example.com"))


class TestSamlSettingsOverTheApi:
    @pytest.fixture
    def metadata(self, app):
        """Valid IdP metadata (the certificate is any real one: the SP's own will do)."""
        _key, cert = sp_keypair(app.extensions["idgate.settings"].certs_dir)
        body = "".join(line for line in cert.splitlines() if "CERTIFICATE" not in line)
        return lambda entity_id="https://idp.example.org/metadata": (
            '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
            f'entityID="{entity_id}"><md:IDPSSODescriptor '
            'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing">'
            '<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>'
            f'{body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>'
            '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
            'Location="https://idp.example.org/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>')

    def _put(self, client, admin, body):
        return client.put(f"/api/v1/orgs/{admin.org.slug}/saml", headers=bearer(client), json=body)

    def test_valid_settings_are_taken(self, client, signed_in_admin, metadata):
        response = self._put(client, signed_in_admin, {"metadata_xml": metadata(), "allow_idp_initiated": False,
                                                       "email_domains": ["acme.example.com"]})
        assert response.status_code == 200, response.json

    @pytest.mark.parametrize("field, value", [
        ("group_attribute", ["groups"]), ("email_attribute", 7), ("name_attribute", "n" * 257),
        ("email_domains", {"acme.example.com": True}), ("admin_groups", "x" * 300),
        ("admin_groups", [1, 2]), ("allow_idp_initiated", "false"),
    ])
    def test_a_field_of_the_wrong_kind_is_a_400_that_names_it(self, client, signed_in_admin, metadata, field,
                                                              value):
        response = self._put(client, signed_in_admin, {"metadata_xml": metadata(), field: value})

        assert response.status_code == 400 and field in response.json["error"]["message"]

    def test_metadata_whose_entity_id_is_too_long_is_refused(self, client, signed_in_admin, metadata):
        response = self._put(client, signed_in_admin,
                             {"metadata_xml": metadata(f"https://idp.example.org/{'x' * 600}")})

        assert response.status_code == 400 and response.json["error"]["code"] == "invalid_metadata"


@pytest.mark.parametrize("header", ["Basic " + base64.b64encode(b"\xff\xfe:secret").decode(), "Basic ", "Basic   ",
                                    "Basic \xa0", "Bearer \xa0"])
def test_introspection_with_credentials_that_cannot_be_read_is_a_401(client, header):
    response = client.post("/oauth/introspect", data={"token": "x"}, headers={"Authorization": header})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


@pytest.mark.parametrize("host", ["a" * 1000, "x" * 64 + ".example.com", "localhost\x00", "\xff", "[::1"])
@pytest.mark.parametrize("path", ["/login", "/account", "/auth/verify?redirect=1", "/saml/acme/metadata"])
def test_an_odd_host_header_is_never_a_500(client, host, path):
    # Werkzeug refuses some (400), IDNA cannot encode others: the error page must still be made.
    assert client.get(path, environ_overrides={"HTTP_HOST": host}).status_code < 500


@pytest.mark.parametrize("host", ["a" * 1000, "localhost\x00"])
def test_an_odd_host_header_with_a_temporary_password_session_is_never_a_500(app, db, host):
    from tests.factories import UserFactory

    user = UserFactory(email="temp@example.com", must_change_password=True)
    member(user=user)
    db.flush()
    browser = app.test_client()
    Auth(browser).login("temp@example.com")  # the restricted session: every page redirects to the change
    # As a bearer token: the test client keeps cookies to their host.
    assert browser.get("/account", headers=bearer(browser), environ_overrides={"HTTP_HOST": host}).status_code < 500



class TestHostileJson:
    @pytest.mark.parametrize("body", ['{"email": "\\ud800@example.com"}', '{"\\udfff": 1}',
                                      '{"email": ' + "[" * 5000 + "]" * 5000 + "}",
                                      '{"email": ' + "[" * 600 + "]" * 600 + "}"])
    def test_a_body_we_cannot_keep_is_a_400(self, client, signed_in_admin, body):
        response = client.post(f"/api/v1/orgs/{signed_in_admin.org.slug}/invitations", data=body,
                               content_type="application/json", headers=bearer(client))
        assert response.status_code == 400 and response.json["error"]["code"] == "invalid_json"


@pytest.mark.settings(base_url="http://auth.example.com")
def test_introspection_published_over_plain_http_is_a_clear_400(client):
    # authlib insists on https (or loopback) for OAuth 2, judged by the gateway's published URL.
    response = client.post("/oauth/introspect", data={"token": "x"})
    assert response.status_code == 400 and response.json["error"] == "insecure_transport"


def test_a_session_cookie_that_is_not_utf8_is_simply_not_signed_in(client):
    # The raw byte 0xFF, as a WSGI server hands it over (latin-1 in the environ).
    response = client.get("/auth/verify", environ_overrides={"HTTP_COOKIE": "idgate_session=\xff"})
    assert response.status_code == 401
