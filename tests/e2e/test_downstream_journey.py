"""In a real browser, through a real nginx: a new user is sent to sign in, held on the password
change, then lands on the app behind idgate."""

from __future__ import annotations

import re

import pytest

from tests.helpers import nginx
from tests.helpers.downstream import downstream_app
from tests.helpers.processes import clean_env, free_port, idgate, start_idgate_serve, stop

pytestmark = pytest.mark.skipif(not nginx.available(), reason="Debian's nginx is not installed")
NEW_PASSWORD = "saffron glacier tandem 3319 orbit"


@pytest.fixture
def behind_nginx(tmp_path):
    with downstream_app() as (app_port, seen):
        idgate_port, nginx_port = free_port(), free_port()
        base = f"http://127.0.0.1:{nginx_port}"
        env = clean_env(IDGATE_DATABASE_URL=f"sqlite:///{tmp_path / 'gw.db'}",
                        IDGATE_INSTANCE_PATH=str(tmp_path / "i"), IDGATE_CERTS_DIR=str(tmp_path / "certs"),
                        IDGATE_BASE_URL=base, IDGATE_ARGON2_TIME_COST="1", IDGATE_ARGON2_MEMORY_COST="1024",
                        IDGATE_ARGON2_PARALLELISM="1")
        idgate("init", env=env, cwd=tmp_path)
        out = idgate("org", "create", "acme", "--name", "Acme", "--admin-email", "uma@acme.example",
                     "--admin-name", "Uma User", env=env, cwd=tmp_path).stdout
        server = start_idgate_serve(env=env, cwd=tmp_path, port=idgate_port)
        proxy = nginx.Nginx(tmp_path / "nginx", nginx.render_shipped_config(
            listen=nginx_port, idgate=idgate_port, app=app_port), nginx_port).start()
        try:
            yield base, re.search(r"\(shown once\): (\S+)", out).group(1)
        finally:
            proxy.stop()
            stop(server)


def test_a_new_user_reaches_the_app_through_nginx_after_changing_the_temporary_password(behind_nginx, person,
                                                                                          screenshot):
    base, temporary = behind_nginx
    page = person()
    page.goto(f"{base}/reports/q3")
    page.wait_for_url(re.compile(r".*/login\?next=.*"))
    page.get_by_label("Email").fill("uma@acme.example")
    page.get_by_label("Password").fill(temporary)
    page.get_by_role("button", name="Sign in").click()
    on_the_password_change = re.compile(r".*/password/change\?next=http.*/reports/q3$")
    page.wait_for_url(on_the_password_change)
    page.goto(f"{base}/reports/q3")  # the app is not reachable yet: back to the change, the way kept
    page.wait_for_url(on_the_password_change)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save password").click()
    page.wait_for_url(f"{base}/reports/q3")  # where they were going, straight after
    assert page.locator("#who").inner_text() == "uma@acme.example"
    screenshot(page, "downstream-app")
