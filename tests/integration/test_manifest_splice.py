"""Splicing changed models into `manifest.json` gives the file a whole rendering would."""

import os
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devon_adapters.index.records import Changed, StoredRow
from devon_adapters.vault.manifest import (
    FileSpan,
    ManifestLines,
    splice,
    spliced_parts,
    write_atomically,
)

LINES = ManifestLines("/vault")
SOURCES = st.sampled_from(["hf", "hf-mirror", "huggingface", "local"])
IDS = st.one_of(
    st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=6),
    st.builds(
        lambda a, b: f"{a}/{b}",
        st.text(string.ascii_lowercase, min_size=1, max_size=3),
        st.text(string.ascii_lowercase + "-", min_size=1, max_size=3),
    ),
)
KEYS = st.tuples(SOURCES, IDS)


def row(key: tuple[str, str], size: int) -> StoredRow:
    source, model_id = key
    return (
        source,
        model_id,
        size,
        "2025-02-12T14:30:00.123456+00:00",
        None,
        '["model.gguf"]',
        '{"format": ["gguf"]}',
    )


def render(rows: dict[tuple[str, str], int]) -> bytes:
    return LINES.render([row(key, rows[key]) for key in sorted(rows)])


@given(
    st.dictionaries(KEYS, st.integers(0, 9), max_size=30),
    st.dictionaries(KEYS, st.none() | st.integers(0, 9), max_size=12),
)
def test_a_spliced_manifest_is_byte_for_byte_the_rendered_one(
    before: dict[tuple[str, str], int], changes: dict[tuple[str, str], int | None]
) -> None:
    after = {k: v for k, v in {**before, **changes}.items() if v is not None}
    changed: list[Changed] = [
        (source, model_id, None if size is None else row((source, model_id), size))
        for (source, model_id), size in changes.items()
    ]
    old = render(before)

    spliced = splice(old, changed, LINES)

    assert spliced is not None
    edited, pieces = spliced
    parts = spliced_parts(memoryview(old), pieces)
    assert b"".join(p for p in parts if isinstance(p, bytes | memoryview)) == render(after)
    assert edited == (render(after) != old)


def test_a_file_not_shaped_as_written_is_not_spliced() -> None:
    assert splice(b'{"hf::a": {}}', [("hf", "a", None)], LINES) is None


def test_a_span_the_kernel_cannot_copy_is_written_from_its_mapping(tmp_path: Path) -> None:
    data = b"0123456789"
    span = FileSpan(-1, 2, 7, memoryview(data)[2:7])  # no such descriptor: the copy fails

    write_atomically(tmp_path / "out", [b"<", span, b">"], tmp_path)

    assert (tmp_path / "out").read_bytes() == b"<23456>"


@pytest.mark.skipif(not hasattr(os, "copy_file_range"), reason="copy_file_range is Linux's")
def test_a_span_of_an_open_file_is_copied_by_the_kernel(tmp_path: Path) -> None:
    (tmp_path / "old").write_bytes(b"0123456789")
    with open(tmp_path / "old", "rb") as old:
        span = FileSpan(old.fileno(), 2, 7, memoryview(b"wrong"))

        write_atomically(tmp_path / "out", [span], tmp_path)

    assert (tmp_path / "out").read_bytes() == b"23456"
