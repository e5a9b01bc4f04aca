"""A real Apache httpd (Debian's apache2) with mod_auth_openidc (Debian's libapache2-mod-auth-openidc)
protecting a page: an OpenID Connect relying party no one here wrote.

The page is a CGI script that prints the OIDC_CLAIM_* variables the module hands it, so a test sees
which claims reached the app. Prefork in the foreground, several children: a browser's kept-alive
connection must not keep the gateway's back-channel logout waiting. Apache refuses to serve as root, so it runs as
www-data, and what it serves lies in a folder of its own that www-data may read (the test's
folder is root's alone); its configuration and logs stay in the test's folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from tests.helpers.processes import terminate

APACHE = "/usr/sbin/apache2"
MODULES = Path("/usr/lib/apache2/modules")
PAGE = "/protected/"
REDIRECT_PATH = "/protected/redirect_uri"  # the module's own endpoint (callbacks, logout)


def available() -> bool:
    return Path(APACHE).exists() and (MODULES / "mod_auth_openidc.so").exists()


class Apache:
    def __init__(self, workdir: Path, *, port: int, host: str, discovery: str, client_id: str, client_secret: str):
        self.workdir, self.port = Path(workdir), port
        self.base = f"http://{host}:{port}"
        self.redirect_uri = self.base + REDIRECT_PATH
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.served = Path(tempfile.mkdtemp(prefix="idgate-apache-"))
        self.served.chmod(0o777)  # www-data's: the pages, and the module's runtime files
        cgi = self.served / "claims.cgi"
        cgi.write_text("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n"
                       "env | grep '^OIDC_CLAIM_' | sed 's/^OIDC_CLAIM_//' | sort\n")
        cgi.chmod(0o755)
        (self.served / "bye.txt").write_text("signed out\n")
        (self.served / "bye.txt").chmod(0o644)
        self.conf = self.workdir / "httpd.conf"
        self.conf.write_text(f"""
ServerRoot {self.workdir}
ServerName {host}
Listen 127.0.0.1:{port}
PidFile {self.workdir}/httpd.pid
ErrorLog {self.workdir}/error.log
LogLevel warn auth_openidc:info
DefaultRuntimeDir {self.served}
User www-data
Group www-data
StartServers 2
MinSpareServers 2
MaxSpareServers 4
KeepAlive Off
LoadModule mpm_prefork_module {MODULES}/mod_mpm_prefork.so
LoadModule authz_core_module {MODULES}/mod_authz_core.so
LoadModule authn_core_module {MODULES}/mod_authn_core.so
LoadModule authz_user_module {MODULES}/mod_authz_user.so
LoadModule alias_module {MODULES}/mod_alias.so
LoadModule mime_module {MODULES}/mod_mime.so
TypesConfig /etc/mime.types
LoadModule cgi_module {MODULES}/mod_cgi.so
LoadModule auth_openidc_module {MODULES}/mod_auth_openidc.so
DocumentRoot {self.served}
ScriptAlias {PAGE}claims {cgi}
Alias /bye {self.served}/bye.txt

OIDCProviderMetadataURL {discovery}
OIDCClientID {client_id}
OIDCClientSecret {client_secret}
OIDCRedirectURI {self.redirect_uri}
OIDCCryptoPassphrase {os.urandom(16).hex()}
OIDCScope "openid email profile groups"
OIDCPKCEMethod S256
OIDCPassClaimsAs environment
OIDCSessionType server-cache
OIDCCacheType shm

<Location /protected/>
    AuthType openid-connect
    Require valid-user
</Location>
<Directory {self.served}>
    Require all granted
</Directory>
""")
        self.process: subprocess.Popen | None = None

    def start(self) -> Apache:
        env = {**os.environ, "APACHE_RUN_DIR": str(self.served), "APACHE_LOCK_DIR": str(self.served)}
        check = subprocess.run([APACHE, "-t", "-f", str(self.conf)], capture_output=True, text=True, env=env,
                               check=False)
        assert check.returncode == 0, check.stderr
        # A session of its own: on SIGTERM, Apache signals its whole process group.
        self.process = subprocess.Popen([APACHE, "-DFOREGROUND", "-f", str(self.conf)], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{self.port}/bye", timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise TimeoutError(f"apache did not start: {self.log()}")

    def log(self) -> str:
        path = self.workdir / "error.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        terminate(self.process)
        shutil.rmtree(self.served, ignore_errors=True)
