"""The source contract: every `ModelSource` (the unit tests' fake, the plugin examples and
the Hugging Face source on the test hub) passes each of these. The Hugging Face source's
behaviour is the reference; the fake passing them is what lets the core's unit tests trust
it, and the examples passing them is what a plugin author copies."""

import hashlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from devon_core import DownloadCancelled, InvalidInput, NotFound, SearchFilters
from devon_core.identifiers import validate_model_id, validate_source_name
from devon_core.references import ModelReference, parse_reference
from tests.support.source_contract import HARNESSES, SourceHarness, described, harness_for

SHA256 = re.compile(r"[0-9a-f]{64}")


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SourceHarness]:
    with harness_for(request.param, tmp_path, request) as harness:
        yield harness


@pytest.fixture
def dest(tmp_path: Path) -> str:
    """An empty staging directory to download into."""
    (tmp_path / "staging").mkdir()
    return str(tmp_path / "staging")


# `name` and `info`


def test_the_name_is_a_valid_source_name(harness: SourceHarness) -> None:
    assert validate_source_name(harness.source.name) == harness.source.name


def test_info_describes_a_known_model_with_its_revision_and_files(
    harness: SourceHarness,
) -> None:
    model = harness.source.info(harness.known)

    assert (model.source, model.model_id) == (harness.source.name, harness.known)
    assert model.author == harness.author
    assert described(model)
    assert len(model.files) >= 2


def test_info_lists_each_file_once_by_a_relative_posix_path(harness: SourceHarness) -> None:
    paths = [f.path for f in harness.source.info(harness.known).files]

    assert len(set(paths)) == len(paths)
    for path in paths:
        assert not path.startswith("/")
        assert "\\" not in path
        assert ".." not in path.split("/")


def test_info_declares_sizes_and_any_sha256_as_lowercase_hex(harness: SourceHarness) -> None:
    for file in harness.source.info(harness.known).files:
        assert file.size_bytes >= 0
        assert file.sha256 is None or SHA256.fullmatch(file.sha256)


def test_info_names_the_same_revision_when_nothing_changed(harness: SourceHarness) -> None:
    first = harness.source.info(harness.known)
    assert harness.source.info(harness.known).revision == first.revision


def test_info_of_an_unknown_model_is_not_found(harness: SourceHarness) -> None:
    with pytest.raises(NotFound):
        harness.source.info("acme/no-such-model")


@pytest.mark.parametrize("model_id", ["../outside", "acme/../../outside", "a/b/c", ""])
def test_info_refuses_an_id_no_vault_could_hold(harness: SourceHarness, model_id: str) -> None:
    with pytest.raises(InvalidInput):
        validate_model_id(model_id)  # the rule every source's ids keep
    with pytest.raises(InvalidInput):
        harness.source.info(model_id)


# `search`


def test_search_honours_the_limit(harness: SourceHarness) -> None:
    source = harness.source
    assert len(source.search(None, SearchFilters(), 1)) == 1
    assert len(source.search(None, SearchFilters(), 2)) == 2


def test_search_finds_by_the_query_whatever_its_case(harness: SourceHarness) -> None:
    found = harness.source.search(harness.query, SearchFilters(), 50)

    assert harness.known in [m.model_id for m in found]
    for model in found:
        assert all(word in model.model_id.lower() for word in harness.query.lower().split())


def test_search_for_a_query_nothing_matches_finds_nothing(harness: SourceHarness) -> None:
    assert harness.source.search("zz-nothing-is-called-this", SearchFilters(), 10) == []


def test_search_keeps_only_models_that_pass_the_filters(harness: SourceHarness) -> None:
    filters = SearchFilters(provider=harness.author)

    found = harness.source.search(None, filters, 50)

    assert harness.known in [m.model_id for m in found]
    assert all(filters.matches(m) for m in found)
    assert harness.source.search(None, SearchFilters(provider="zz-nobody"), 10) == []


def test_search_answers_fully_described_models_most_downloaded_first(
    harness: SourceHarness,
) -> None:
    found = harness.source.search(None, SearchFilters(), 3)

    assert all(m.source == harness.source.name and described(m) for m in found)
    assert [m.downloads for m in found] == sorted((m.downloads for m in found), reverse=True)


def test_a_search_hit_is_what_info_says_of_it(harness: SourceHarness) -> None:
    [hit] = [
        m
        for m in harness.source.search(harness.query, SearchFilters(), 50)
        if m.model_id == harness.known
    ]
    model = harness.source.info(harness.known)
    assert (hit.revision, hit.files) == (model.revision, model.files)


# `download`


def test_download_writes_every_file_asked_for_at_its_declared_size_and_hash(
    harness: SourceHarness, dest: str
) -> None:
    model = harness.source.info(harness.known)

    written = harness.source.download(model, model.files, dest)

    assert sorted(written) == sorted(f.path for f in model.files)
    assert harness.landed(dest) == {f.path: f.size_bytes for f in model.files}
    for file in model.files:
        data = harness.content(dest, file.path)
        if file.sha256 is not None and data is not None:
            assert hashlib.sha256(data).hexdigest() == file.sha256


def test_download_fetches_only_the_files_asked_for(harness: SourceHarness, dest: str) -> None:
    model = harness.source.info(harness.known)
    wanted = model.files[-1:]

    assert harness.source.download(model, wanted, dest) == [wanted[0].path]
    assert harness.landed(dest) == {wanted[0].path: wanted[0].size_bytes}


def test_download_reports_progress_up_to_the_total(harness: SourceHarness, dest: str) -> None:
    model = harness.source.info(harness.known)
    calls: list[tuple[int, int]] = []

    harness.source.download(
        model, model.files, dest, lambda done, total: calls.append((done, total))
    )

    total = sum(f.size_bytes for f in model.files)
    assert calls, "no progress was reported"
    assert calls[-1] == (total, total)
    assert all(done <= whole == total for done, whole in calls)


def test_a_second_download_into_the_same_place_resumes_to_the_same_files(
    harness: SourceHarness, dest: str
) -> None:
    model = harness.source.info(harness.known)
    harness.source.download(model, model.files, dest)
    first = {f.path: harness.content(dest, f.path) for f in model.files}

    again = harness.source.download(model, model.files, dest)

    assert sorted(again) == sorted(f.path for f in model.files)
    assert harness.landed(dest) == {f.path: f.size_bytes for f in model.files}
    assert {f.path: harness.content(dest, f.path) for f in model.files} == first


def test_a_download_told_to_stop_raises_download_cancelled(
    harness: SourceHarness, dest: str
) -> None:
    model = harness.source.info(harness.known)
    stop = threading.Event()
    stop.set()

    with pytest.raises(DownloadCancelled):
        harness.source.download(model, model.files, dest, stop=stop)


# `parse_reference`, an optional member: without it the core reads `owner/name[:QUANT]`, and
# either way a source's own ids read back as themselves


def test_the_reference_rule_in_effect_reads_the_sources_own_ids_back(
    harness: SourceHarness,
) -> None:
    parse = getattr(harness.source, "parse_reference", parse_reference)
    for model in harness.source.search(None, SearchFilters(), 3):
        assert parse(model.model_id) == ModelReference(model.model_id)
