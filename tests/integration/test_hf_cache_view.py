"""The vault as a Hugging Face cache (`devon link hf-cache`), read by huggingface_hub itself:
offline lookups by repo id, `scan_cache_dir`, an online download that reuses the linked
blobs, no extra disk, and folders DEVON did not make left alone."""

import hashlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from huggingface_hub import hf_hub_download, scan_cache_dir, snapshot_download

from devon_adapters.model_files.identities import file_identities
from devon_app import Settings, build_devon
from devon_core import Devon
from devon_core.cache_view import Change, LinkKind, ViewSkipReason
from devon_http.asgi import create_app_from_settings
from devon_testhub import Catalogue, Repo, TestHub, hub_file
from devon_testhub.content import json_file, safetensors_file
from tests.support.hf_cache_builder import download as cache_download
from tests.support.hf_helpers import SHARDY, TINY, WIDGET, files_under
from tests.support.http_support import serving, wait_until

BIG = "acme/big-view"
"""A repo of one 8 MiB safetensors file, so that a copy would show in `du`."""
QUANT = "widget-8b.Q4_K_M.gguf"


def _devon(hub: TestHub, vault: Path, cache: Path, keep: bool = False) -> Devon:
    settings = Settings(storage_path=vault, hf_endpoint=hub.url, hf_cache=cache, hf_cache_view=keep)
    return build_devon(settings)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "hf" / "hub"


@pytest.fixture
def devon(test_hub: TestHub, tmp_path: Path, cache: Path) -> Iterator[Devon]:
    devon = _devon(test_hub, tmp_path / "vault", cache)
    yield devon
    devon.store.close()  # type: ignore[attr-defined]


def _folder(cache: Path, repo_id: str) -> Path:
    return cache / f"models--{repo_id.replace('/', '--')}"


def _tree(root: Path) -> dict[str, str]:
    """Every entry under `root`: a link's target, a file's content hash."""
    found = {}
    for path in sorted(root.rglob("*")):
        key = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[key] = "-> " + os.readlink(path)
        elif path.is_file():
            found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def test_snapshot_download_offline_returns_the_vault_files_byte_identical(
    devon: Devon, cache: Path
) -> None:
    model = devon.download(SHARDY)
    devon.link_cache()

    path = snapshot_download(SHARDY, cache_dir=cache, local_files_only=True)

    assert Path(path).name == model.metadata["revision"]
    assert files_under(Path(path)) == files_under(Path(model.path))


def test_hf_hub_download_offline_returns_a_linked_file_byte_identical(
    devon: Devon, cache: Path
) -> None:
    model = devon.download(SHARDY)
    devon.link_cache()

    for name in ("config.json", "model-00001-of-00003.safetensors"):
        path = hf_hub_download(SHARDY, name, cache_dir=cache, local_files_only=True)
        assert Path(path).read_bytes() == (Path(model.path) / name).read_bytes()


def test_scan_cache_dir_reports_every_linked_repo_without_warnings(
    devon: Devon, cache: Path, tmp_path: Path
) -> None:
    devon.download(SHARDY)
    devon.download(WIDGET, include_patterns=["*Q4_K_M*"])
    mine = tmp_path / "vault" / "local" / "mine"
    mine.mkdir(parents=True)
    (mine / "model.safetensors").write_bytes(b"m" * 64)
    devon.scan()
    devon.link_cache()

    scanned = scan_cache_dir(cache)

    assert scanned.warnings == []
    assert sorted(r.repo_id for r in scanned.repos) == sorted([SHARDY, WIDGET, "mine"])
    shardy = next(r for r in scanned.repos if r.repo_id == SHARDY)
    assert shardy.nb_files == len(devon.get(SHARDY).files)  # type: ignore[union-attr]
    assert [sorted(rev.refs) for rev in shardy.revisions] == [["main"]]


