from tests.conftest import csrf_token
from tests.factories import MembershipFactory, member


def test_admin_pages_render(db, auth, client):
    admin_m = MembershipFactory(admin=True)
    other = MembershipFactory(org=admin_m.org)
    db.flush()
    assert auth.login(admin_m.user.email).status_code == 303
    for path in ["/admin/users", f"/admin/users/{other.user_id}", f"/admin/users/{other.user_id}/delete",
                 f"/admin/users/{other.user_id}/deactivate", "/admin/users/new", "/admin/audit",
                 "/admin/audit/export?format=csv", "/admin/audit/export?format=json"]:
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:2000])
    r = client.post("/admin/users/new", data={"csrf_token": csrf_token(client, "/admin/users/new"),
                                              "name": "New Person", "email": "new@example.com", "role": "user"})
    assert r.status_code == 201, r.get_data(as_text=True)
    r = client.post(f"/admin/users/{other.user_id}/deactivate", data={"csrf_token": csrf_token(client, "/admin/users/new")})
    assert r.status_code == 303
    r = client.get(r.headers["Location"])
    assert "Deactivated" in r.get_data(as_text=True)
    r = client.post(f"/admin/users/{admin_m.user_id}/deactivate", data={"csrf_token": csrf_token(client, "/admin/users/new")})
    r = client.get(r.headers["Location"])
    assert "cannot deactivate yourself" in r.get_data(as_text=True)
    token = client.get_cookie("idgate_session").value
    h = {"Authorization": f"Bearer {token}"}
    slug = admin_m.org.slug
    r = client.get(f"/api/v1/orgs/{slug}/users", headers=h)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert len(r.json["users"]) == 3
    r = client.post(f"/api/v1/orgs/{slug}/users", headers=h, json={"name": "Api Person", "email": "api@example.com", "role": "admin"})
    assert r.status_code == 201, r.json
    uid = r.json["user"]["id"]
    r = client.patch(f"/api/v1/orgs/{slug}/users/{uid}", headers=h, json={"role": "user"})
    assert r.status_code == 200 and r.json["user"]["role"] == "user"
    r = client.patch(f"/api/v1/orgs/{slug}/users/{admin_m.user_id}", headers=h, json={"role": "user"})
    assert r.status_code == 409 and r.json["error"]["code"] == "last_admin", r.json
    r = client.delete(f"/api/v1/orgs/{slug}/users/{uid}", headers=h)
    assert r.status_code == 200, r.json
    r = client.get(f"/api/v1/orgs/{slug}/audit", headers=h)
    assert r.status_code == 200
    assert client.get("/api/v1/orgs/other/users", headers=h).status_code == 404
    assert client.get("/api/v1/openapi.json").status_code == 200
