"""A source owns its id grammar (ADR 0190): an Ollama-style source whose ids look like
`llama3.1:8b` is added without editing the core, and works through the library, the vault
on disk, the CLI and HTTP, beside the Hugging Face source whose rules stay as they were."""

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from devon_adapters import DiskModelStore
from devon_adapters.clock import SystemClock
from devon_cli.context import CliContext
from devon_cli.main import cli
from devon_core import Devon, InvalidInput
from devon_core.errors import DownloadCancelled, NotFound
from devon_core.identifiers import validate_model_id
from devon_core.models import RemoteFile, RemoteModel
from devon_core.ports import ProgressCallback, StopSignal
from devon_core.references import ModelReference
from devon_core.results import SearchFilters
from devon_http.app import create_app
from tests.support.fakes import FakeSource, remote_model

TAGGED = re.compile(r"[a-z0-9][a-z0-9._-]*:[a-z0-9][a-z0-9._-]*")
"""The test source's ids: `name:tag`, one part, a tag always given."""


class TaggedSource:
    """A source of models named like Ollama's (`llama3.1:8b`), writing real files."""

    name = "tagged"

    def __init__(self) -> None:
        self.catalogue = {
            "llama3.1:8b": remote_model(
                "llama3.1:8b", source=self.name, files=(("model.gguf", 64),)
            )
        }

    def parse_reference(self, text: str) -> ModelReference:
        stripped = text.strip()
        if not TAGGED.fullmatch(stripped):
            raise InvalidInput(f"Invalid model id {text!r}: expected 'name:tag'")
        return ModelReference(validate_model_id(stripped))

    def search(self, query: str | None, filters: SearchFilters, limit: int) -> list[RemoteModel]:
        return list(self.catalogue.values())[:limit]

    def info(self, model_id: str) -> RemoteModel:
        try:
            return self.catalogue[model_id]
        except KeyError:
            raise NotFound(f"{model_id} is not on {self.name}") from None

    def download(
        self,
        model: RemoteModel,
        files: Sequence[RemoteFile],
        dest: str,
        progress: ProgressCallback | None = None,
        stop: StopSignal | None = None,
    ) -> list[str]:
        for file in files:
            if stop is not None and stop.is_set():
                raise DownloadCancelled(f"The download of {model.model_id} was stopped")
            (Path(dest) / file.path).write_bytes(b"g" * file.size_bytes)
        return [f.path for f in files]


@pytest.fixture
def devon(tmp_path: Path) -> Iterator[Devon]:
    store = DiskModelStore(tmp_path / "vault")
    yield Devon(
        store=store,
        clock=SystemClock(),
        sources=[FakeSource([remote_model("acme/widget-7b")]), TaggedSource()],
        default_source="huggingface",
    )
    store.close()


def test_a_plugin_source_with_colon_ids_downloads_into_the_vault(devon: Devon) -> None:
    model = devon.download("llama3.1:8b", source="tagged")

    assert (model.source, model.model_id) == ("tagged", "llama3.1:8b")
    assert (Path(model.path) / "model.gguf").stat().st_size == 64


def test_a_colon_id_printed_with_its_source_is_accepted_back(devon: Devon) -> None:
    devon.download("llama3.1:8b", source="tagged")

    assert devon.remove("tagged/llama3.1:8b").model_id == "llama3.1:8b"
    assert devon.list() == []


def test_the_source_refuses_an_id_outside_its_grammar_before_any_lookup(devon: Devon) -> None:
    with pytest.raises(InvalidInput, match="expected 'name:tag'"):
        devon.download("acme/widget-7b", source="tagged")


def test_on_the_hugging_face_source_a_colon_still_selects_a_quantisation(devon: Devon) -> None:
    source, reference = devon.resolve("llama3.1:8b")

    assert (source, reference.model_id, reference.selects) == ("huggingface", "llama3.1", True)


def test_the_default_source_is_the_one_configured(tmp_path: Path) -> None:
    store = DiskModelStore(tmp_path / "vault")
    try:
        devon = Devon(
            store=store,
            clock=SystemClock(),
            sources=[FakeSource([remote_model("acme/widget-7b")]), TaggedSource()],
            default_source="tagged",
        )
        assert devon.download("llama3.1:8b").source == "tagged"
    finally:
        store.close()


def test_cli_downloads_lists_and_removes_a_colon_id(devon: Devon) -> None:
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(cli, list(args), obj=CliContext(lambda _: devon))

    downloaded = run("download", "llama3.1:8b", "--source", "tagged")
    assert downloaded.exit_code == 0, downloaded.output
    listed = run("list").output
    assert "llama3.1:8b" in listed
    assert "tagged" in listed
    removed = run("remove", "tagged/llama3.1:8b", "--yes")
    assert removed.exit_code == 0, removed.output
    assert devon.list() == []


def test_http_answers_a_colon_id_and_400s_an_id_its_source_refuses(devon: Devon) -> None:
    devon.download("llama3.1:8b", source="tagged")
    with TestClient(create_app(devon)) as client:
        found = client.get("/api/v1/models/tagged/llama3.1:8b")
        refused = client.get("/api/v1/models/tagged/acme/widget-7b")
        hub_refused = client.get("/api/v1/models/huggingface/llama3.1:8b")

    assert found.status_code == 200, found.text
    assert found.json()["local"]["model_id"] == "llama3.1:8b"
    assert refused.status_code == 400
    assert hub_refused.status_code == 400
