"""On a DEVON serving pull-through, a model's large files arrive one after another, each with
every connection (ADR 0290; the next starts as the one before ends, to keep the link full):
the first is whole, and sent to the client waiting for it, while the rest are still on their
way, instead of all of them landing together at the end. Any other download fetches them all
at once."""

import json
import urllib.request
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import HfApi

from devon_testhub import Catalogue, TestHub, run_test_hub
from tests.support.fixtures import cleared
from tests.support.hf_helpers import files_under, hub_bytes, source_for
from tests.support.hub_endpoint_support import served_vault

MIB = 1024 * 1024
MODEL = "bigco/In-Turn"
FIRST = "model-00001-of-00004.safetensors"
"""One byte larger than the other shards: the first fetched."""
SHARDS = [f"model-0000{n}-of-00004.safetensors" for n in range(1, 5)]


@pytest.fixture(scope="module")
def shard_hub() -> Iterator[TestHub]:
    catalogue = Catalogue.default().with_large_repo(MODEL, 8 * MIB + 1, shards=4)
    catalogue.warm()
    with run_test_hub(catalogue) as hub:
        yield hub


@pytest.fixture
def hub(shard_hub: TestHub) -> Iterator[TestHub]:
    yield from cleared(shard_hub)


def spans(hub: TestHub, path: str) -> tuple[float, float]:
    """When the hub got the first request for `path` and when it was done with the last."""
    records = [r for r in hub.stats.requests(path, "GET") if r.status in (200, 206)]
    assert records, f"{path} was never fetched"
    return min(r.ended_at - r.duration_s for r in records), max(r.ended_at for r in records)


def test_a_download_in_turn_fetches_its_large_files_one_after_another(
    hub: TestHub, tmp_path: Path
) -> None:
    source = source_for(hub, split_threshold=MIB, connections_per_file=4, large_files_in_turn=True)
    model = source.info(MODEL)

    source.download(model, model.files, str(tmp_path / "dest"))

    order = [spans(hub, path) for path in SHARDS]
    for (_, earlier_whole), (_, later_whole) in pairwise(order):
        assert earlier_whole <= later_whole  # whole in turn, largest first
    for (_, earlier_whole), _, (later_asked, _) in zip(order, order[1:], order[2:], strict=False):
        # A file starts once the one before has most of its bytes (its last connections go
        # to the next one): never two files before it.
        assert earlier_whole <= later_asked
    expected = {f.path: hub_bytes(hub, MODEL, f.path) for f in model.files}
    assert files_under(tmp_path / "dest") == expected


def test_an_ordinary_download_asks_for_every_large_file_at_once(
    hub: TestHub, tmp_path: Path
) -> None:
    """Unthrottled, one file at a time costs a download on a fast link (a LAN mirror) about
    a third of its speed (ADR 0290); a fleet host too asks its upstream for every file at
    once, or the upstream's link would sit idle between them."""
    hub.faults.set_bandwidth(4 * MIB)  # 2 s for the model: long enough to see the order
    source = source_for(hub, split_threshold=MIB, connections_per_file=4)
    model = source.info(MODEL)

    source.download(model, model.files, str(tmp_path / "dest"))

    asked = max(spans(hub, path)[0] for path in SHARDS)
    done = min(spans(hub, path)[1] for path in SHARDS)
    assert asked < done  # every shard asked for before any was whole


def _call(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request) as answer:  # noqa: S310
        result: dict[str, Any] = json.loads(answer.read())
        return result


def test_pull_through_sends_the_first_large_file_while_the_rest_still_arrive(
    hub: TestHub, tmp_path: Path
) -> None:
    """What a fleet's central does for its hosts: a client asking for a file of a model the
    pull is still fetching gets it once that file has landed, verified, not once the whole
    model has."""
    hub.faults.set_bandwidth(4 * MIB)  # the lab's internet link: 2 s for the model
    with served_vault(
        hub, tmp_path / "central", DEVON_HUB_PULL_THROUGH="1", DEVON_DOWNLOAD_SPLIT_SIZE="1mb"
    ) as central:
        commit = HfApi(endpoint=central.url, token=False).model_info(MODEL).sha
        job = _call(f"{central.url}/api/v1/downloads", {"model_id": MODEL, "wait": False})
        url = f"{central.url}/{MODEL}/resolve/{commit}/{FIRST}"
        with urllib.request.urlopen(url) as answer:  # noqa: S310
            body = answer.read()
            still = central.devon.download_jobs.get(job["id"])
            held = central.devon.get(MODEL)
        central.devon.download_jobs.wait(job["id"], 60)
        whole = central.devon.get(MODEL)

    assert body == hub_bytes(hub, MODEL, FIRST)
    assert not still.finished  # the pull was still fetching the other shards
    assert held is None
    assert whole is not None
    assert set(SHARDS) <= set(whole.files)
