"""tests/unit runs with only the core's dependencies (attrs, cattrs) and the test tools
(pytest, hypothesis): no adapter, no devon_http or devon_cli, no huggingface_hub, psycopg or
litestar reachable from it, its conftest files included (tests/README.md).

Offline: instead of a fresh install, a Python without site-packages (`-S`) is given a folder
holding only those distributions, linked from this environment, and `devon_core` alone."""

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = ["attrs", "cattrs", "pytest", "hypothesis"]
NO_CACHE = ["-p", "no:cacheprovider"]


def with_requirements(names: list[str]) -> set[str]:
    """`names` and every distribution they need, unconditionally: a requirement with a marker
    (an extra, Windows, Python before 3.11) is left out."""
    found: set[str] = set()
    waiting = list(names)
    while waiting:
        dist = importlib.metadata.distribution(waiting.pop())
        name = dist.metadata["Name"].lower()
        if name in found:
            continue
        found.add(name)
        for text in dist.requires or []:
            if ";" not in text:
                waiting.append(re.split(r"[\s<>=!~\[(]", text, maxsplit=1)[0])
    return found


def link_distributions(names: set[str], folder: Path) -> None:
    for name in names:
        dist = importlib.metadata.distribution(name)
        for file in dist.files or []:
            top = file.parts[0]
            source = Path(str(dist.locate_file(top)))
            if top == ".." or top == "__pycache__" or not source.exists():
                continue
            target = folder / top
            if not target.exists():
                target.symlink_to(source)


def test_the_unit_tests_are_collected_with_only_the_cores_dependencies(tmp_path: Path) -> None:
    link_distributions(with_requirements(ALLOWED), tmp_path)
    (tmp_path / "devon_core").symlink_to(ROOT / "src" / "devon_core")
    collected = subprocess.run(
        [sys.executable, "-S", "-m", "pytest", "tests/unit", "--collect-only", "-q", *NO_CACHE],
        cwd=ROOT,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    assert " collected" in collected.stdout