def test_online_download_of_a_linked_file_fetches_nothing(
    devon: Devon, cache: Path, test_hub: TestHub
) -> None:
    devon.download(SHARDY)
    devon.link_cache()
    test_hub.reset()

    for name in ("config.json", "model-00002-of-00003.safetensors"):
        hf_hub_download(SHARDY, name, cache_dir=cache, endpoint=test_hub.url, token=False)

    assert [r.method for r in test_hub.stats.requests("/resolve/")] == ["HEAD", "HEAD"]
    assert test_hub.stats.count("/resolve/", "GET") == 0


def test_linked_repo_folders_are_as_private_as_the_vault(devon: Devon, cache: Path) -> None:
    devon.download(TINY)
    cache.mkdir(parents=True)
    os.chmod(cache, 0o755)  # noqa: S103 - a shared cache, as users often have

    devon.link_cache()

    assert _folder(cache, TINY).stat().st_mode & 0o777 == 0o700
    assert cache.stat().st_mode & 0o777 == 0o755  # the cache's own folder is not DEVON's


def test_the_blob_names_are_the_hubs_etags(devon: Devon, cache: Path) -> None:
    model = devon.download(SHARDY)
    devon.link_cache()

    blobs = {p.name for p in (_folder(cache, SHARDY) / "blobs").iterdir()}

    assert blobs == {f.etag for f in file_identities(model, devon.storage_path)}


@pytest.fixture(scope="module")
def big_hub() -> Iterator[TestHub]:
    repo = Repo(
        BIG,
        files=(
            hub_file("config.json", json_file({"model_type": "llama"})),
            hub_file("model.safetensors", safetensors_file(8 * 1024 * 1024, seed="big")),
        ),
    )
    with TestHub(Catalogue.default().with_repo(repo)) as hub:
        yield hub


def _disk_use_kib(*paths: Path) -> int:
    """What `du` counts for all `paths` together (a file linked twice counts once)."""
    out = subprocess.run(
        ["du", "-s", "-k", "-c", *map(str, paths)], check=True, capture_output=True, text=True
    ).stdout
    return int(out.splitlines()[-1].split()[0])


def test_linking_takes_no_extra_disk(big_hub: TestHub, tmp_path: Path, cache: Path) -> None:
    devon = _devon(big_hub, tmp_path / "vault", cache)
    devon.download(BIG)
    cache.mkdir(parents=True)
    before = _disk_use_kib(tmp_path / "vault", cache)

    report = devon.link_cache()

    assert [r.links for r in report.linked] == [LinkKind.HARD]
    grown = _disk_use_kib(tmp_path / "vault", cache) - before
    assert grown < 64  # folders, refs/main and the marker; not the 8 MiB of the file
    devon.store.close()  # type: ignore[attr-defined]


def test_one_quantisation_downloaded_alone_is_a_snapshot_of_just_that_file(
    devon: Devon, cache: Path
) -> None:
    devon.download(WIDGET, include_patterns=["*Q4_K_M*"])
    devon.link_cache()

    snapshot = Path(snapshot_download(WIDGET, cache_dir=cache, local_files_only=True))

    assert sorted(p.name for p in snapshot.iterdir()) == [QUANT]


def test_a_model_without_a_commit_gets_a_stable_synthetic_snapshot(
    devon: Devon, cache: Path, tmp_path: Path
) -> None:
    mine = tmp_path / "vault" / "local" / "mine"
    mine.mkdir(parents=True)
    (mine / "model.safetensors").write_bytes(b"m" * 64)
    devon.scan()

    first = devon.link_cache().linked[0]
    again = devon.link_cache().linked[0]

    expected = hashlib.sha1(b"devon-view\0local\0mine", usedforsecurity=False).hexdigest()
    assert (first.revision, first.synthetic, again.change) == (expected, True, Change.UNCHANGED)
    path = hf_hub_download("mine", "model.safetensors", cache_dir=cache, local_files_only=True)
    assert Path(path).read_bytes() == b"m" * 64


