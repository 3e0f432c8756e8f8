"""What every `ModelSource` must do, as harnesses the contract suite runs against each source.

The Hugging Face source on the test hub sets the behaviour; the fake of the unit tests and
the plugin examples are held to it. A harness owns one source with a catalogue of at least
two models, names one of them (`known`, of at least two files) and a query and author that
find it, and reads back what a download wrote (a fake writes to a `FakeDisk`, not to disk).
Adding a source means adding a harness to `HARNESSES`; the suite then runs for it.
"""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import pytest

from devon_core import RemoteModel
from devon_core.ports import ModelSource
from devon_testhub import TestHub
from tests.support.fakes import FakeDisk, FakeSource, remote_model
from tests.support.file_source import FileSource
from tests.support.folder_source import FolderSource
from tests.support.hf_helpers import TINY, files_under, source_for


class SourceHarness(Protocol):
    source: ModelSource
    known: str
    """A model the source holds, of at least two files."""
    query: str
    """Text `search` finds `known` by, in another case than its id."""
    author: str
    """`known`'s author: a `provider` filter that keeps it."""

    def landed(self, dest: str) -> Mapping[str, int]:
        """The model files (not the source's own state) a download wrote under `dest`, with
        their sizes."""
        ...

    def content(self, dest: str, path: str) -> bytes | None:
        """The bytes of a file written under `dest`; None when the source writes no bytes."""
        ...


class DiskLanding:
    """What a source that writes real files left under `dest`."""

    def landed(self, dest: str) -> Mapping[str, int]:
        return {path: len(data) for path, data in files_under(Path(dest)).items()}

    def content(self, dest: str, path: str) -> bytes | None:
        return (Path(dest) / path).read_bytes()


class FakeHarness:
    """The unit tests' `FakeSource`: downloads "write" sizes into a `FakeDisk`."""

    known = "acme/widget-7b"
    query = "WIDGET"
    author = "acme"

    def __init__(self, tmp: Path, request: pytest.FixtureRequest) -> None:
        self.disk: FakeDisk = {}
        models = [
            remote_model("acme/widget-7b", downloads=50),
            remote_model("acme/gadget-1b", files=(("model.gguf", 300),), downloads=900),
            remote_model("other/thing", files=(("weights.bin", 70),), downloads=10),
        ]
        self.source: ModelSource = FakeSource(models, disk=self.disk)

    def landed(self, dest: str) -> Mapping[str, int]:
        return dict(self.disk.get(dest, {}))

    def content(self, dest: str, path: str) -> bytes | None:
        return None


class FileHarness(DiskLanding):
    """`FileSource`, the suite's plugin that writes real files (tests/support/file_source.py)."""

    known = "acme/widget-7b"
    query = "Widget"
    author = "acme"

    def __init__(self, tmp: Path, request: pytest.FixtureRequest) -> None:
        self.source: ModelSource = FileSource()


class FolderHarness(DiskLanding):
    """`FolderSource`, the worked example of docs/plugins.md, on a folder of three models."""

    known = "acme/widget-7b"
    query = "WIDGET-7b"
    author = "acme"

    def __init__(self, tmp: Path, request: pytest.FixtureRequest) -> None:
        root = tmp / "catalogue"
        for model_id, files in {
            "acme/widget-7b": {"config.json": b"{}", "weights/model.safetensors": b"w" * 2048},
            "acme/gadget-1b": {"model.gguf": b"GGUF" + b"g" * 500},
            "other/thing": {"weights.bin": b"t" * 70},
        }.items():
            for path, data in files.items():
                (root / model_id / path).parent.mkdir(parents=True, exist_ok=True)
                (root / model_id / path).write_bytes(data)
        self.source: ModelSource = FolderSource(root)


class HuggingFaceHarness(DiskLanding):
    """The Hugging Face source on the session's test hub (its default catalogue)."""

    known = TINY
    query = "TINY-0.5b"
    author = "tinyco"

    def __init__(self, tmp: Path, request: pytest.FixtureRequest) -> None:
        hub: TestHub = request.getfixturevalue("test_hub")
        self.source: ModelSource = source_for(hub)


HARNESSES: dict[str, Callable[[Path, pytest.FixtureRequest], SourceHarness]] = {
    "fake": FakeHarness,
    "file-plugin": FileHarness,
    "folder-plugin": FolderHarness,
    "huggingface": HuggingFaceHarness,
}


@contextmanager
def harness_for(name: str, tmp: Path, request: pytest.FixtureRequest) -> Iterator[SourceHarness]:
    yield HARNESSES[name](tmp, request)


def described(model: RemoteModel) -> bool:
    """Whether `model` is fully described: its revision, files and their totals."""
    return (
        bool(model.revision)
        and bool(model.files)
        and model.file_count == len(model.files)
        and model.total_size_bytes == sum(f.size_bytes for f in model.files)
    )
