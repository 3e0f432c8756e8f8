"""Seeding between hosts on loopback: hosts placed together take the model from a peer that
holds it rather than all from the central, so the Hub sends it once and the central about
once; a wrong byte on a peer is refused by the verification and that file taken from the
central."""

from pathlib import Path

from devon_testhub import TestHub
from tests.support.fleet_support import (
    api,
    assert_central_sent_weights_at_most_twice,
    central_devon,
    central_file_reads,
    host_devon,
    hub_file_reads,
    model_folder,
    placements_of,
    states,
    wait_until,
)
from tests.support.hf_helpers import SHARDY, files_under

HOSTS = ("gpu1", "gpu2", "gpu3")


def test_three_hosts_placed_at_once_cost_the_hub_one_copy_and_the_central_at_most_two(
    test_hub: TestHub, tmp_path: Path
) -> None:
    with central_devon(test_hub, tmp_path / "central") as central:
        test_hub.stats.reset()
        with (
            host_devon(central.url, tmp_path / "gpu1" / "vault", "gpu1", public=True),
            host_devon(central.url, tmp_path / "gpu2" / "vault", "gpu2", public=True),
            host_devon(central.url, tmp_path / "gpu3" / "vault", "gpu3", public=True),
        ):
            api(central.url, "PUT", "/api/v1/placements", {"model_id": SHARDY, "hosts": HOSTS})
            wait_until(lambda: states(central.url, SHARDY) == dict.fromkeys(HOSTS, "ready"))

    expected = {f.path: f.content.read() for f in test_hub.catalogue[SHARDY].files}
    for host in HOSTS:
        assert files_under(model_folder(tmp_path, host, SHARDY)) == expected
    assert hub_file_reads(test_hub, SHARDY) == dict.fromkeys(expected, 1)
    sent = central_file_reads(central, SHARDY)
    assert set(sent) == set(expected)
    assert_central_sent_weights_at_most_twice(sent, test_hub, SHARDY, len(HOSTS))


def test_a_wrong_byte_on_a_peer_is_refused_and_the_file_comes_from_the_central(
    test_hub: TestHub, tmp_path: Path
) -> None:
    with (
        central_devon(test_hub, tmp_path / "central") as central,
        host_devon(central.url, tmp_path / "gpu1" / "vault", "gpu1", public=True),
    ):
        api(central.url, "PUT", "/api/v1/placements", {"model_id": SHARDY, "hosts": ["gpu1"]})
        wait_until(lambda: states(central.url, SHARDY) == {"gpu1": "ready"})
        shard = next(model_folder(tmp_path, "gpu1", SHARDY).glob("*00002*"))
        data = bytearray(shard.read_bytes())
        data[100] ^= 0xFF
        shard.write_bytes(bytes(data))
        before = central_file_reads(central, SHARDY)
        with host_devon(central.url, tmp_path / "gpu2" / "vault", "gpu2", public=True):
            api(
                central.url,
                "PUT",
                "/api/v1/placements",
                {"model_id": SHARDY, "hosts": ["gpu2"]},
            )
            wait_until(lambda: states(central.url, SHARDY)["gpu2"] in ("ready", "failed"))
            row = placements_of(central.url, SHARDY)["gpu2"]
        after = central_file_reads(central, SHARDY)

    expected = {f.path: f.content.read() for f in test_hub.catalogue[SHARDY].files}
    assert row["state"] == "ready", row
    assert files_under(model_folder(tmp_path, "gpu2", SHARDY)) == expected
    # The damaged shard came from the peer first (refused), then from the central.
    assert after.get(shard.name, 0) == before.get(shard.name, 0) + 1
