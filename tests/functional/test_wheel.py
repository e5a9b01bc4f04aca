"""The built wheel is a whole gateway: installed outside the checkout, it starts and renders its pages.

Only an editable install used to find the templates (they live in the top-level `templates/`); a
wheel, `pip install .` or `pipx install` gave a gateway that could not render a page. The wheel is
built from this checkout and installed without dependencies into a fresh venv that sees this
environment's packages through a path file (no editable finder, no checkout on sys.path), then
`idgate init` and `idgate serve` run in an empty folder.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import requests

from tests.helpers.processes import ROOT, clean_env, free_port, stop, wait_until_ready

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin/ folder of a fresh venv holding the wheel."""
    work = tmp_path_factory.mktemp("wheel")
    # From a copy: setuptools builds in the source folder (build/, *.egg-info), and the checkout stays clean.
    source = work / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "node_modules", "__pycache__", "instance", "certs"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(source)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = (work / "dist").glob("idgate-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-deps", str(wheel)], check=True, capture_output=True, timeout=300)
    # The dependencies from this environment; its own site folder's path files (the editable
    # install of this checkout among them) are not read from a folder named in a path file.
    version = sysconfig.get_python_version()
    ours = venv / "lib" / f"python{version}" / "site-packages"
    (ours / "_test_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv / "bin"


def test_the_wheel_carries_every_template_and_static_file(installed):
    found = subprocess.run([str(installed / "python"), "-c", "import gateway, sys; print(gateway.__file__)"],
                           capture_output=True, text=True, check=True, cwd=installed.parent).stdout.strip()
    package = Path(found).parent
    assert str(ROOT) not in found, "the checkout was imported, not the wheel"
    shipped = {p.relative_to(package / "templates") for p in (package / "templates").rglob("*") if p.is_file()}
    in_checkout = {p.relative_to(ROOT / "templates") for p in (ROOT / "templates").rglob("*") if p.is_file()}
    assert shipped == in_checkout


def test_init_and_serve_in_an_empty_folder_render_the_pages(installed, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    port = free_port()
    env = clean_env(IDGATE_BASE_URL=f"http://127.0.0.1:{port}", IDGATE_SIGNUP="open",
                    PATH=f"{installed}{os.pathsep}{os.environ['PATH']}")
    subprocess.run([str(installed / "idgate"), "init"], env=env, cwd=folder, check=True, capture_output=True,
                   timeout=120)
    log_path = folder / "serve.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([str(installed / "idgate"), "serve", "--port", str(port), "--workers", "1"],
                                   env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    process.log_path = log_path
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/readyz", process)
        for path in ("/login", "/signup"):
            page = requests.get(f"http://127.0.0.1:{port}{path}", timeout=10)
            assert page.status_code == 200, (path, page.text[:300])
            assert "<form" in page.text
        css = requests.get(f"http://127.0.0.1:{port}/static/idgate.css", timeout=10)
        assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    finally:
        stop(process)
