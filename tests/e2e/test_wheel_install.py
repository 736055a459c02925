"""Installable the way Python tools are (issue 16, item 5): a wheel built
from this tree, installed (not editable) into a fresh virtualenv, starts
headless and as the TUI in tmux, from a directory outside the tree, with
the themes it ships. A non-editable install once crashed at start
(``Theme 'tui-phone' has not been registered``): the themes lived outside
the package."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_tmux import ROOT, Tmux
from tests.peers import require
from tui_phone import __version__


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh venv with the wheel of this tree (and its dependencies) installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"  # a copy: building in place would leave build/ and *.egg-info in the tree
    src.mkdir()
    shutil.copytree(ROOT / "tui_phone", src / "tui_phone", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "dist"),
                            str(src)], env=env, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    assert "deprecat" not in built.stderr.lower(), built.stderr  # the SPDX license string, no warnings
    wheel = next((tmp / "dist").glob("tui_phone-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env, timeout=120)
    installed = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], env=env,
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr
    return venv


def clean_env(tmp_path: Path) -> dict:
    run = tmp_path / "run"
    run.mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(XDG_RUNTIME_DIR=str(run), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_STATE_HOME=str(tmp_path / "state"))
    return env


def config(tmp_path: Path) -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[[accounts]]\nname = "alice"\nuri = "sip:alice@127.0.0.1"\nbind = "127.0.0.1"\n'
                   '[audio]\nnull = true\n')
    return cfg


def test_the_installed_package_is_the_wheel_with_its_themes(venv, tmp_path):
    env = clean_env(tmp_path)
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import tui_phone.ui.themes as t; print(t.__file__); "
                            "print(sorted(p.name for p in t.BUILTIN.glob('*.toml')))"],
                           env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    path, themes = where.stdout.splitlines()
    assert path.startswith(str(venv)), path  # not this tree
    assert themes == "['tui-phone-contrast.toml', 'tui-phone-light.toml', 'tui-phone.toml']"
    version = subprocess.run([str(venv / "bin" / "tui-phone"), "--version"], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.strip() == f"tui-phone {__version__}"


def test_installed_tui_phone_runs_headless(venv, tmp_path):
    env, cfg = clean_env(tmp_path), config(tmp_path)
    exe = str(venv / "bin" / "tui-phone")
    log = open(tmp_path / "stderr.log", "w+")
    proc = subprocess.Popen([exe, "--config", str(cfg), "--headless"], env=env, cwd=tmp_path,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while "ready for direct calls" not in (tmp_path / "stderr.log").read_text():
            assert proc.poll() is None, (tmp_path / "stderr.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "stderr.log").read_text()
            time.sleep(0.1)
        status = subprocess.run([exe, "--config", str(cfg), "status"], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=30)
        assert status.returncode == 0, status.stderr
        assert "account alice <sip:alice@127.0.0.1>: direct (no registrar)" in status.stdout
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
        assert "Traceback" not in (tmp_path / "stderr.log").read_text()


def test_installed_tui_phone_runs_the_tui_in_tmux(venv, tmp_path):
    require("tmux")
    env, cfg = clean_env(tmp_path), config(tmp_path)
    xdg = {k: env[k] for k in ("XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME")}
    t = Tmux(tmp_path, ["env", "-u", "PYTHONPATH", f"--chdir={tmp_path}", str(venv / "bin" / "tui-phone"),
                        "--config", str(cfg)], {**xdg, "TERM": "xterm-256color"})
    try:
        screen = t.wait_for("ready for direct calls", timeout=30)
        assert "Traceback" not in screen and "Dialpad" in screen
        t.keys("C-q")
        t.wait_gone("Dialpad")
    finally:
        t.close()
