"""The first app's reverse-proxy configuration, with this gateway's own URL in it, ready to copy.

Short forms of the shipped configurations in deploy/ (which say why each line is there); the
overview links to those for the full ones.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def snippets(base_url: str) -> dict[str, str]:
    """nginx, Traefik and Caddy: the app at app.example.com, this gateway at `base_url`."""
    base = base_url.rstrip("/")
    host = urlsplit(base).netloc
    return {
        "nginx": f"""location = /_idgate_verify {{
    internal;
    proxy_pass {base}/auth/verify;
    proxy_pass_request_body off;
    proxy_set_header Content-Length "";
    proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
}}

location / {{
    auth_request /_idgate_verify;
    auth_request_set $auth_redirect $upstream_http_x_auth_redirect;
    auth_request_set $auth_user $upstream_http_x_auth_email;
    error_page 401 = @idgate_login;
    proxy_set_header X-Auth-Email $auth_user;
    proxy_pass http://127.0.0.1:8080;
}}

location @idgate_login {{
    return 302 $auth_redirect;
}}
""",
        "traefik": f"""http:
  middlewares:
    idgate:
      forwardAuth:
        address: "{base}/auth/verify?redirect=1"
        trustForwardHeader: true
        authResponseHeaders:
          - X-Auth-User-Id
          - X-Auth-Email
          - X-Auth-Name
          - X-Auth-Org
          - X-Auth-Role
          - X-Auth-Token
  routers:
    app:
      rule: "Host(`app.example.com`)"
      middlewares: [idgate]
      service: app
""",
        "caddy": f"""app.example.com {{
	forward_auth {base} {{
		uri /auth/verify?redirect=1
		header_up Host {host}
		copy_headers X-Auth-User-Id X-Auth-Email X-Auth-Name X-Auth-Org X-Auth-Role X-Auth-Token
	}}
	reverse_proxy 127.0.0.1:8080
}}
""",
    }