def test_a_repo_folder_devon_did_not_make_is_left_alone_and_reported(
    devon: Devon, cache: Path, test_hub: TestHub
) -> None:
    cache_download(test_hub, cache, TINY)
    before = _tree(_folder(cache, TINY))
    devon.download(TINY)

    report = devon.link_cache()

    assert [(s.repo_id, s.reason) for s in report.skipped] == [
        (TINY, ViewSkipReason.NOT_MADE_BY_DEVON)
    ]
    assert _tree(_folder(cache, TINY)) == before


def test_unlink_removes_only_what_devon_made(devon: Devon, cache: Path, test_hub: TestHub) -> None:
    cache_download(test_hub, cache, TINY)
    before = _tree(cache)
    devon.download(SHARDY)
    devon.link_cache()

    report = devon.unlink_cache()

    assert report.removed == (SHARDY,)
    assert _tree(cache) == before


def test_what_huggingface_hub_adds_in_a_linked_folder_survives_unlink(
    devon: Devon, cache: Path, test_hub: TestHub
) -> None:
    devon.download(WIDGET, include_patterns=["*Q4_K_M*"])
    devon.link_cache()
    added = hf_hub_download(
        WIDGET, "README.md", cache_dir=cache, endpoint=test_hub.url, token=False
    )

    devon.unlink_cache()

    assert Path(added).read_bytes() == test_hub.catalogue[WIDGET].file("README.md").content.read()  # type: ignore[union-attr]
    assert not (_folder(cache, WIDGET) / "snapshots" / Path(added).parent.name / QUANT).exists()
    assert scan_cache_dir(cache).warnings == []


def test_a_model_gone_from_the_vault_leaves_the_view_at_the_next_link(
    devon: Devon, cache: Path
) -> None:
    devon.download(SHARDY)
    devon.link_cache()
    devon.store.remove("huggingface", SHARDY)  # no view kept: only the next link follows

    report = devon.link_cache()

    assert report.removed == (SHARDY,)
    assert not _folder(cache, SHARDY).exists()


def test_adopt_does_not_take_a_removed_model_back_from_the_view(devon: Devon, cache: Path) -> None:
    devon.download(SHARDY)
    devon.link_cache()
    devon.remove(SHARDY)  # no view kept: the view still shows it

    report = devon.adopt(cache=str(cache))

    assert report.adopted == ()
    assert devon.get(SHARDY) is None


def test_links_made_at_once_leave_one_complete_view(devon: Devon, cache: Path) -> None:
    devon.download(SHARDY)
    devon.download(TINY)

    with ThreadPoolExecutor(4) as pool:
        reports = list(pool.map(lambda _: devon.link_cache(), range(4)))

    assert all(r.skipped == () for r in reports)
    assert scan_cache_dir(cache).warnings == []
    assert sorted(r.repo_id for r in scan_cache_dir(cache).repos) == [SHARDY, TINY]


def test_a_dry_run_reports_and_changes_nothing(devon: Devon, cache: Path) -> None:
    devon.download(SHARDY)

    report = devon.link_cache(dry_run=True)

    assert [(r.repo_id, r.change) for r in report.linked] == [(SHARDY, Change.CREATED)]
    assert not cache.exists()


# -- the view kept current (DEVON_HF_CACHE_VIEW) -----------------------------------------


@pytest.fixture
def kept(test_hub: TestHub, tmp_path: Path, cache: Path) -> Iterator[Devon]:
    devon = _devon(test_hub, tmp_path / "vault", cache, keep=True)
    yield devon
    devon.close()
    devon.store.close()  # type: ignore[attr-defined]


def test_a_kept_view_shows_a_download_at_once(kept: Devon, cache: Path) -> None:
    model = kept.download(SHARDY)

    path = snapshot_download(SHARDY, cache_dir=cache, local_files_only=True)

    assert files_under(Path(path)) == files_under(Path(model.path))


def test_a_kept_view_shows_a_download_job(kept: Devon, cache: Path) -> None:
    job = kept.start_download(WIDGET, include_patterns=["*Q4_K_M*"])
    assert kept.wait(job.id, timeout=60).status == "completed"

    path = hf_hub_download(WIDGET, QUANT, cache_dir=cache, local_files_only=True)

    assert Path(path).read_bytes() == (Path(kept.get(WIDGET).path) / QUANT).read_bytes()  # type: ignore[union-attr]


