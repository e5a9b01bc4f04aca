def test_smoke(scim):
    r = scim.get("/ServiceProviderConfig")
    assert r.status_code == 200, r.data
    u = scim.new_user("alice@example.com", displayName="Alice Example")
    print(u)
    r = scim.get(f"/Users?filter=userName eq \"ALICE@example.com\"")
    print(r.get_json())
    assert r.get_json()["totalResults"] == 1
