"""The fleet as separate machines: the test hub, the central DEVON and three hosts each in a
network namespace of their own, on a bridge of the test's own (tests/support/fleet_network.py).
One PUT /placements for three hosts gives three verified copies with the Hub sending the model
once and the central at most twice; a host killed -9 mid-copy resumes when restarted; a host
that was offline catches up from its peers."""

import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import attrs
import pytest

from devon_testhub import Catalogue, TestHub
from tests.support.fleet_network import Member, fleet_network, inside, limit_rate, popen_in
from tests.support.fleet_support import (
    BEAT,
    Central,
    api,
    assert_central_sent_weights_at_most_twice,
    central_env,
    central_file_reads,
    host_env,
    placements_of,
    states,
    wait_until,
)
from tests.support.hf_helpers import files_under
from tests.support.process_support import signal_host, wait_for_health

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")

BIG = "bench/fleet-12mb"
HOSTS = ("gpu1", "gpu2", "gpu3")
PORT = 8000
SERVE = f"from devon_http.serve import serve; import sys; serve(host=sys.argv[1], port={PORT})"


@attrs.define
class Fleet:
    root: Path
    hub: TestHub
    central: Central
    net: dict[str, Member]
    hosts: dict[str, "subprocess.Popen[str]"] = attrs.field(factory=dict)

    def url(self, name: str) -> str:
        return f"http://{self.net[name].address}:{PORT}"

    def vault(self, name: str) -> Path:
        return self.root / name / "vault"

    def log(self, name: str) -> Path:
        """Where host `name` writes its log (a line per request)."""
        self.vault(name).parent.mkdir(parents=True, exist_ok=True)
        return self.vault(name).parent / f"{name}.log"

    def start(self, name: str, **extra: str) -> None:
        env = host_env(
            self.central.url,
            self.vault(name),
            name,
            DEVON_PUBLIC_URL=self.url(name),
            DEVON_ALLOWED_HOSTS="*",
            DEVON_HEARTBEAT_INTERVAL=BEAT,
            DEVON_JOB_STALE_AFTER="2",
            **extra,
        )
        with self.log(name).open("a") as log:
            process = popen_in(
                self.net[name],
                [sys.executable, "-c", SERVE, self.net[name].address],
                env,
                stdout=log,
                stderr=log,
            )
        self.hosts[name] = process
        wait_for_health(self.url(name), process)

    def stop(self, name: str, signum: int = signal.SIGINT) -> None:
        process = self.hosts.pop(name)
        signal_host(process.pid, signum)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            signal_host(process.pid, signal.SIGKILL)
            process.wait()


def catalogue() -> Catalogue:
    found = Catalogue.default().with_large_repo(BIG, total_bytes=12 * 1024 * 1024, shards=2)
    found.warm()
    return found


@contextmanager
def fleet(tmp_path: Path, **central_extra: str) -> Iterator[Fleet]:
    with fleet_network(["hub", "central", *HOSTS]) as net, ExitStack() as stack:
        hub = inside(net["hub"].namespace, lambda: TestHub(catalogue()).start())
        stack.callback(hub.stop)
        # The test hub binds loopback only: its address on the bridge forwards to it.
        forward = popen_in(
            net["hub"],
            [
                "socat",
                f"TCP-LISTEN:{PORT},bind={net['hub'].address},fork,reuseaddr",
                f"TCP:127.0.0.1:{hub.port}",
            ],
            os.environ,
        )
        stack.callback(_end, forward)
        vault = tmp_path / "central" / "vault"
        vault.parent.mkdir(parents=True)
        log = stack.enter_context((vault.parent.parent / "central.log").open("a"))
        env = central_env(
            hub,
            vault,
            HF_ENDPOINT=f"http://{net['hub'].address}:{PORT}",
            DEVON_ALLOWED_HOSTS="*",
            **central_extra,
        )
        address = net["central"].address
        server = popen_in(
            net["central"], [sys.executable, "-c", SERVE, address], env, stdout=log, stderr=log
        )
        stack.callback(_end, server)
        url = f"http://{address}:{PORT}"
        wait_for_health(url, server)
        running = Fleet(tmp_path, hub, Central(url, tmp_path / "central"), net)
        try:
            yield running
        finally:
            for name in list(running.hosts):
                running.stop(name)


def _end(process: "subprocess.Popen[str]") -> None:
    signal_host(process.pid, signal.SIGINT)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        signal_host(process.pid, signal.SIGKILL)
        process.wait()


def expected_files(hub: TestHub, model_id: str) -> dict[str, bytes]:
    return {f.path: f.content.read() for f in hub.catalogue[model_id].files}


def copy_of(fleet: Fleet, name: str, model_id: str) -> dict[str, bytes]:
    return files_under(fleet.vault(name) / "huggingface" / model_id)


