"""Starting real processes for tests: free ports, waiting for readiness, clean shutdown."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} answered")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def idgate(*args: str, env: dict, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run the installed `idgate` command line."""
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, check=check, timeout=120)


def start_idgate_serve(*, env: dict, cwd: Path, port: int, workers: int | None = 1) -> subprocess.Popen:
    """Start `idgate serve` (`workers=None`: its defaults); its output goes to a file (a pipe could
    fill up and stall it)."""
    log_path = Path(cwd) / f"serve-{port}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port),
             *(["--workers", str(workers)] if workers else [])],
            env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    process.log_path = log_path
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/readyz", process)
    except Exception:
        print(stop(process))
        raise
    return process


def stop(process: subprocess.Popen) -> str:
    """Stop gracefully (SIGTERM, as an orchestrator would) and return what it printed."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return Path(process.log_path).read_text()


def terminate(process: subprocess.Popen | None, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL after `timeout`: for the proxies and servers a test starts."""
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def init_with_acme(*, env: dict, cwd: Path) -> str:
    """`idgate init`, then organization `acme` with its admin ops@acme.example; the admin's
    temporary password."""
    idgate("init", env=env, cwd=cwd)
    created = idgate("org", "create", "acme", "--name", "Acme", "--admin-email", "ops@acme.example",
                     "--admin-name", "Olga Ops", env=env, cwd=cwd).stdout
    return re.search(r"\(shown once\): (\S+)", created).group(1)


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGATE_")}
    env.update(extra)
    return env
