"""Every package the code imports is declared in pyproject.toml, so a clean install has it."""

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# devon_testhub is a distribution of its own, in testhub/ (`make setup` installs it).
OWN = {
    "devon_core",
    "devon_adapters",
    "devon_app",
    "devon_http",
    "devon_cli",
    "devon_testhub",
    "devon_web",
}
OWN_TEST = {"tests", "bench"}


def imported_top_level_modules(folder: Path) -> dict[str, set[str]]:
    """Top-level module name -> the files importing it (absolute imports only)."""
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: Iterable[str] = ()
            if isinstance(node, ast.Import):
                names = (alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = (node.module,)
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(folder)))
    return found


def distribution_names(requirements: Iterable[str]) -> set[str]:
    return {_canonical(re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0]) for req in requirements}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def undeclared(folders: Iterable[Path], declared: set[str], also_own: set[str]) -> list[str]:
    providers = importlib.metadata.packages_distributions()
    missing = []
    for folder in folders:
        for module, files in sorted(imported_top_level_modules(folder).items()):
            if module in sys.stdlib_module_names or module in OWN | also_own:
                continue
            dists = {_canonical(d) for d in providers.get(module, [module])}
            if not dists & declared:
                missing.append(f"{module} (imported by {sorted(files)[0]})")
    return missing


def project() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]  # type: ignore[no-any-return]


def test_every_package_the_source_imports_is_a_declared_dependency() -> None:
    declared = distribution_names(project()["dependencies"])  # type: ignore[arg-type]
    assert undeclared([ROOT / "src"], declared, set()) == []


def test_the_test_hub_imports_only_the_standard_library_and_itself() -> None:
    testhub = tomllib.loads((ROOT / "testhub" / "pyproject.toml").read_text(encoding="utf-8"))
    declared = distribution_names(testhub["project"]["dependencies"])
    modules = imported_top_level_modules(ROOT / "testhub" / "src")
    assert undeclared([ROOT / "testhub" / "src"], declared, {"devon_testhub"}) == []
    assert not {m for m in modules if m.startswith("devon") and m != "devon_testhub"}


def test_every_package_the_tests_and_benchmarks_import_is_declared() -> None:
    meta = project()
    extras = meta["optional-dependencies"]
    declared = distribution_names([*meta["dependencies"], *extras["test"]])  # type: ignore[index, misc]
    assert undeclared([ROOT / "tests", ROOT / "bench"], declared, OWN_TEST) == []


def test_an_import_of_an_undeclared_package_is_reported(tmp_path: Path) -> None:
    (tmp_path / "module.py").write_text(
        "import json\nimport attrs\nfrom msgspec import json as fast\n", encoding="utf-8"
    )
    assert undeclared([tmp_path], {"attrs"}, set()) == ["msgspec (imported by module.py)"]