def test_a_kept_view_drops_a_removed_model_and_frees_its_bytes(kept: Devon, cache: Path) -> None:
    model = kept.download(SHARDY)
    blob = next(p for p in (_folder(cache, SHARDY) / "blobs").iterdir() if len(p.name) == 64)
    assert blob.stat().st_nlink == 2  # the vault's file and the view's blob

    kept.remove(SHARDY)

    assert not os.path.lexists(blob)
    assert not Path(model.path).exists()
    assert not _folder(cache, SHARDY).exists()


def test_a_kept_view_follows_a_scan(kept: Devon, cache: Path, tmp_path: Path) -> None:
    mine = tmp_path / "vault" / "local" / "mine"
    mine.mkdir(parents=True)
    (mine / "model.safetensors").write_bytes(b"m" * 64)

    kept.scan()

    assert [r.repo_id for r in scan_cache_dir(cache).repos] == ["mine"]


def test_a_kept_view_relinks_a_forced_download_to_the_new_files(kept: Devon, cache: Path) -> None:
    kept.download(SHARDY)

    model = kept.download(SHARDY, force=True)

    name = "model-00001-of-00003.safetensors"
    linked = hf_hub_download(SHARDY, name, cache_dir=cache, local_files_only=True)
    assert os.stat(linked).st_ino == os.stat(Path(model.path) / name).st_ino


def _moving_repo(size: int) -> Repo:
    return Repo(
        "acme/moving",
        files=(
            hub_file("config.json", json_file({"size": size})),
            hub_file("model.safetensors", safetensors_file(size, seed=f"moving-{size}")),
            hub_file("tokenizer.json", json_file({"same": "in every commit"})),
        ),
    )


def test_a_blob_that_a_newer_commit_downloaded_online_links_to_outlives_unlink(
    tmp_path: Path, cache: Path
) -> None:
    with (
        TestHub(Catalogue([_moving_repo(1000)])) as before,
        TestHub(Catalogue([_moving_repo(2000)])) as after,
    ):
        devon = _devon(before, tmp_path / "vault", cache)
        devon.download("acme/moving")
        devon.link_cache()
        newer = hf_hub_download(
            "acme/moving", "tokenizer.json", cache_dir=cache, endpoint=after.url, token=False
        )
        assert after.stats.count("/resolve/", "GET") == 0  # the view's blob was reused

        first = devon.unlink_cache()
        second = devon.unlink_cache()
        devon.store.close()  # type: ignore[attr-defined]

    assert (first.removed, second.removed) == (("acme/moving",), ())
    assert Path(newer).read_text() == '{\n  "same": "in every commit"\n}\n'
    (repo,) = scan_cache_dir(cache).repos
    assert [r.commit_hash for r in repo.revisions] == [after.catalogue["acme/moving"].sha]


def test_a_kept_view_follows_a_new_revision_and_drops_the_old_one(
    tmp_path: Path, cache: Path
) -> None:
    with (
        TestHub(Catalogue([_moving_repo(1000)])) as before,
        TestHub(Catalogue([_moving_repo(2000)])) as after,
    ):
        first = _devon(before, tmp_path / "vault", cache, keep=True)
        first.download("acme/moving")
        first.store.close()  # type: ignore[attr-defined]
        again = _devon(after, tmp_path / "vault", cache, keep=True)
        model = again.download("acme/moving", force=True)
        again.store.close()  # type: ignore[attr-defined]

    (repo,) = scan_cache_dir(cache).repos
    assert [r.commit_hash for r in repo.revisions] == [after.catalogue["acme/moving"].sha]
    main = (_folder(cache, "acme/moving") / "refs" / "main").read_text()
    assert main == after.catalogue["acme/moving"].sha
    blobs = {p.name for p in (_folder(cache, "acme/moving") / "blobs").iterdir()}
    assert blobs == {f.etag for f in file_identities(model, tmp_path / "vault")}


