"""The Python examples of docs/vault.md run as written."""

import re
import tempfile
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "vault.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"example-{i}" for i in range(len(EXAMPLES))])
def test_docs_example_runs(
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
            expected = line.split("# ", 1)[1].strip()
            if "..." not in expected:
                assert expected in printed


def _settings_table() -> list[tuple[str, str]]:
    section = DOC.read_text().split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Z_]+)` +\| (`[a-z_]+`|-) +\|", section, flags=re.MULTILINE)
    return [(env, key.strip("`")) for env, key in rows]


def test_the_settings_table_lists_exactly_the_declared_settings() -> None:
    from devon_app.settings import CONFIG_PATH_VAR, Settings, specs

    declared = [(spec.env, spec.key) for _, spec in specs(Settings)]
    assert _settings_table() == [*declared, (CONFIG_PATH_VAR, "-")]
