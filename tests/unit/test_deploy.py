"""docker-compose.yml stays valid and agrees with the gateway's settings (Docker cannot run here)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from gateway.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_the_demo_has_every_part(compose):
    assert {"gateway", "postgres", "redis", "nginx", "idp", "app", "setup"} <= set(compose["services"])
    assert compose["services"]["gateway"]["build"] == "."
    assert (ROOT / "Dockerfile").is_file()


def test_every_mounted_file_exists(compose):
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source


def test_the_gateway_accepts_its_compose_settings(compose):
    for name in ("gateway", "setup"):
        environment = compose["services"][name]["environment"]
        assert all(key.startswith("IDGATE_") for key in environment)
        settings = load_settings(environ={k: str(v) for k, v in environment.items()})
        assert settings.database_url.startswith("postgresql://") and settings.redis_url


def test_urls_agree_between_gateway_nginx_and_idp(compose):
    settings = load_settings(environ=compose["services"]["gateway"]["environment"])
    published = compose["services"]["nginx"]["ports"][0].split(":")[0]
    assert settings.base_url == f"http://localhost:{published}"
    idp_env = compose["services"]["idp"]["environment"]
    assert idp_env["SIMPLESAMLPHP_SP_ENTITY_ID"] == f"{settings.base_url}/saml/demo/metadata"
    assert idp_env["SIMPLESAMLPHP_SP_ASSERTION_CONSUMER_SERVICE"] == f"{settings.base_url}/saml/demo/acs"
    nginx = (ROOT / "deploy/compose/nginx.conf").read_text()
    assert "server gateway:5000" in nginx and "proxy_set_header X-Auth-Email $idgate_email" in nginx


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="Debian's docker-compose is not installed")
def test_docker_compose_itself_validates_the_file():
    result = subprocess.run(["docker-compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True,
                            text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr


HEADERS = ("X-Auth-User-Id", "X-Auth-Email", "X-Auth-Name", "X-Auth-Org", "X-Auth-Role", "X-Auth-Groups", "X-Auth-Amr",
           "X-Auth-Token")


def test_the_traefik_config_strips_client_identity_headers_and_uses_browser_mode():
    config = yaml.safe_load((ROOT / "deploy/traefik.yml").read_text())["http"]
    stripped = config["middlewares"]["strip-identity"]["headers"]["customRequestHeaders"]
    assert all(stripped[h] == "" for h in HEADERS)
    forward = config["middlewares"]["idgate"]["forwardAuth"]
    assert forward["address"].endswith("/auth/verify?redirect=1")
    assert set(forward["authResponseHeaders"]) == set(HEADERS)
    assert config["routers"]["app"]["middlewares"] == ["strip-identity", "idgate"]


def test_traefik_drops_headers_aliasing_ours_on_every_entry_point():
    static = yaml.safe_load((ROOT / "deploy/traefik-static.yml").read_text())
    assert all(e["http"]["aliasHeadersStrategy"] in {"delete", "reject"} for e in static["entryPoints"].values())
    assert static["providers"]["file"]["filename"]


def test_the_caddyfile_strips_client_identity_and_aliases_before_forward_auth_and_uses_browser_mode():
    caddyfile = (ROOT / "deploy/Caddyfile").read_text()
    # Go writes X_Auth_Org as X_auth_org: one prefix per separator HTTP allows in a name.
    prefixes = ["X-Auth", *(f"X{sep}auth" for sep in "_.!#$%&'*+^`|~")]
    assert all(re.search(rf'request_header "?-{re.escape(prefix)}\*"?\n', caddyfile) for prefix in prefixes)
    app = caddyfile.split("\napp.example.com {", 1)[1]
    # Outside a route block Caddy runs forward_auth first, and the stripping would delete its headers.
    assert re.search(r"\A\s*(#[^\n]*\n\s*)*route \{\s*import strip_client_identity\n", app)
    assert app.index("import strip_client_identity") < app.index("forward_auth idgate") < app.index("reverse_proxy app")
    assert "uri /auth/verify?redirect=1" in caddyfile


def test_the_nginx_config_overwrites_every_identity_header_and_drops_aliases():
    conf = (ROOT / "deploy/nginx.conf").read_text()
    for header in HEADERS:
        assert f"proxy_set_header {header} $idgate_" in conf
    assert "underscores_in_headers off;" in conf and "ignore_invalid_headers on;" in conf


def test_the_readme_nginx_snippet_also_overwrites_every_identity_header():
    snippet = re.search(r"```nginx\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    for header in HEADERS:
        assert f"proxy_set_header {header} $idgate_" in snippet
    assert "return 302 $idgate_redirect;" in snippet  # the checked, encoded link idgate built
