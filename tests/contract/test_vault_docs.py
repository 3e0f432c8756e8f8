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
