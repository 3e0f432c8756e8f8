"""docs/architecture.md stays true: its Python examples run as written, every module,
function and class it names exists (`devon_core.use_cases.download_outcome`,
`DiskModelStore.commit`), and every path and link it gives leads somewhere."""

import importlib
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
TEXT = DOC.read_text()
EXAMPLES = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)
CODE = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", TEXT, flags=re.DOTALL))


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"example-{i}" for i in range(len(EXAMPLES))])
def test_the_examples_run_and_print_what_they_say(
    example: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    exec(compile(example, str(DOC), "exec"), {})  # noqa: S102 - our own documentation
    printed = capsys.readouterr().out
    for line in example.splitlines():
        if "# " in line and line.lstrip().startswith("print("):
            assert line.split("# ", 1)[1].strip() in printed


def _resolve(dotted: str, classes: dict[str, type]) -> None:
    """Find what a dotted name from the page names: the longest importable module prefix,
    then attributes; the classes met on the way go into `classes`."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            found = getattr(found, name)
            if isinstance(found, type):
                classes[found.__name__] = found
        return
    raise ModuleNotFoundError(dotted)


def test_every_name_it_gives_exists() -> None:
    qualified = sorted({c for c in CODE if re.fullmatch(r"devon_\w+(\.\w+)*", c)})
    assert len(qualified) > 30
    missing: list[str] = []
    classes: dict[str, type] = {}
    for name in qualified:
        try:
            _resolve(name, classes)
        except (ImportError, AttributeError):
            missing.append(name)
    ports = importlib.import_module("devon_core.ports")
    classes.update({n: v for n, v in vars(ports).items() if isinstance(v, type)})
    for text in sorted({c for c in CODE if re.fullmatch(r"[A-Z]\w+\.\w+", c)}):
        owner, member = text.split(".")
        if owner not in classes or not hasattr(classes[owner], member):
            missing.append(text)
    assert not missing, f"named in {DOC.name} but not in the code: {missing}"


def test_every_path_and_link_it_gives_exists() -> None:
    paths = [c for c in CODE if re.fullmatch(r"(src|tests|testhub|scripts|docs|ADR)/[\w./-]*", c)]
    links = [t for t in re.findall(r"\]\(([^)\s]+)\)", TEXT) if not re.match(r"[a-z]+:", t)]
    assert paths
    assert links
    gone = [p for p in paths if not (ROOT / p).exists()]
    gone += [t for t in links if not (DOC.parent / t.split("#")[0]).exists()]
    assert not gone, f"{DOC.name} points at what is not there: {gone}"
