"""Several real `idgate serve` instances on one store, an admin and a member signed in, and one
keep-alive connection to each worker: for the propagation tests and benchmark."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.helpers.processes import clean_env, free_port, init_with_acme, start_idgate_serve, stop

ADMIN_PASSWORD = "walnut harbor lantern 2046 quietly"
MEMBER_PASSWORD = "copper meadow violin 7731 gently"


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def full_session(base: str, email: str, temporary: str, new_password: str) -> str:
    """Sign in with a temporary password and change it, as a person would; the session token."""
    browser = requests.Session()
    browser.post(f"{base}/login", data={"csrf_token": _csrf(browser.get(f"{base}/login").text),
                                        "email": email, "password": temporary})
    form = browser.get(f"{base}/password/change")
    browser.post(f"{base}/password/change", data={"csrf_token": _csrf(form.text), "new_password": new_password})
    return browser.cookies["idgate_session"]


class RedisServer:
    """A Redis of one test's own, so that killing it disturbs nobody else."""

    def __init__(self, workdir: Path):
        self.port, self.workdir, self.process = free_port(), workdir, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).stdout != b"PONG\n":
            assert time.monotonic() < deadline, "redis did not start"
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


@dataclass
class Cluster:
    bases: list[str]
    workers: int
    api: requests.Session  # the admin's, bearer token set
    member: str  # the member's session token
    member_id: int
    extra: dict = field(default_factory=dict)

    def set_role(self, role: str, via: int = 0) -> None:
        answer = self.api.patch(f"{self.bases[via]}/api/v1/orgs/acme/users/{self.member_id}", json={"role": role})
        assert answer.status_code == 200, answer.text

    def deactivate(self, via: int = 0) -> None:
        answer = self.api.post(f"{self.bases[via]}/api/v1/orgs/acme/users/{self.member_id}/deactivate")
        assert answer.status_code == 200, answer.text

    def every_worker(self) -> list[requests.Session]:
        """One keep-alive connection to each worker of each instance (told apart by /healthz)."""
        connections = []
        for base in self.bases:
            seen: dict[int, requests.Session] = {}
            for _ in range(400):
                connection = requests.Session()
                connection.base = base
                worker = connection.get(f"{base}/healthz").json()["worker"]
                if worker in seen:
                    connection.close()
                else:
                    seen[worker] = connection
                if len(seen) == self.workers:
                    break
            assert len(seen) == self.workers, f"reached {len(seen)} of {self.workers} workers of {base}"
            connections += seen.values()
        self.extra.setdefault("connections", []).extend(connections)  # closed with the cluster
        return connections


def verify(connection: requests.Session, token: str) -> requests.Response:
    return connection.get(f"{connection.base}/auth/verify", headers={"Authorization": f"Bearer {token}"})


@contextmanager
def running_cluster(workdir: Path, database_url: str, *, redis_url: str | None = None, instances: int = 2,
                    workers: int = 2, **settings: str):
    """`instances` × `workers` on `database_url` (and Redis if given), organization `acme` with an
    admin and a member (role user) signed in."""
    ports = [free_port() for _ in range(instances)]
    env = clean_env(
        IDGATE_DATABASE_URL=database_url, IDGATE_INSTANCE_PATH=str(workdir / "instance"),
        IDGATE_CERTS_DIR=str(workdir / "certs"), IDGATE_BASE_URL=f"http://127.0.0.1:{ports[0]}",
        IDGATE_ALLOWED_REDIRECT_HOSTS=",".join(f"127.0.0.1:{p}" for p in ports),
        IDGATE_SECRET_KEY="shared-between-instances",
        IDGATE_ARGON2_TIME_COST="1", IDGATE_ARGON2_MEMORY_COST="1024", IDGATE_ARGON2_PARALLELISM="1",
        **({"IDGATE_REDIS_URL": redis_url} if redis_url else {}), **settings,
    )
    temporary = init_with_acme(env=env, cwd=workdir)
    servers = []
    try:
        for port in ports:
            servers.append(start_idgate_serve(env=env, cwd=workdir, port=port, workers=workers))
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        admin = full_session(bases[0], "ops@acme.example", temporary, ADMIN_PASSWORD)
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {admin}"
        created = api.post(f"{bases[0]}/api/v1/orgs/acme/users",
                           json={"email": "mo@acme.example", "name": "Mo Member", "role": "user"})
        assert created.status_code == 201, created.text
        created = created.json()
        member = full_session(bases[-1], "mo@acme.example", created["temporary_password"], MEMBER_PASSWORD)
        cluster = Cluster(bases, workers, api, member, created["user"]["id"])
        yield cluster
        for connection in [api, *cluster.extra.get("connections", ())]:
            connection.close()
    finally:
        for server in servers:
            stop(server)
