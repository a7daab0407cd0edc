"""Packaging: pins agree between pyproject.toml and environment.yml, entry point, docstrings."""

import importlib
import importlib.metadata
import re
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:
    tomllib = pytest.importorskip("tomli", reason="reading pyproject.toml needs tomli on 3.10")

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "s2s_keras"

# The stack's pins; tensorflow-text 2.21.0 fails to import.
DESIGN_PINS = {
    "tensorflow": ">=2.21,<2.22",
    "tensorflow-text": ">=2.21.1,<2.22",
    "keras": ">=3.15",
}


def split(requirement: str) -> tuple[str, str]:
    """`"Tensorflow_Text >= 2.21.1, <2.22"` → `("tensorflow-text", ">=2.21.1,<2.22")`."""
    name, spec = re.fullmatch(r"([A-Za-z0-9._-]+)(.*)", requirement.strip()).groups()
    return re.sub(r"[-_.]+", "-", name).lower(), re.sub(r"\s+", "", spec)


def normalized(requirement: str) -> str:
    return "".join(split(requirement))


@pytest.fixture(scope="module")
def project():
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


@pytest.fixture(scope="module")
def conda_environment() -> tuple[list[str], list[str]]:
    """`(conda dependencies, pip requirements)` of environment.yml, read line by line.

    The file is a flat list under `dependencies:` with one nested `- pip:` list; reading
    it by hand keeps PyYAML out of the test dependencies.
    """
    conda, pip = [], []
    section = None
    for line in (ROOT / "environment.yml").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        item = line.strip().removeprefix("- ").strip()
        if indent == 0:
            section = "conda" if line.startswith("dependencies:") else None
        elif item == "pip:":
            section, pip_indent = "pip", indent
        elif section == "pip" and indent > pip_indent:
            pip.append(item)
        elif section in ("conda", "pip"):
            section = "conda"
            conda.append(item)
    return conda, pip


def test_environment_yml_pins_what_pyproject_pins(project, conda_environment):
    _, pip = conda_environment
    extras = project["optional-dependencies"]
    expected = [
        r
        for r in project["dependencies"] + extras["notebooks"] + extras["dev"]
        if not r.startswith("s2s-keras[")  # dev's own reference to the notebooks extra
    ]
    assert sorted(normalized(r) for r in pip if r != "-e .") == sorted(map(normalized, expected))


def test_the_dev_extra_includes_the_notebooks_extra(project):
    assert "s2s-keras[notebooks]" in project["optional-dependencies"]["dev"]


def test_environment_yml_installs_the_package_itself(conda_environment):
    _, pip = conda_environment
    assert pip.count("-e .") == 1


def test_environment_yml_python_matches_requires_python(project, conda_environment):
    conda, _ = conda_environment
    [python] = [split(d)[1] for d in conda if split(d)[0] == "python"]
    requires_python = re.sub(r"\s+", "", project["requires-python"])
    assert python == requires_python == ">=3.10,<3.14"


def test_design_pins_hold(project):
    pins = dict(split(r) for r in project["dependencies"])
    assert {name: pins.get(name) for name in DESIGN_PINS} == DESIGN_PINS


def test_console_script_runs_cli_main(project):
    assert project["scripts"] == {"s2s-keras": "s2s_keras.cli:main"}
    installed = entry_points(group="console_scripts").select(name="s2s-keras")
    assert [ep.value for ep in installed] == ["s2s_keras.cli:main"], "reinstall: pip install -e ."


MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for path in PACKAGE.rglob("*.py")
)


def test_module_list_is_complete():
    assert {"s2s_keras", "s2s_keras.text", "s2s_keras.pipeline", "s2s_keras.layers"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_every_module_has_a_docstring(name):
    module = importlib.import_module(name)
    assert (module.__doc__ or "").strip(), f"{name} has no module docstring"


def test_the_installed_version_is_the_package_version():
    import s2s_keras

    assert importlib.metadata.version("s2s-keras") == s2s_keras.__version__, (
        "reinstall: pip install -e ."
    )


def test_the_wheel_ships_the_apache_licence(tmp_path):
    """The licence pyproject.toml names, as a file inside the built wheel."""
    import shutil
    import subprocess
    import zipfile

    # `make` installs a setuptools recent enough for pyproject's build requirement.
    pytest.importorskip("setuptools", reason="building the wheel offline needs setuptools")
    source = tmp_path / "source"  # a copy, so that the build leaves nothing in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(PACKAGE, source / "s2s_keras", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + ["-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("s2s_keras-*.whl")
    import s2s_keras

    assert wheel.name.startswith(f"s2s_keras-{s2s_keras.__version__}-")
    with zipfile.ZipFile(wheel) as z:
        [licence] = [n for n in z.namelist() if ".dist-info/" in n and n.endswith("/LICENSE")]
        text = z.read(licence).decode()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert text == (ROOT / "LICENSE").read_text()
