"""An email domain is one organization's: declared with its IdP, shown as declared, refused when taken."""

from __future__ import annotations

from tests.conftest import bearer, csrf_token, goes_on_to
from tests.functional.sso.conftest import connect


def put(client, slug, **body):
    return client.put(f"/api/v1/orgs/{slug}/saml", headers=bearer(client), json=body)


def declared(client, slug) -> list[str]:
    return client.get(f"/api/v1/orgs/{slug}/saml", headers=bearer(client)).json["connection"]["email_domains"]


def routed_to(client, email) -> str:
    response = client.post("/sso", data={"csrf_token": csrf_token(client, "/sso"), "who": email})
    return goes_on_to(response) or str(response.status_code)


def test_domains_are_kept_in_the_form_emails_carry_and_shown_sorted(client, signed_in_admin, idp):
    slug = signed_in_admin.org.slug

    response = put(client, slug, metadata_xml=idp.metadata_xml(), email_domains="B.example, a.example bücher.example")

    assert response.status_code == 200
    assert response.json["connection"]["email_domains"] == ["a.example", "b.example", "xn--bcher-kva.example"]
    assert declared(client, slug) == ["a.example", "b.example", "xn--bcher-kva.example"]


def test_reconnecting_replaces_the_domains(client, signed_in_admin, idp):
    slug = signed_in_admin.org.slug
    put(client, slug, metadata_xml=idp.metadata_xml(), email_domains=["old.example", "kept.example"])

    put(client, slug, metadata_xml=idp.metadata_xml(), email_domains=["kept.example", "new.example"])

    assert declared(client, slug) == ["kept.example", "new.example"]
    assert routed_to(client, "ann@new.example").startswith(f"/saml/{slug}/login")
    assert routed_to(client, "ann@old.example") == "400"


def test_a_domain_another_organization_declared_is_refused_and_nothing_is_changed(acme, client, signed_in_admin,
                                                                                  idp):
    slug = signed_in_admin.org.slug
    put(client, slug, metadata_xml=idp.metadata_xml(), email_domains=["mine.example"])

    refused = put(client, slug, metadata_xml=idp.metadata_xml(), email_domains=["mine.example", "acme.example.com"],
                  allow_idp_initiated=True)

    assert refused.status_code == 409 and refused.json["error"]["code"] == "domain_taken"
    assert "acme.example.com" in refused.json["error"]["message"]
    connection = client.get(f"/api/v1/orgs/{slug}/saml", headers=bearer(client)).json["connection"]
    assert connection["email_domains"] == ["mine.example"] and connection["allow_idp_initiated"] is False
    assert routed_to(client, "ann@acme.example.com").startswith("/saml/acme/login")


def test_a_domain_given_up_can_be_declared_by_another_organization(acme, client, signed_in_admin, idp, db, clock):
    connect(db, client, idp, acme, clock, email_domains=["acme.example.org"])

    response = put(client, signed_in_admin.org.slug, metadata_xml=idp.metadata_xml(),
                   email_domains=["acme.example.com"])

    assert response.status_code == 200
    assert routed_to(client, "ann@acme.example.com").startswith(f"/saml/{signed_in_admin.org.slug}/login")


def test_the_settings_page_shows_the_domains_and_names_a_taken_one_on_its_field(acme, client, signed_in_admin, idp):
    put(client, signed_in_admin.org.slug, metadata_xml=idp.metadata_xml(), email_domains=["b.example", "a.example"])
    assert 'value="a.example, b.example"' in client.get("/admin/sso").get_data(as_text=True)

    refused = client.post("/admin/sso", data={"csrf_token": csrf_token(client, "/admin/sso"),
                                              "metadata_xml": idp.metadata_xml(), "default_role": "user",
                                              "email_domains": "acme.example.com"})

    assert refused.status_code == 400
    assert "Another organization declared acme.example.com" in refused.get_data(as_text=True)
    assert declared(client, signed_in_admin.org.slug) == ["a.example", "b.example"]
