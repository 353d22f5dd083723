"""The example GitHub workflow installs airlock itself, not the unrelated `airlock` on PyPI: its install
step is run as written (with AIRLOCK_SOURCE pointing at this checkout) and must give a working airlock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "examples" / "github-actions" / "airlock-lock.yml"


def _install_step() -> dict:
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["review"]["steps"]
    return next(s for s in steps if s.get("name") == "Install airlock")


def test_workflow_never_installs_the_pypi_airlock() -> None:
    text = WORKFLOW.read_text()
    assert "pip install airlock\n" not in text and "pip install airlock " not in text
    assert "airlock-kubespray @" in _install_step()["run"]


def test_workflow_install_step_gives_airlock(tmp_path: Path) -> None:
    step = _install_step()
    venv = tmp_path / "venv"
    # The venv sees this machine's packages (so only the build backend comes from PyPI) and puts
    # `python` first on PATH, as setup-python does.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    env = {**os.environ, **step.get("env", {}), "AIRLOCK_SOURCE": REPO.as_uri(),
           "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    res = subprocess.run(["bash", "-e", "-c", step["run"]], check=False, env=env, capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    out = subprocess.run([str(venv / "bin" / "airlock"), "--version"], check=False, capture_output=True, text=True,
                         env=env)
    assert out.returncode == 0 and out.stdout.startswith("airlock, version"), out.stderr
    show = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "show", "airlock-kubespray"],
                          check=False, capture_output=True, text=True, env=env)
    assert "Name: airlock-kubespray" in show.stdout
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import airlock; print(airlock.__file__)"],
                           check=False, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert str(venv) in where.stdout  # the installed copy, not the checkout
