"""The fleet on loopback: hosts register and keep a heartbeat with the central DEVON, which
lists them; placements put a model on hosts, which pull it through the central (the Hub
serving it once), report how it goes, catch up after being offline, and drop it when the
placement is deleted."""

import json
from pathlib import Path

from devon_testhub import TestHub
from tests.support.cli_process import run_piped
from tests.support.fleet_support import (
    api,
    central_devon,
    central_env,
    host_devon,
    hub_file_reads,
    model_folder,
    placements_of,
    states,
    wait_until,
)
from tests.support.hf_helpers import SHARDY, TINY, files_under


def test_a_host_registers_and_the_central_lists_it_with_its_room_and_models(
    test_hub: TestHub, tmp_path: Path
) -> None:
    with (
        central_devon(test_hub, tmp_path / "central") as central,
        host_devon(
            central.url,
            tmp_path / "gpu1" / "vault",
            "gpu1",
            DEVON_PUBLIC_URL="http://gpu1.lan:8000",
            DEVON_MAX_STORAGE="10mb",
        ),
    ):
        hosts = wait_until(lambda: api(central.url, "GET", "/api/v1/hosts")["hosts"])

    (host,) = hosts
    assert host["name"] == "gpu1"
    assert host["state"] == "online"
    assert host["url"] == "http://gpu1.lan:8000"
    assert host["capacity_bytes"] == 10 * 1024 * 1024
    assert 0 < host["free_bytes"] <= 10 * 1024 * 1024
    assert host["models"] == []
    assert host["last_seen"]


def test_hosts_survive_a_restart_of_the_central_and_go_offline_when_silent(
    test_hub: TestHub, tmp_path: Path
) -> None:
    with (
        central_devon(test_hub, tmp_path / "central") as central,
        host_devon(central.url, tmp_path / "gpu1" / "vault", "gpu1"),
    ):
        wait_until(lambda: api(central.url, "GET", "/api/v1/hosts")["hosts"])

    with central_devon(test_hub, tmp_path / "central") as again:
        hosts = wait_until(
            lambda: [
                h
                for h in api(again.url, "GET", "/api/v1/hosts")["hosts"]
                if h["state"] == "offline"
            ]
        )
    listed = run_piped(central_env(test_hub, tmp_path / "central"), "hosts", "--json")

    assert [h["name"] for h in hosts] == ["gpu1"]
    assert [h["name"] for h in json.loads(listed.stdout)["hosts"]] == ["gpu1"]


def test_one_put_for_two_hosts_gives_two_ready_verified_copies_from_one_hub_fetch(
    test_hub: TestHub, tmp_path: Path
) -> None:
    with central_devon(test_hub, tmp_path / "central") as central:
        test_hub.stats.reset()
        with (
            host_devon(central.url, tmp_path / "gpu1" / "vault", "gpu1"),
            host_devon(central.url, tmp_path / "gpu2" / "vault", "gpu2"),
        ):
            put = api(
                central.url,
                "PUT",
                "/api/v1/placements",
                {"model_id": SHARDY, "hosts": ["gpu1", "gpu2"]},
            )
            ready = wait_until(
                lambda: states(central.url, SHARDY) == {"gpu1": "ready", "gpu2": "ready"}
            )
            rows = placements_of(central.url, SHARDY)
        listed = run_piped(central_env(test_hub, tmp_path / "central"), "placements")

    assert ready
    assert {row["state"] for row in put["placements"]} == {"pending"}
    expected = {f.path: f.content.read() for f in test_hub.catalogue[SHARDY].files}
    for host in ("gpu1", "gpu2"):
        assert files_under(model_folder(tmp_path, host, SHARDY)) == expected
        assert (
            rows[host]["bytes_done"]
            == rows[host]["bytes_total"]
            == sum(map(len, expected.values()))
        )
    assert hub_file_reads(test_hub, SHARDY) == dict.fromkeys(expected, 1)
    assert f"huggingface/{SHARDY}  gpu1  ready" in listed.stdout


def test_a_host_that_was_offline_catches_up_when_it_comes_back(
    test_hub: TestHub, tmp_path: Path
) -> None:
    with central_devon(test_hub, tmp_path / "central") as central:
        api(central.url, "PUT", "/api/v1/placements", {"model_id": TINY, "hosts": ["gpu3"]})
        assert states(central.url, TINY) == {"gpu3": "pending"}
        with host_devon(central.url, tmp_path / "gpu3" / "vault", "gpu3"):
            wait_until(lambda: states(central.url, TINY) == {"gpu3": "ready"})

    assert (model_folder(tmp_path, "gpu3", TINY) / "config.json").is_file()


def test_deleting_a_placement_removes_the_model_from_its_host(
    test_hub: TestHub, tmp_path: Path
) -> None:
    with (
        central_devon(test_hub, tmp_path / "central") as central,
        host_devon(central.url, tmp_path / "gpu1" / "vault", "gpu1"),
    ):
        api(central.url, "PUT", "/api/v1/placements", {"model_id": TINY, "hosts": ["gpu1"]})
        wait_until(lambda: states(central.url, TINY) == {"gpu1": "ready"})
        removed = api(central.url, "DELETE", f"/api/v1/placements?model_id={TINY}")
        wait_until(lambda: not model_folder(tmp_path, "gpu1", TINY).exists())

    assert removed == {"removed": 1}


def test_ensure_with_wait_answers_once_every_host_is_ready(
    test_hub: TestHub, tmp_path: Path
) -> None:
    with (
        central_devon(test_hub, tmp_path / "central") as central,
        host_devon(central.url, tmp_path / "gpu1" / "vault", "gpu1"),
    ):
        answer = api(
            central.url,
            "POST",
            "/api/v1/models/ensure",
            {"model_id": TINY, "hosts": ["gpu1"], "wait": True},
        )

    assert [(r["host"], r["state"]) for r in answer["placements"]] == [("gpu1", "ready")]
