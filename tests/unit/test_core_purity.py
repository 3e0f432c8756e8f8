"""The core imports only the standard library, attrs and cattrs (ADR 0001, ADR 0288).

import-linter's contract in pyproject.toml forbids the libraries it names; the first test
here allows only what it names, so a new dependency cannot slip into the core unlisted."""

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "src" / "devon_core"
ALLOWED = {"attrs", "cattrs", "devon_core"}
NOT_IN_THE_CORE = {"sqlite3"}  # standard library, but the index's business
FORBIDDEN = ["huggingface_hub", "litestar", "sqlite3", "httpx", "platformdirs", "click", "rich"]


def test_the_core_imports_only_the_standard_library_attrs_and_cattrs() -> None:
    found: set[str] = set()
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    allowed = (set(sys.stdlib_module_names) - NOT_IN_THE_CORE) | ALLOWED
    assert sorted(found - allowed) == []


def test_importing_the_core_pulls_in_no_adapter_library() -> None:
    probe = (
        "import sys, devon_core; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({FORBIDDEN!r})))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
