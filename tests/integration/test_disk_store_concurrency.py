"""Several processes and threads on one vault: one download per model, nothing lost."""

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from devon_adapters import DiskModelStore
from devon_app import Settings, build_devon
from tests.support.file_source import FileSource
from tests.support.vault_builders import assert_consistent

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]

WORKER = """
import json, sys, time
from pathlib import Path
from devon_app import Settings, build_devon
from tests.support.file_source import FileSource

root, model_id, log, go, url = sys.argv[1:6]
source = FileSource(log=Path(log), delay=0.05)
devon = build_devon(Settings(storage_path=Path(root), database_url=url or None), sources=[source])
while not Path(go).exists():
    time.sleep(0.005)
model = devon.download(model_id)
print(json.dumps({"downloaded_at": model.downloaded_at.isoformat(), "files": model.files}))
"""


def race(tmp_path: Path, model_ids: list[str], url: str | None) -> list[dict[str, object]]:
    """Start one process per model id, release them together, return what each got."""
    go, log = tmp_path / "go", tmp_path / "log"
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                str(tmp_path / "vault"),
                mid,
                str(log),
                str(go),
                url or "",
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for mid in model_ids
    ]
    go.touch()
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        results.append(json.loads(out))
    return results


def fetched(tmp_path: Path) -> list[str]:
    return sorted((tmp_path / "log").read_text().splitlines())


def test_two_processes_downloading_one_model_fetch_it_once(
    tmp_path: Path, database_url: str | None
) -> None:
    first, second = race(tmp_path, ["acme/widget-7b", "acme/widget-7b"], database_url)
    assert first == second
    assert fetched(tmp_path) == [
        "acme/widget-7b config.json",
        "acme/widget-7b model.safetensors",
    ]
    assert_consistent(DiskModelStore(tmp_path / "vault", database_url=database_url))


def test_two_processes_downloading_different_models_both_land(
    tmp_path: Path, database_url: str | None
) -> None:
    race(tmp_path, ["acme/widget-7b", "acme/gadget-1b"], database_url)
    store = DiskModelStore(tmp_path / "vault", database_url=database_url)
    assert [m.model_id for m in store.list()] == ["acme/gadget-1b", "acme/widget-7b"]
    assert_consistent(store)


def in_threads(count: int, work: Callable[[int], T]) -> list[T]:
    results: dict[int, T] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return [results[i] for i in range(count)]


def test_threads_downloading_one_model_fetch_it_once(
    tmp_path: Path, database_url: str | None
) -> None:
    source = FileSource(delay=0.02)
    devon = build_devon(
        Settings(storage_path=tmp_path / "vault", database_url=database_url), sources=[source]
    )
    results = in_threads(4, lambda _: devon.download("acme/widget-7b"))
    assert len({r.downloaded_at for r in results}) == 1
    assert sorted(source.fetched) == ["config.json", "model.safetensors"]


def test_threads_downloading_and_removing_different_models_keep_the_vault_consistent(
    tmp_path: Path, database_url: str | None
) -> None:
    catalogue = {f"acme/m{i}": {"config.json": b"{}", "w.bin": bytes(i)} for i in range(8)}
    devon = build_devon(
        Settings(storage_path=tmp_path / "vault", database_url=database_url),
        sources=[FileSource(catalogue)],
    )

    def work(index: int) -> None:
        devon.download(f"acme/m{index}")
        if index % 2:
            devon.remove(f"acme/m{index}")

    in_threads(8, work)
    assert [m.model_id for m in devon.list()] == ["acme/m0", "acme/m2", "acme/m4", "acme/m6"]
    assert isinstance(devon.store, DiskModelStore)
    assert_consistent(devon.store)