def test_one_put_for_three_hosts_gives_three_verified_copies_one_hub_fetch(
    tmp_path: Path,
) -> None:
    with fleet(tmp_path) as running:
        for name in HOSTS:
            running.start(name)
        running.hub.stats.reset()
        api(running.central.url, "PUT", "/api/v1/placements", {"model_id": BIG, "hosts": HOSTS})
        wait_until(lambda: states(running.central.url, BIG) == dict.fromkeys(HOSTS, "ready"), 120)
        expected = expected_files(running.hub, BIG)
        hub_bytes = sum(running.hub.stats.bytes_served(path) for path in expected)
        copies = {name: copy_of(running, name, BIG) for name in HOSTS}

    assert copies == dict.fromkeys(HOSTS, expected)
    assert hub_bytes == sum(map(len, expected.values()))  # 1.0x the model
    sent = central_file_reads(running.central, BIG)
    assert set(sent) == set(expected)
    assert_central_sent_weights_at_most_twice(sent, running.hub, BIG, len(HOSTS))


def test_a_host_killed_mid_copy_resumes_when_restarted(tmp_path: Path) -> None:
    with fleet(tmp_path) as running:
        limit_rate(running.net["gpu1"], "16mbit")  # 12 MiB take about six seconds
        running.start("gpu1")
        api(running.central.url, "PUT", "/api/v1/placements", {"model_id": BIG, "hosts": ["gpu1"]})
        wait_until(lambda: placements_of(running.central.url, BIG)["gpu1"]["bytes_done"] > 2**20)
        running.stop("gpu1", signal.SIGKILL)
        running.start("gpu1")
        wait_until(lambda: states(running.central.url, BIG) == {"gpu1": "ready"}, 120)
        copy = copy_of(running, "gpu1", BIG)
        expected = expected_files(running.hub, BIG)

    assert copy == expected
    log = (tmp_path / "central.log").read_text()
    assert any(f"GET /{BIG}/resolve/" in line and " 206 " in line for line in log.splitlines())


def test_a_host_that_was_offline_catches_up_from_its_peers(tmp_path: Path) -> None:
    with fleet(tmp_path) as running:
        running.start("gpu1")
        running.start("gpu2")
        api(running.central.url, "PUT", "/api/v1/placements", {"model_id": BIG, "hosts": HOSTS})
        wait_until(
            lambda: (
                states(running.central.url, BIG)
                == {"gpu1": "ready", "gpu2": "ready", "gpu3": "pending"}
            ),
            120,
        )
        running.start("gpu3")
        wait_until(lambda: states(running.central.url, BIG)["gpu3"] == "ready", 120)
        copy = copy_of(running, "gpu3", BIG)
        expected = expected_files(running.hub, BIG)

    assert copy == expected
    sent = central_file_reads(running.central, BIG)
    assert set(sent) == set(expected)
    assert_central_sent_weights_at_most_twice(sent, running.hub, BIG, len(HOSTS) + 1)


def test_a_wrong_byte_on_a_peer_is_refused_and_the_file_taken_from_the_central(
    tmp_path: Path,
) -> None:
    with fleet(tmp_path) as running:
        running.start("gpu1")
        api(running.central.url, "PUT", "/api/v1/placements", {"model_id": BIG, "hosts": ["gpu1"]})
        wait_until(lambda: states(running.central.url, BIG) == {"gpu1": "ready"}, 120)
        shard = next((running.vault("gpu1") / "huggingface" / BIG).glob("*00001-of*"))
        with shard.open("r+b") as file:
            file.seek(1000)
            byte = file.read(1)
            file.seek(1000)
            file.write(bytes([byte[0] ^ 0xFF]))
        before = central_file_reads(running.central, BIG)
        running.start("gpu2")
        api(running.central.url, "PUT", "/api/v1/placements", {"model_id": BIG, "hosts": ["gpu2"]})
        wait_until(lambda: states(running.central.url, BIG)["gpu2"] in ("ready", "failed"), 120)
        row = placements_of(running.central.url, BIG)["gpu2"]
        copy = copy_of(running, "gpu2", BIG)
        expected = expected_files(running.hub, BIG)

    assert row["state"] == "ready", row
    assert copy == expected
    # gpu1 sent the shard (ranges of it), the check refused it, the central sent it whole.
    after = central_file_reads(running.central, BIG)
    assert after[shard.name] == before[shard.name] + 1
    assert any(
        f"GET /{BIG}/resolve/" in line and shard.name in line
        for line in running.log("gpu1").read_text().splitlines()
    )
    assert f"Checksum mismatch for {shard.name}" in running.log("gpu2").read_text()


