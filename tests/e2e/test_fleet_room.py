"""Room on a fleet host: a placement that needs room evicts the least recently used
unpinned models first, never a pinned one; with no room left it fails with the reason."""

from pathlib import Path

from devon_testhub import TestHub
from tests.support.cli_process import run_piped
from tests.support.fleet_support import (
    api,
    central_devon,
    host_devon,
    host_env,
    model_folder,
    states,
    wait_until,
)
from tests.support.hf_helpers import LEGACY, ONNX, TINY

# Sizes in the test hub: TINY 50,013 bytes, ONNX 66,309, LEGACY 82,748.


def place(central: str, model_id: str, host: str, *, pin: bool = False) -> None:
    api(central, "PUT", "/api/v1/placements", {"model_id": model_id, "hosts": [host], "pin": pin})


def test_the_least_recently_used_model_is_evicted_to_make_room(
    test_hub: TestHub, tmp_path: Path
) -> None:
    vault = tmp_path / "gpu1" / "vault"
    with (
        central_devon(test_hub, tmp_path / "central") as central,
        host_devon(central.url, vault, "gpu1", DEVON_MAX_STORAGE="160000"),
    ):
        for model_id in (TINY, ONNX):
            place(central.url, model_id, "gpu1")
            wait_until(lambda m=model_id: states(central.url, m) == {"gpu1": "ready"})  # type: ignore[misc]
        used = run_piped(host_env(central.url, vault, "gpu1"), "ensure", TINY)  # a read
        place(central.url, LEGACY, "gpu1")
        wait_until(lambda: states(central.url, LEGACY) == {"gpu1": "ready"})
        evicted = wait_until(lambda: states(central.url, ONNX) == {"gpu1": "evicted"})

    assert used.code == 0, used.stderr
    assert evicted
    assert not model_folder(tmp_path, "gpu1", ONNX).exists()
    assert model_folder(tmp_path, "gpu1", TINY).is_dir()
    assert model_folder(tmp_path, "gpu1", LEGACY).is_dir()


def test_a_pinned_model_is_never_evicted_and_the_placement_fails_with_the_reason(
    test_hub: TestHub, tmp_path: Path
) -> None:
    with (
        central_devon(test_hub, tmp_path / "central") as central,
        host_devon(central.url, tmp_path / "gpu1" / "vault", "gpu1", DEVON_MAX_STORAGE="100000"),
    ):
        place(central.url, TINY, "gpu1", pin=True)
        wait_until(lambda: states(central.url, TINY) == {"gpu1": "ready"})
        place(central.url, LEGACY, "gpu1")
        wait_until(lambda: states(central.url, LEGACY) == {"gpu1": "failed"})
        failed = api(central.url, "GET", f"/api/v1/placements?model_id={LEGACY}")["placements"][0]

    assert failed["reason"].startswith("Storage quota exceeded: the download needs")
    assert model_folder(tmp_path, "gpu1", TINY).is_dir()
    assert not model_folder(tmp_path, "gpu1", LEGACY).exists()


def test_a_model_pinned_by_ensure_is_never_evicted(test_hub: TestHub, tmp_path: Path) -> None:
    vault = tmp_path / "gpu1" / "vault"
    with central_devon(test_hub, tmp_path / "central") as central:
        pinned = run_piped(host_env(central.url, vault, "gpu1"), "ensure", TINY, "--pin")
        with host_devon(central.url, vault, "gpu1", DEVON_MAX_STORAGE="100000"):
            place(central.url, LEGACY, "gpu1")
            wait_until(lambda: states(central.url, LEGACY) == {"gpu1": "failed"})

    assert pinned.code == 0, pinned.stderr
    assert model_folder(tmp_path, "gpu1", TINY).is_dir()
