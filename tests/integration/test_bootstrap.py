"""`build_devon` and the `devon.sources` plugin registry."""

from datetime import UTC
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from devon_adapters import DiskModelStore
from devon_app import (
    ENTRY_POINT_GROUP,
    Settings,
    SourcePluginWarning,
    build_devon,
    discover_sources,
)
from devon_core import InvalidInput
from tests.support.file_source import FileSource


def plugin(name: str, target: str) -> EntryPoint:
    return EntryPoint(
        name=name, value=f"tests.support.file_source:{target}", group=ENTRY_POINT_GROUP
    )


def test_build_devon_opens_the_vault_at_the_storage_path_with_the_quota(tmp_path: Path) -> None:
    settings = Settings(storage_path=tmp_path / "vault", max_storage_bytes=1024)
    devon = build_devon(settings, sources=[FileSource()])
    assert isinstance(devon.store, DiskModelStore)
    assert devon.storage_path == str(tmp_path / "vault")
    assert devon.store.space().quota_bytes == 1024
    assert (tmp_path / "vault" / ".devon" / "index.sqlite3").is_file()


def test_build_devon_reads_settings_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVON_STORAGE_PATH", str(tmp_path / "from-env"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    devon = build_devon(sources=[])
    assert devon.storage_path == str(tmp_path / "from-env")


def test_the_clock_is_the_system_clock_in_utc(tmp_path: Path) -> None:
    devon = build_devon(Settings(storage_path=tmp_path / "vault"), sources=[])
    assert devon.clock.now().tzinfo == UTC


def test_sources_are_found_by_entry_point_and_built_from_settings(tmp_path: Path) -> None:
    sources = discover_sources(Settings(), [plugin("huggingface", "FileSource")])
    assert [s.name for s in sources] == ["huggingface"]


def test_a_plugin_that_fails_to_build_is_skipped_with_a_warning() -> None:
    plugins = [plugin("broken", "BrokenPlugin"), plugin("huggingface", "FileSource")]
    with pytest.warns(SourcePluginWarning, match="'broken'.*plugin exploded"):
        sources = discover_sources(Settings(), plugins)
    assert [s.name for s in sources] == ["huggingface"]


def test_a_plugin_that_cannot_be_imported_is_skipped_with_a_warning() -> None:
    missing = EntryPoint(name="ghost", value="no_such_module:Source", group=ENTRY_POINT_GROUP)
    with pytest.warns(SourcePluginWarning, match="'ghost'.*ModuleNotFoundError"):
        assert discover_sources(Settings(), [missing]) == []


def test_a_plugin_that_builds_something_else_than_a_source_is_skipped() -> None:
    with pytest.warns(SourcePluginWarning, match="lacks name, search, info, download"):
        assert discover_sources(Settings(), [plugin("odd", "NotASource")]) == []


def test_a_plugin_taking_the_built_in_local_name_is_skipped_with_a_warning() -> None:
    plugins = [plugin("local", "LocalNamedPlugin"), plugin("huggingface", "FileSource")]
    with pytest.warns(SourcePluginWarning, match="built-in source of models placed by hand"):
        sources = discover_sources(Settings(), plugins)
    assert [s.name for s in sources] == ["huggingface"]


def test_an_unknown_source_name_is_invalid_input_listing_the_known_ones(tmp_path: Path) -> None:
    devon = build_devon(Settings(storage_path=tmp_path / "vault"), sources=[FileSource()])
    with pytest.raises(InvalidInput, match="known sources are huggingface"):
        devon.download("acme/widget-7b", source="elsewhere")