def test_a_host_still_copying_seeds_the_others_with_the_files_it_has_landed(
    tmp_path: Path,
) -> None:
    with fleet(tmp_path) as running:
        limit_rate(running.net["gpu1"], "16mbit")  # its shards take about six seconds
        for name in HOSTS:
            running.start(name)
        commit = running.hub.catalogue[BIG].sha
        api(running.central.url, "PUT", "/api/v1/placements", {"model_id": BIG, "hosts": ["gpu1"]})
        peers = f"/api/v1/peers?model_id={BIG}&host=gpu3"
        landed = wait_until(lambda: api(running.central.url, "GET", peers)["landed"], 60)
        served = landed[0]["files"][0]
        file_url = f"{running.url('gpu1')}/{BIG}/resolve/{commit}/{served}"
        with urllib.request.urlopen(file_url) as got:  # noqa: S310
            body = got.read()
        assert placements_of(running.central.url, BIG)["gpu1"]["state"] == "copying"
        api(running.central.url, "PUT", "/api/v1/placements", {"model_id": BIG, "hosts": HOSTS})
        wait_until(lambda: states(running.central.url, BIG) == dict.fromkeys(HOSTS, "ready"), 120)
        expected = expected_files(running.hub, BIG)
        hub_bytes = sum(running.hub.stats.bytes_served(path) for path in expected)
        copies = {name: copy_of(running, name, BIG) for name in HOSTS}

    assert body == expected[served]
    assert copies == dict.fromkeys(HOSTS, expected)
    assert hub_bytes == sum(map(len, expected.values()))
    sent = central_file_reads(running.central, BIG)
    assert_central_sent_weights_at_most_twice(sent, running.hub, BIG, len(HOSTS))
    # gpu1 sent files to its peers before it was ready itself.
    lines = running.log("gpu1").read_text().splitlines()
    ready = next(n for n, line in enumerate(lines) if f"{BIG} ready" in line)
    assert any(f"GET /{BIG}/resolve/" in line and " 200 " in line for line in lines[:ready])


def test_a_host_copies_the_first_shard_while_the_central_still_pulls_the_next(
    tmp_path: Path,
) -> None:
    """The central's pull fetches large files one after another and answers each as it lands
    (ADR 0290): a host has a shard, and seeds it, before the central holds the model."""
    with fleet(tmp_path, DEVON_DOWNLOAD_SPLIT_SIZE="1mb") as running:  # both shards "large"
        running.hub.faults.set_bandwidth(1024 * 1024)  # 12 MiB: twelve seconds from the Hub
        running.start("gpu1")
        shards = {f.path for f in running.hub.catalogue[BIG].files if f.path.endswith("tensors")}
        # The whole model in one pull: the host's requests join it (else whether they make
        # one job or several depends on how fast the central's runner starts the first).
        api(running.central.url, "POST", "/api/v1/downloads", {"model_id": BIG, "wait": False})
        api(running.central.url, "PUT", "/api/v1/placements", {"model_id": BIG, "hosts": ["gpu1"]})
        peers = f"/api/v1/peers?model_id={BIG}&host=gpu3"

        def a_landed_shard() -> set[str]:
            landed = api(running.central.url, "GET", peers)["landed"]
            return shards & {path for row in landed for path in row["files"]}

        wait_until(a_landed_shard, 60)
        held = {p.name for p in (tmp_path / "central/vault/huggingface" / BIG).glob("*tensors")}
        wait_until(lambda: states(running.central.url, BIG) == {"gpu1": "ready"}, 120)
        copy = copy_of(running, "gpu1", BIG)

    assert held != shards  # the central was still pulling when gpu1 had landed a shard
    assert copy == expected_files(running.hub, BIG)


def test_eviction_takes_the_least_recently_used_and_spares_the_pinned(tmp_path: Path) -> None:
    tiny, onnx, legacy = (
        "tinyco/Tiny-0.5B-Instruct",
        "onnxco/MiniEmbed-ONNX",
        "oldco/legacy-gpt-1.3b",
    )
    with fleet(tmp_path) as running:
        size = {m: sum(f.size for f in running.hub.catalogue[m].files) for m in (tiny, onnx, BIG)}
        # Room for the big model beside the pinned and the recently used one, not beside all.
        running.start("gpu1", DEVON_MAX_STORAGE=str(sum(size.values()) + 10_000))
        place = {"hosts": ["gpu1"]}
        api(
            running.central.url,
            "PUT",
            "/api/v1/placements",
            {**place, "model_id": tiny, "pin": True},
        )
        for model_id in (onnx, legacy):
            api(running.central.url, "PUT", "/api/v1/placements", {**place, "model_id": model_id})
        wait_until(
            lambda: all(
                states(running.central.url, m) == {"gpu1": "ready"} for m in (tiny, onnx, legacy)
            ),
            120,
        )
        # A runtime reads the ONNX model through the host's Hub paths: it is used now.
        with urllib.request.urlopen(f"{running.url('gpu1')}/{onnx}/resolve/main/config.json"):  # noqa: S310
            pass
        api(running.central.url, "PUT", "/api/v1/placements", {**place, "model_id": BIG})
        wait_until(lambda: states(running.central.url, BIG) == {"gpu1": "ready"}, 120)
        after = {m: states(running.central.url, m)["gpu1"] for m in (tiny, onnx, legacy)}

    assert after == {tiny: "ready", onnx: "ready", legacy: "evicted"}
    assert not (running.vault("gpu1") / "huggingface" / legacy).exists()
