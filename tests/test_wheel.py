"""The runtime wheel is the tree: every module of the design-card folders, at the path it has in
the checkout's tail (proxy/session_studio/proxy/_app.py is session_studio/proxy/_app.py), and
no development tooling.

The wheel is built from this checkout and imported apart from the editable install: the
interpreter runs without `site` (so the editable finder's .pth is never read) with the wheel's
files first on the path and the venv's third-party packages after them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

# Builds the wheel with pip and imports it in a fresh interpreter: processes.
pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_ROOTS = ["session_studio", "policy", "proxy", "keystore", "store", "admin_ui", "sdk"]


def _tree_modules() -> set[str]:
    """Every module the checkout would install, named as it is imported."""
    modules = set()
    for root in RUNTIME_ROOTS:
        base = ROOT if root == "session_studio" else ROOT / root
        for path in (base / "session_studio").rglob("*.py"):
            parts = path.relative_to(base).with_suffix("").parts
            modules.add(".".join(parts).removesuffix(".__init__"))
    return modules


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy of what the distribution is made of, so the build writes nothing into
    # the checkout (setuptools puts build/ and *.egg-info/ beside pyproject.toml).
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for folder in RUNTIME_ROOTS:
        shutil.copytree(ROOT / folder, source / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out),
         str(source)], capture_output=True, text=True, timeout=240, check=False)
    assert built.returncode == 0, built.stderr
    (path,) = out.glob("session_studio-*.whl")
    return path


@pytest.fixture(scope="module")
def unpacked(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def _wheel_modules(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.endswith(".py")]
    return {n[:-3].replace("/", ".").removesuffix(".__init__") for n in names}


def _run_apart(unpacked: Path, code: str) -> subprocess.CompletedProcess[str]:
    site_packages = sysconfig.get_paths()["purelib"]
    prelude = f"import sys; sys.path[:0] = [{str(unpacked)!r}, {site_packages!r}]\n"
    return subprocess.run([sys.executable, "-S", "-c", prelude + code], capture_output=True,
                          text=True, timeout=120, check=False, cwd=unpacked)


def test_the_wheel_holds_every_runtime_module_of_the_tree(wheel: Path) -> None:
    tree = _tree_modules()
    assert "session_studio.proxy._pipeline" in tree
    assert _wheel_modules(wheel) == tree


def test_the_wheel_carries_no_development_tooling(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert [n for n in names if n.startswith(("session_studio/dev/", "session_studio_dev"))] == []
    assert [n for n in names if "_contracts" in n or n.endswith(".sol")] == []


def test_the_wheel_ships_migrations_templates_and_static_assets(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    migrations = {p.name for p in (ROOT / "store/session_studio/store/migrations").glob("*.sql")}
    assert {n.rsplit("/", 1)[1] for n in names
            if n.startswith("session_studio/store/migrations/")} == migrations
    assert "session_studio/admin_ui/templates/base.html" in names
    assert "session_studio/admin_ui/static/studio.js" in names


def test_the_wheel_ships_the_postgresql_migrations(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    folder = ROOT / "store/session_studio/store/migrations_pg"
    assert {n.rsplit("/", 1)[1] for n in names
            if n.startswith("session_studio/store/migrations_pg/")} == {
        p.name for p in folder.glob("*.sql")} != set()


def test_every_module_of_the_wheel_imports_apart_from_the_checkout(
    wheel: Path, unpacked: Path,
) -> None:
    modules = sorted(_wheel_modules(wheel))
    code = ("import importlib\n"
            f"for name in {modules!r}:\n"
            "    module = importlib.import_module(name)\n"
            f"    assert module.__file__.startswith({str(unpacked)!r}), (name, module.__file__)\n"
            "print(len(" f"{modules!r}" "))\n")
    result = _run_apart(unpacked, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(len(modules))


def test_dev_without_the_tooling_says_how_to_get_it(unpacked: Path) -> None:
    result = _run_apart(unpacked, "from session_studio.cli import main\n"
                                  "raise SystemExit(main(['dev', '--no-serve']))\n")
    assert result.returncode == 2, result.stderr
    assert "make dev" in result.stderr
    assert "Traceback" not in result.stderr
