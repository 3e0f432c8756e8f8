"""The Python examples of docs/library.md run as written, in order, against the test hub."""

import re
from pathlib import Path

import pytest

from devon_testhub import TestHub

DOC = Path(__file__).resolve().parents[2] / "docs" / "library.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_library_guide_examples_run_in_order(
    test_hub: TestHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", test_hub.url)
    monkeypatch.setenv("DEVON_STORAGE_PATH", str(tmp_path / "vault"))
    monkeypatch.setenv("DEVON_CONFIG_PATH", "")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert len(EXAMPLES) >= 5
    for example in EXAMPLES:
        exec(compile(example, str(DOC), "exec"), {})  # noqa: S102 - our own documentation
    printed = capsys.readouterr().out
    assert "acme/Widget-8B-GGUF" in printed
    assert "widget-8b.Q4_K_M.gguf" in printed
    assert "error: " in printed
    assert str(tmp_path / "vault" / "huggingface" / "acme" / "Widget-8B-GGUF") in printed
