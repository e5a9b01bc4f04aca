"""No page of ours can be framed by another site (clickjacking)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("path", ["/login", "/signup", "/sso", "/admin/users", "/no/such/page", "/api/v1/orgs/x/users"])
def test_every_response_refuses_to_be_framed(client, path):
    response = client.get(path)

    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