def test_a_download_over_http_updates_the_kept_view(
    test_hub: TestHub, tmp_path: Path, cache: Path
) -> None:
    settings = Settings(
        storage_path=tmp_path / "vault", hf_endpoint=test_hub.url, hf_cache=cache,
        hf_cache_view=True,
    )  # fmt: skip
    with serving(create_app_from_settings(settings)) as url:
        answer = httpx.post(f"{url}/api/v1/downloads", json={"model_id": TINY}, timeout=60)
        assert answer.status_code == 200, answer.text

        assert [r.repo_id for r in scan_cache_dir(cache).repos] == [TINY]

        httpx.delete(f"{url}/api/v1/models/huggingface/{TINY}", timeout=60)
        assert not _folder(cache, TINY).exists()


def test_a_download_job_of_the_server_updates_the_kept_view(
    test_hub: TestHub, tmp_path: Path, cache: Path
) -> None:
    """The server runs its jobs in a child process, which keeps the view too."""
    settings = Settings(
        storage_path=tmp_path / "vault", hf_endpoint=test_hub.url, hf_cache=cache,
        hf_cache_view=True,
    )  # fmt: skip
    with serving(create_app_from_settings(settings)) as url:
        job = httpx.post(f"{url}/api/v1/downloads", json={"model_id": TINY, "wait": False})
        assert job.status_code in (200, 202), job.text

        def done() -> bool:
            state = httpx.get(f"{url}/api/v1/downloads/{job.json()['id']}").json()
            return bool(state["status"] in ("completed", "failed"))

        wait_until(done, "the download job")

    assert [r.repo_id for r in scan_cache_dir(cache).repos] == [TINY]


# -- across filesystems --------------------------------------------------------------------


@pytest.fixture
def other_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A folder on another filesystem than `tmp_path` (tmpfs in /dev/shm)."""
    folder = Path("/dev/shm") / f"devon-view-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    assert os.stat(folder).st_dev != os.stat(tmp_path).st_dev
    yield folder
    shutil.rmtree(folder)


def test_a_cache_on_another_filesystem_links_by_symlinks(
    devon: Devon, other_filesystem: Path
) -> None:
    model = devon.download(SHARDY)
    cache = other_filesystem / "hub"

    report = devon.link_cache(str(cache))

    assert [r.links for r in report.linked] == [LinkKind.SYMBOLIC]
    path = snapshot_download(SHARDY, cache_dir=cache, local_files_only=True)
    assert files_under(Path(path)) == files_under(Path(model.path))
    assert scan_cache_dir(cache).warnings == []


def test_runtimes_find_linked_models_with_hf_hub_offline(
    devon: Devon, cache: Path, tmp_path: Path
) -> None:
    """What transformers and vLLM do: only the environment names the cache."""
    model = devon.download(SHARDY)
    devon.link_cache()
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_ENDPOINT", None)

    out = subprocess.run(
        [sys.executable, "-c", f"from huggingface_hub import snapshot_download; "
         f"print(snapshot_download({SHARDY!r}))"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    assert files_under(Path(out.strip())) == files_under(Path(model.path))


def test_an_online_snapshot_download_through_hf_endpoint_fetches_no_linked_file(
    devon: Devon, cache: Path, test_hub: TestHub
) -> None:
    model = devon.download(SHARDY)
    devon.link_cache()
    test_hub.reset()
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_ENDPOINT": test_hub.url}
    env.pop("HF_HUB_OFFLINE", None)

    out = subprocess.run(
        [sys.executable, "-c", f"from huggingface_hub import snapshot_download; "
         f"print(snapshot_download({SHARDY!r}))"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    assert files_under(Path(out.strip())) == files_under(Path(model.path))
    assert test_hub.stats.requests("/api/models/")  # it did ask the hub
    assert test_hub.stats.count("/resolve/", "GET") == 0
