"""The installable layout: every core subpackage is listed, import names are project-unique."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_core_subpackage_is_listed_for_wheel_builds() -> None:
    """Listed as a package, or inside a package whose package data takes every ``*.py`` below
    it (``etm_bridge.chains``: one folder per chain, added without a packaging edit)."""
    setuptools = _pyproject()["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    whole = {pkg for pkg, globs in setuptools.get("package-data", {}).items() if "**/*.py" in globs}
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "etm_bridge").rglob("__init__.py")
    }
    missing = {p for p in on_disk - listed if not any(p.startswith(w + ".") for w in whole)}
    assert not missing, f"add to [tool.setuptools].packages: {sorted(missing)}"
    assert whole <= listed


def test_no_generic_top_level_import_names_are_installed() -> None:
    setuptools = _pyproject()["tool"]["setuptools"]
    names = set(setuptools["packages"]) | set(setuptools["package-dir"])
    top_level = {n.split(".")[0] for n in names}
    assert top_level <= {"etm_bridge", "etm_bridge_cli", "etm_bridge_regtest"}


def test_test_module_basenames_are_unique() -> None:
    """pytest's default import mode needs unique basenames; a clash stops the whole collection."""
    seen: dict[str, Path] = {}
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        assert path.name not in seen, f"{path} and {seen[path.name]} share a basename"
        seen[path.name] = path
