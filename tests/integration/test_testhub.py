"""The test hub, driven by the real `huggingface_hub` client: what DEVON's Hugging Face
adapter can rely on when it is pointed at `hub.url`."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import RepoFile, RepoFolder

from devon_testhub import (
    GATED_REPO,
    PRIVATE_REPO,
    Catalogue,
    Repo,
    TestHub,
    hub_file,
    json_file,
    run_test_hub,
    safetensors_file,
)

SHARDY = "acme/shardy-7b"
WIDGET = "acme/Widget-8B-GGUF"
MIB = 1024 * 1024


def api(hub: TestHub, token: str | bool = False) -> HfApi:
    return HfApi(endpoint=hub.url, token=token)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def visible(hub: TestHub) -> list[str]:
    return [repo.id for repo in hub.catalogue if not repo.private]


def raw_request(
    url: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers=headers or {})  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return response.status, dict(response.headers), response.read()


# ---- search ------------------------------------------------------------------------


def test_list_models_pages_through_link_header(test_hub: TestHub) -> None:
    expected = [r.id for r in test_hub.catalogue if "text-generation" in r.tags and not r.private]

    found = [m.id for m in api(test_hub).list_models(filter="text-generation")]

    assert sorted(found) == sorted(expected)
    pages = test_hub.stats.count("/api/models", "GET")
    assert pages == math.ceil(len(expected) / test_hub.page_size) > 1
    assert "cursor=" in test_hub.stats.requests("/api/models")[-1].query


def test_list_models_with_limit_stops_after_enough_pages(test_hub: TestHub) -> None:
    found = list(api(test_hub).list_models(sort="downloads", limit=20))

    assert len(found) == 20
    assert test_hub.stats.count("/api/models") == 1


def test_filtered_search_reaches_past_the_first_page(test_hub: TestHub) -> None:
    hub_api = api(test_hub)

    found = []
    for model in hub_api.list_models(filter="text-generation", sort="downloads"):
        if model.id.endswith("-GGUF"):
            found.append(model.id)
        if len(found) == 12:
            break

    assert len(found) == 12
    assert test_hub.stats.count("/api/models") >= 2


def test_list_models_search_matches_part_of_the_id(test_hub: TestHub) -> None:
    found = {m.id for m in api(test_hub).list_models(search="shardy")}

    assert found == {SHARDY, "acme/shardy-7b-AWQ", "acme/shardy-7b-GPTQ-Int4"}


def test_list_models_author_keeps_only_that_owner(test_hub: TestHub) -> None:
    found = [m.id for m in api(test_hub).list_models(author="tinyco")]

    assert found
    assert all(model_id.startswith("tinyco/") for model_id in found)
    assert "tinyco/Tiny-0.5B-Instruct" in found


def test_list_models_filters_combine_library_and_license_tags(test_hub: TestHub) -> None:
    found = list(api(test_hub).list_models(filter=["gguf", "license:llama3.1"], full=True))

    assert WIDGET in {m.id for m in found}
    assert all("gguf" in (m.tags or []) and "license:llama3.1" in (m.tags or []) for m in found)


def test_list_models_pipeline_tag_keeps_only_that_task(test_hub: TestHub) -> None:
    found = list(api(test_hub).list_models(pipeline_tag="feature-extraction"))

    assert [m.id for m in found] == ["onnxco/MiniEmbed-ONNX"]
    assert found[0].pipeline_tag == "feature-extraction"


@pytest.mark.parametrize(
    ("sort", "attribute"),
    [("downloads", "downloads"), ("likes", "likes"), ("created_at", "created_at")],
)
def test_list_models_sorts_descending(test_hub: TestHub, sort: str, attribute: str) -> None:
    found = list(api(test_hub).list_models(sort=sort, expand=[_expand_name(attribute)]))  # type: ignore[arg-type, list-item]

    values = [getattr(m, attribute) for m in found]
    assert len(values) == len(visible(test_hub))
    assert values == sorted(values, reverse=True)


def _expand_name(attribute: str) -> str:
    return {"created_at": "createdAt"}.get(attribute, attribute)


def test_list_models_expand_returns_only_the_asked_properties(test_hub: TestHub) -> None:
    found = {
        m.id: m for m in api(test_hub).list_models(search="Widget-8B", expand=["gguf", "siblings"])
    }

    widget = found[WIDGET]
    assert widget.gguf == {
        "total": 8_030_261_248,
        "architecture": "llama",
        "context_length": 131_072,
        "bos_token": "<|begin_of_text|>",
        "eos_token": "<|eot_id|>",
    }
    assert widget.siblings is not None
    assert widget.downloads is None
    assert widget.tags is None


def test_list_models_expand_safetensors_and_card_data(test_hub: TestHub) -> None:
    (shardy,) = [
        m
        for m in api(test_hub).list_models(search="shardy-7b", expand=["safetensors", "cardData"])
        if m.id == SHARDY
    ]

    assert shardy.safetensors is not None
    assert shardy.safetensors.total == 7_241_732_096
    assert shardy.card_data is not None
    assert shardy.card_data.license == "apache-2.0"


def test_list_models_siblings_carry_names_but_no_sizes(test_hub: TestHub) -> None:
    found = list(api(test_hub).list_models(search="shardy-7b", full=True))

    siblings = next(m for m in found if m.id == SHARDY).siblings
    assert siblings
    assert {s.rfilename for s in siblings} >= {"config.json", "model-00001-of-00003.safetensors"}
    assert all(s.size is None and s.lfs is None for s in siblings)


def test_list_models_hides_private_repos_without_a_token(test_hub: TestHub) -> None:
    anonymous = {m.id for m in api(test_hub).list_models(search="secret")}
    with_token = {m.id for m in api(test_hub, test_hub.token).list_models(search="secret")}

    assert anonymous == set()
    assert with_token == {PRIVATE_REPO}


def test_list_models_retries_after_a_5xx_mid_search(test_hub: TestHub) -> None:
    test_hub.faults.fail_requests(status=503, times=1, path_contains="/api/models", skip=1)

    found = list(api(test_hub).list_models(filter="text-generation"))

    statuses = [r.status for r in test_hub.stats.requests("/api/models")]
    assert statuses[:3] == [200, 503, 200]
    assert len(found) == len({m.id for m in found})


# ---- model info and tree -----------------------------------------------------------


def test_model_info_files_metadata_gives_sizes_and_lfs_sha256(test_hub: TestHub) -> None:
    repo = test_hub.catalogue[SHARDY]

    info = api(test_hub).model_info(SHARDY, files_metadata=True)

    assert info.siblings is not None
    by_name = {s.rfilename: s for s in info.siblings}
    assert set(by_name) == {f.path for f in repo.files}
    for item in repo.files:
        sibling = by_name[item.path]
        assert sibling.size == item.size == len(item.content.read())
        if item.lfs:
            assert sibling.lfs is not None
            assert sibling.lfs.sha256 == hashlib.sha256(item.content.read()).hexdigest()
            assert sibling.lfs.size == item.size
        else:
            assert sibling.lfs is None


def test_model_info_reports_what_the_hub_computes(test_hub: TestHub) -> None:
    info = api(test_hub).model_info(SHARDY)

    assert info.id == SHARDY
    assert info.author == "acme"
    assert info.sha == test_hub.catalogue[SHARDY].sha
    assert info.safetensors is not None
    assert info.safetensors.total == 7_241_732_096
    assert info.config is not None
    assert info.config["model_type"] == "mistral"
    assert info.card_data is not None
    assert info.card_data.license == "apache-2.0"
    assert "license:apache-2.0" in (info.tags or [])
    assert info.pipeline_tag == "text-generation"
    assert info.library_name == "transformers"
    assert info.gated is False
    assert info.created_at is not None
    assert info.last_modified is not None


def test_model_info_without_metadata_leaves_size_to_the_name(test_hub: TestHub) -> None:
    info = api(test_hub).model_info("tinyco/Tiny-0.5B-Instruct")

    assert info.safetensors is None
    assert info.gguf is None
    assert info.card_data is not None
    assert info.card_data.license == "mit"


def test_model_info_expand_picks_properties(test_hub: TestHub) -> None:
    info = api(test_hub).model_info(WIDGET, expand=["gguf", "downloads"])

    assert info.gguf is not None
    assert info.gguf["architecture"] == "llama"
    assert info.downloads == test_hub.catalogue[WIDGET].downloads
    assert info.siblings is None


def test_model_info_at_the_commit_sha(test_hub: TestHub) -> None:
    sha = test_hub.catalogue[SHARDY].sha

    info = api(test_hub).model_info(SHARDY, revision=sha)

    assert info.sha == sha


def test_model_info_of_a_bare_legacy_id(test_hub: TestHub) -> None:
    info = api(test_hub).model_info("legacy-tiny-gpt")

    assert info.id == "legacy-tiny-gpt"
    assert info.author is None


def test_list_repo_tree_shows_top_level_files_and_folders(test_hub: TestHub) -> None:
    entries = list(api(test_hub).list_repo_tree(WIDGET))

    folders = [e.path for e in entries if isinstance(e, RepoFolder)]
    files = {e.path: e for e in entries if isinstance(e, RepoFile)}
    assert folders == ["BF16"]
    assert "widget-8b.Q4_K_M.gguf" in files
    q4 = files["widget-8b.Q4_K_M.gguf"]
    item = test_hub.catalogue[WIDGET].file("widget-8b.Q4_K_M.gguf")
    assert item is not None
    assert q4.size == item.size
    assert q4.lfs is not None
    assert q4.lfs.sha256 == item.sha256


def test_list_repo_tree_recursive_and_under_a_path(test_hub: TestHub) -> None:
    hub_api = api(test_hub)

    everything = [e.path for e in hub_api.list_repo_tree(WIDGET, recursive=True)]
    under = [e.path for e in hub_api.list_repo_tree(WIDGET, path_in_repo="BF16")]

    assert "BF16/widget-8b.BF16-00001-of-00002.gguf" in everything
    assert under == [
        "BF16/widget-8b.BF16-00001-of-00002.gguf",
        "BF16/widget-8b.BF16-00002-of-00002.gguf",
    ]


def test_list_repo_tree_follows_pages() -> None:
    catalogue = Catalogue().with_many_files_repo("bench/many", files=30, file_size=64, folders=3)
    with run_test_hub(catalogue) as hub:
        hub.tree_page_size = 10

        entries = list(api(hub).list_repo_tree("bench/many", recursive=True))

        assert len([e for e in entries if isinstance(e, RepoFile)]) == 32  # + README, attributes
        assert hub.stats.count("/tree/") == math.ceil(len(entries) / 10)


# ---- downloads -----------------------------------------------------------------------


def test_snapshot_download_is_byte_identical(test_hub: TestHub, tmp_path: Path) -> None:
    repo = test_hub.catalogue[SHARDY]

    snapshot_download(SHARDY, local_dir=tmp_path, endpoint=test_hub.url, token=False)

    for item in repo.files:
        assert sha256_of(tmp_path / item.path) == item.sha256
    assert test_hub.stats.count("/resolve/", "GET") == len(repo.files)


def test_snapshot_download_at_a_commit_with_allow_patterns(
    test_hub: TestHub, tmp_path: Path
) -> None:
    repo = test_hub.catalogue[WIDGET]

    snapshot_download(
        WIDGET,
        revision=repo.sha,
        allow_patterns=["*Q4_K_M*", "BF16/*"],
        local_dir=tmp_path,
        endpoint=test_hub.url,
        token=False,
    )

    got = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.gguf"))
    assert got == [
        "BF16/widget-8b.BF16-00001-of-00002.gguf",
        "BF16/widget-8b.BF16-00002-of-00002.gguf",
        "widget-8b.Q4_K_M.gguf",
    ]
    for name in got:
        item = repo.file(name)
        assert item is not None
        assert sha256_of(tmp_path / name) == item.sha256


def test_snapshot_download_dry_run_fetches_nothing(test_hub: TestHub, tmp_path: Path) -> None:
    repo = test_hub.catalogue[WIDGET]

    plan = snapshot_download(
        WIDGET, local_dir=tmp_path, endpoint=test_hub.url, token=False, dry_run=True
    )

    assert {(p.filename, p.file_size) for p in plan} == {(f.path, f.size) for f in repo.files}
    assert all(p.will_download for p in plan)
    assert test_hub.stats.count("/resolve/", "GET") == 0
    assert not any(tmp_path.rglob("*.gguf"))


def test_hf_hub_download_fetches_one_file(test_hub: TestHub, tmp_path: Path) -> None:
    item = test_hub.catalogue[SHARDY].file("config.json")
    assert item is not None

    path = hf_hub_download(
        SHARDY, "config.json", local_dir=tmp_path, endpoint=test_hub.url, token=False
    )

    assert Path(path).read_bytes() == item.content.read()
    assert json.loads(Path(path).read_text())["model_type"] == "mistral"


def test_resolve_head_carries_hub_metadata(test_hub: TestHub) -> None:
    repo = test_hub.catalogue[SHARDY]
    item = repo.file("model-00001-of-00003.safetensors")
    assert item is not None

    status, headers, body = raw_request(f"{test_hub.url}/{SHARDY}/resolve/main/{item.path}", "HEAD")

    assert status == 200
    assert body == b""
    assert headers["ETag"] == f'"{item.sha256}"'
    assert headers["X-Repo-Commit"] == repo.sha
    assert headers["Content-Length"] == str(item.size)
    assert headers["Accept-Ranges"] == "bytes"


def test_resolve_range_returns_partial_content(test_hub: TestHub) -> None:
    item = test_hub.catalogue[SHARDY].file("model-00002-of-00003.safetensors")
    assert item is not None

    status, headers, body = raw_request(
        f"{test_hub.url}/{SHARDY}/resolve/main/{item.path}", headers={"Range": "bytes=100-199"}
    )

    assert status == 206
    assert headers["Content-Range"] == f"bytes 100-199/{item.size}"
    assert body == item.content.read(100, 200)
    assert test_hub.stats.range_starts(item.path) == [100]


def test_served_safetensors_have_a_readable_header(test_hub: TestHub) -> None:
    info = api(test_hub).get_safetensors_metadata(SHARDY)

    assert len(info.files_metadata) == 3
    assert info.sharded


# ---- errors --------------------------------------------------------------------------


def test_unknown_repo_raises_repository_not_found(test_hub: TestHub, tmp_path: Path) -> None:
    with pytest.raises(RepositoryNotFoundError) as info_error:
        api(test_hub).model_info("nobody/nothing-here")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(
            "nobody/nothing-here", "config.json", local_dir=tmp_path, endpoint=test_hub.url
        )

    assert not isinstance(info_error.value, GatedRepoError)
    assert info_error.value.response.headers["X-Error-Code"] == "RepoNotFound"


def test_private_repo_is_not_found_without_a_token(test_hub: TestHub) -> None:
    with pytest.raises(RepositoryNotFoundError):
        api(test_hub).model_info(PRIVATE_REPO)

    assert api(test_hub, test_hub.token).model_info(PRIVATE_REPO).private is True


def test_gated_repo_download_raises_gated_repo_error(test_hub: TestHub, tmp_path: Path) -> None:
    with pytest.raises(GatedRepoError) as error:
        hf_hub_download(
            GATED_REPO, "config.json", local_dir=tmp_path, endpoint=test_hub.url, token=False
        )

    assert error.value.response.status_code == 401


def test_gated_repo_with_a_wrong_token_is_forbidden(test_hub: TestHub, tmp_path: Path) -> None:
    with pytest.raises(GatedRepoError) as error:
        hf_hub_download(
            GATED_REPO, "config.json", local_dir=tmp_path, endpoint=test_hub.url, token="hf_nope"
        )

    assert error.value.response.status_code == 403


def test_gated_repo_metadata_is_public_but_marked_gated(test_hub: TestHub) -> None:
    info = api(test_hub).model_info(GATED_REPO)

    assert info.gated == "manual"


def test_gated_repo_info_can_be_gated_too() -> None:
    with run_test_hub(gate_metadata=True) as hub, pytest.raises(GatedRepoError):
        api(hub).model_info(GATED_REPO)


def test_gated_repo_is_unlocked_by_an_accepted_token(test_hub: TestHub, tmp_path: Path) -> None:
    repo = test_hub.catalogue[GATED_REPO]

    snapshot_download(GATED_REPO, local_dir=tmp_path, endpoint=test_hub.url, token=test_hub.token)

    for item in repo.files:
        assert sha256_of(tmp_path / item.path) == item.sha256


def test_missing_file_raises_entry_not_found(test_hub: TestHub, tmp_path: Path) -> None:
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(
            SHARDY, "no-such-file.bin", local_dir=tmp_path, endpoint=test_hub.url, token=False
        )


def test_unknown_revision_raises_revision_not_found(test_hub: TestHub, tmp_path: Path) -> None:
    with pytest.raises(RevisionNotFoundError):
        api(test_hub).model_info(SHARDY, revision="v9.9")
    with pytest.raises(RevisionNotFoundError):
        snapshot_download(SHARDY, revision="v9.9", local_dir=tmp_path, endpoint=test_hub.url)


def test_server_error_reaches_the_caller_as_http_error(test_hub: TestHub) -> None:
    test_hub.faults.fail_requests(status=500, path_contains=f"/api/models/{SHARDY}")

    with pytest.raises(HfHubHTTPError) as error:
        api(test_hub).model_info(SHARDY)

    assert error.value.response.status_code == 500


# ---- faults --------------------------------------------------------------------------


def test_cut_transfer_is_resumed_with_a_range_request(tmp_path: Path) -> None:
    # The client buffers 10 MiB before writing, so only a cut past 10 MiB leaves bytes to resume.
    catalogue = Catalogue().with_large_repo("bench/resume", total_bytes=12 * MIB, shards=1)
    repo = catalogue["bench/resume"]
    shard = next(f for f in repo.files if f.path.endswith(".safetensors"))
    with run_test_hub(catalogue) as hub:
        hub.faults.cut_transfers(after_bytes=11 * MIB, times=1, path_contains=shard.path)

        snapshot_download(repo.id, local_dir=tmp_path, endpoint=hub.url, token=False)

        assert sha256_of(tmp_path / shard.path) == shard.sha256
        gets = hub.stats.requests(shard.path, "GET")
        assert [(r.range_start, r.completed) for r in gets] == [(None, False), (10 * MIB, True)]
        assert gets[1].bytes_sent == shard.size - 10 * MIB


def test_corrupt_file_no_longer_matches_its_advertised_sha256(
    test_hub: TestHub, tmp_path: Path
) -> None:
    name = "model-00003-of-00003.safetensors"
    test_hub.faults.corrupt(SHARDY, name)
    sibling = next(
        s
        for s in api(test_hub).model_info(SHARDY, files_metadata=True).siblings or []
        if s.rfilename == name
    )

    path = hf_hub_download(SHARDY, name, local_dir=tmp_path, endpoint=test_hub.url, token=False)

    assert sibling.lfs is not None
    assert Path(path).stat().st_size == sibling.size
    assert sha256_of(Path(path)) != sibling.lfs.sha256


def test_latency_setting_slows_every_request(test_hub: TestHub) -> None:
    test_hub.faults.set_latency(150)

    started = time.perf_counter()
    api(test_hub).model_info(SHARDY)
    elapsed = time.perf_counter() - started

    assert elapsed >= 0.15
    assert test_hub.stats.requests()[-1].duration_s >= 0.15


def test_bandwidth_limit_paces_file_bodies_and_reset_lifts_it(test_hub: TestHub) -> None:
    item = test_hub.catalogue[SHARDY].file("model-00001-of-00003.safetensors")
    assert item is not None
    url = f"{test_hub.url}/{SHARDY}/resolve/main/{item.path}"
    test_hub.faults.set_bandwidth(item.size / 0.5)  # the whole file: at least half a second

    started = time.perf_counter()
    _, _, body = raw_request(url)
    assert time.perf_counter() - started >= 0.45
    assert len(body) == item.size

    test_hub.reset()
    assert test_hub.faults.bandwidth == 0


def test_hanging_hub_times_the_client_out(test_hub: TestHub) -> None:
    test_hub.faults.hang("/api/models/")

    with pytest.raises(httpx2.TimeoutException):
        api(test_hub).model_info(SHARDY, timeout=0.3)
    test_hub.faults.release()

    assert api(test_hub).model_info(SHARDY).id == SHARDY


def wait_while(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_the_hub_counts_the_requests_a_hang_holds(test_hub: TestHub) -> None:
    test_hub.faults.hang("/api/models/")
    asking = threading.Thread(target=lambda: api(test_hub).model_info(SHARDY, timeout=10))
    asking.start()
    wait_while(lambda: test_hub.faults.held == 0)

    assert test_hub.faults.held == 1
    test_hub.faults.release()
    asking.join()
    wait_while(lambda: test_hub.faults.held > 0)
    assert test_hub.faults.held == 0


def test_a_hang_lets_go_of_a_request_whose_client_closed_the_connection(
    test_hub: TestHub,
) -> None:
    test_hub.faults.hang("/api/models/")
    with pytest.raises(httpx2.TimeoutException):
        api(test_hub).model_info(SHARDY, timeout=0.3)  # the client closes its connection

    wait_while(lambda: test_hub.faults.held > 0)
    assert test_hub.faults.held == 0
    [record] = test_hub.stats.requests("/api/models/")
    assert not record.completed
    assert record.status == 0


def test_the_hub_tells_a_request_on_a_kept_alive_connection(test_hub: TestHub) -> None:
    with httpx2.Client() as client:
        client.get(f"{test_hub.url}/api/models/{SHARDY}")
        client.get(f"{test_hub.url}/api/models/{SHARDY}")

    assert [r.reused for r in test_hub.stats.requests("/api/models/")] == [False, True]


def test_dropped_connection_is_seen_by_the_client(test_hub: TestHub) -> None:
    test_hub.faults.drop_connections(times=1, path_contains="/api/models/")

    # A closed socket surfaces as a protocol error or a read error, depending on timing.
    with pytest.raises(httpx2.TransportError):
        api(test_hub).model_info(SHARDY)

    assert api(test_hub).model_info(SHARDY).id == SHARDY


# ---- the command -----------------------------------------------------------------------


def test_command_prints_the_url_and_serves() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "devon_testhub", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("serving on http://127.0.0.1:")
        url = line.removeprefix("serving on ")

        status, _, body = raw_request(f"{url}/api/models?search=shardy")

        assert status == 200
        assert SHARDY in {item["id"] for item in json.loads(body)}
    finally:
        process.terminate()
        process.wait(timeout=5)


# ---- smaller endpoints ---------------------------------------------------------------


def test_paths_info_describes_existing_paths_only(test_hub: TestHub) -> None:
    entries = api(test_hub).get_paths_info(WIDGET, ["widget-8b.Q8_0.gguf", "BF16", "missing.txt"])

    assert [(type(e).__name__, e.path) for e in entries] == [
        ("RepoFile", "widget-8b.Q8_0.gguf"),
        ("RepoFolder", "BF16"),
    ]


def test_whoami_accepts_only_known_tokens(test_hub: TestHub) -> None:
    assert api(test_hub).whoami(token=test_hub.token)["name"] == "devon-tester"
    with pytest.raises(HfHubHTTPError):
        api(test_hub).whoami(token="hf_unknown")


def test_file_and_repo_exist_checks(test_hub: TestHub) -> None:
    hub_api = api(test_hub)

    assert hub_api.repo_exists(SHARDY)
    assert not hub_api.repo_exists("nobody/nothing-here")
    assert hub_api.file_exists(SHARDY, "config.json")
    assert not hub_api.file_exists(SHARDY, "nope.json")


def test_snapshot_of_a_gated_repo_without_token_raises_gated_repo_error(
    test_hub: TestHub, tmp_path: Path
) -> None:
    with pytest.raises(GatedRepoError):
        snapshot_download(GATED_REPO, local_dir=tmp_path, endpoint=test_hub.url, token=False)

    assert test_hub.stats.count("/resolve/", "GET") == 0


def test_second_snapshot_fetches_only_the_files_that_failed(
    test_hub: TestHub, tmp_path: Path
) -> None:
    failing = "model-00002-of-00003.safetensors"
    test_hub.faults.fail_requests(status=500, times=1, path_contains=failing, method="GET")
    with pytest.raises(HfHubHTTPError):
        snapshot_download(SHARDY, local_dir=tmp_path, endpoint=test_hub.url, token=False)
    # The client cancels files it had not started when one fails, so which others are
    # missing depends on scheduling: what matters is that complete ones are not fetched again.
    missing = {
        item.path
        for item in test_hub.catalogue[SHARDY].files
        if not (tmp_path / item.path).is_file() or sha256_of(tmp_path / item.path) != item.sha256
    }
    assert failing in missing
    test_hub.stats.reset()

    snapshot_download(SHARDY, local_dir=tmp_path, endpoint=test_hub.url, token=False)

    fetched = {
        r.path.split("/resolve/", 1)[1].split("/", 1)[1]
        for r in test_hub.stats.requests("/resolve/", "GET")
    }
    # Every file ends whole; the one that failed is fetched again and no file that was
    # already whole is. (Comparing `fetched == missing` failed now and then in full runs: a
    # file counted missing was found whole by the second snapshot without a GET.)
    assert failing in fetched
    assert fetched <= missing
    for item in test_hub.catalogue[SHARDY].files:
        assert sha256_of(tmp_path / item.path) == item.sha256


def test_list_models_num_parameters_uses_reported_totals(test_hub: TestHub) -> None:
    found = list(
        api(test_hub).list_models(num_parameters="min:7B,max:8.1B", expand=["safetensors", "gguf"])
    )

    ids = {m.id for m in found}
    assert {SHARDY, WIDGET} <= ids
    assert "tinyco/Tiny-0.5B-Instruct" not in ids
    for model in found:
        total = (model.safetensors.total if model.safetensors else None) or (model.gguf or {})[
            "total"
        ]
        assert 7e9 <= total <= 8.1e9


def test_list_models_gated_filter(test_hub: TestHub) -> None:
    assert [m.id for m in api(test_hub).list_models(gated=True)] == [GATED_REPO]


def test_list_models_config_and_card_data_on_request(test_hub: TestHub) -> None:
    (shardy,) = [
        m
        for m in api(test_hub).list_models(search="shardy-7b", cardData=True, fetch_config=True)
        if m.id == SHARDY
    ]

    assert shardy.config is not None
    assert shardy.config["model_type"] == "mistral"
    assert shardy.card_data is not None
    assert shardy.card_data.license == "apache-2.0"


# ---- the catalogue -----------------------------------------------------------------------


def test_default_catalogue_is_large_enough_to_page_and_deterministic() -> None:
    first, second = Catalogue.default(), Catalogue.default()

    assert len(first) >= 60
    assert [(r.id, r.sha) for r in first] == [(r.id, r.sha) for r in second]
    assert first[WIDGET].files[3].sha256 == second[WIDGET].files[3].sha256


def test_every_advertised_size_is_the_number_of_bytes_generated() -> None:
    for repo in Catalogue.default():
        for item in repo.files:
            assert len(item.content.read()) == item.size, (repo.id, item.path)


def test_content_length_equals_bytes_served_for_every_file_of_a_repo(test_hub: TestHub) -> None:
    repo = test_hub.catalogue[WIDGET]

    for item in repo.files:
        status, headers, body = raw_request(f"{test_hub.url}/{repo.id}/resolve/main/{item.path}")
        assert status == 200
        assert int(headers["Content-Length"]) == len(body) == item.size
        assert hashlib.sha256(body).hexdigest() == item.sha256


def test_large_repo_streams_in_ranges_without_holding_the_file(tmp_path: Path) -> None:
    catalogue = Catalogue().with_large_repo("bench/big", total_bytes=64 * MIB, shards=2)
    shard = next(
        f for f in catalogue["bench/big"].files if f.path.endswith("-of-00002.safetensors")
    )
    with run_test_hub(catalogue) as hub:
        url = f"{hub.url}/bench/big/resolve/main/{shard.path}"
        start = shard.size - 3 * MIB - 5

        status, headers, body = raw_request(url, headers={"Range": f"bytes={start}-"})

        assert status == 206
        assert headers["Content-Range"] == f"bytes {start}-{shard.size - 1}/{shard.size}"
        assert body == shard.content.read(start, shard.size)


def test_verify_repo_checksums_spots_a_corrupt_file(test_hub: TestHub, tmp_path: Path) -> None:
    name = "model-00001-of-00003.safetensors"
    test_hub.faults.corrupt(SHARDY, name)
    snapshot_download(SHARDY, local_dir=tmp_path, endpoint=test_hub.url, token=False)

    result = api(test_hub).verify_repo_checksums(SHARDY, local_dir=tmp_path)

    assert [(m["path"], m["algorithm"]) for m in result.mismatches] == [(name, "sha256")]
    assert result.checked_count == len(test_hub.catalogue[SHARDY].files)
    assert result.missing_paths == []


def test_list_models_direction_one_sorts_ascending(test_hub: TestHub) -> None:
    _, headers, body = raw_request(f"{test_hub.url}/api/models?sort=downloads&direction=1&limit=5")

    downloads = [item["downloads"] for item in json.loads(body)]
    assert downloads == sorted(downloads)
    assert downloads[0] == min(r.downloads for r in test_hub.catalogue if not r.private)
    assert 'rel="next"' in headers["Link"]


def test_revision_with_a_slash_is_one_revision(test_hub: TestHub) -> None:
    with pytest.raises(RevisionNotFoundError):
        api(test_hub).model_info(SHARDY, revision="refs/pr/1")


def test_range_past_the_end_is_unsatisfiable(test_hub: TestHub) -> None:
    item = test_hub.catalogue[SHARDY].file("config.json")
    assert item is not None
    url = f"{test_hub.url}/{SHARDY}/resolve/main/config.json"

    with pytest.raises(urllib.error.HTTPError) as error:
        raw_request(url, headers={"Range": f"bytes={item.size}-"})

    assert error.value.code == 416
    assert error.value.headers["Content-Range"] == f"bytes */{item.size}"


def test_a_custom_catalogue_serves_a_hand_made_repo(tmp_path: Path) -> None:
    repo = Repo(
        id="me/custom-1b",
        files=(
            hub_file("config.json", json_file({"model_type": "llama"})),
            hub_file("model.safetensors", safetensors_file(4096, "me/custom")),
        ),
        license="mit",
        downloads=5,
        safetensors={"parameters": {"BF16": 1_000_000_000}, "total": 1_000_000_000},
    )
    with run_test_hub(Catalogue().with_repo(repo)) as hub:
        snapshot_download(repo.id, local_dir=tmp_path, endpoint=hub.url, token=False)

        assert [m.id for m in api(hub).list_models()] == ["me/custom-1b"]
        assert (
            hub.stats.by_path("GET")[
                f"/{repo.id}/resolve/{hub.catalogue[repo.id].sha}/model.safetensors"
            ]
            == 1
        )
    assert (tmp_path / "README.md").read_text().startswith("---\nlicense: mit\n")


# ---- per-connection rate and range faults ---------------------------------------------


def test_connection_rate_limit_spreads_a_body_over_the_time_it_allows(test_hub: TestHub) -> None:
    item = test_hub.catalogue[SHARDY].file("model-00001-of-00003.safetensors")
    assert item is not None
    url = f"{test_hub.url}/{SHARDY}/resolve/main/{item.path}"
    rate = item.size * 4  # the whole body may take no less than a quarter of a second
    test_hub.faults.limit_connection_rate(rate)

    started = time.monotonic()
    _, _, body = raw_request(url)

    assert time.monotonic() - started >= 0.25 * 0.95
    assert body == item.content.read()


def test_connection_rate_flag_takes_bytes_binary_units_and_bits() -> None:
    from devon_testhub.__main__ import build_parser

    def rate(text: str) -> int:
        value: int = build_parser().parse_args(["--connection-rate", text]).connection_rate
        return value

    assert rate("5242880") == 5 * 1024 * 1024
    assert rate("5mb") == 5 * 1024 * 1024
    assert rate("40mbit") == 5_000_000
    assert build_parser().parse_args([]).connection_rate == 0


def test_ignored_ranges_get_the_whole_file_with_200(test_hub: TestHub) -> None:
    item = test_hub.catalogue[SHARDY].file("config.json")
    assert item is not None
    test_hub.faults.ignore_ranges("config.json")

    status, headers, body = raw_request(
        f"{test_hub.url}/{SHARDY}/resolve/main/config.json", headers={"Range": "bytes=5-9"}
    )

    assert status == 200
    assert "Content-Range" not in headers
    assert body == item.content.read()


def test_shifted_range_sends_other_bytes_and_names_them(test_hub: TestHub) -> None:
    item = test_hub.catalogue[SHARDY].file("config.json")
    assert item is not None
    test_hub.faults.shift_ranges(by_bytes=3, times=1, path_contains="config.json")
    url = f"{test_hub.url}/{SHARDY}/resolve/main/config.json"

    status, headers, body = raw_request(url, headers={"Range": "bytes=5-9"})
    _, again, _ = raw_request(url, headers={"Range": "bytes=5-9"})

    assert status == 206
    assert headers["Content-Range"] == f"bytes 8-12/{item.size}"
    assert body == item.content.read(8, 13)
    assert again["Content-Range"] == f"bytes 5-9/{item.size}"


def test_stats_give_the_most_requests_handled_at_once(test_hub: TestHub) -> None:
    test_hub.faults.set_latency(1000)  # long enough for the three to overlap under load
    url = f"{test_hub.url}/api/models/{SHARDY}"
    threads = [threading.Thread(target=raw_request, args=(url,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert test_hub.stats.peak_concurrency() == 3
