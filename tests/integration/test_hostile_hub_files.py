"""A hostile Hub's files and listings (ADR 0203): a file is never written past its listed
size, on the single-stream path and the ranged one, and a listing with a hostile file name,
size or sha256 is a Hub error (502), never a 500 and never counted against the room."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devon_adapters.huggingface import HuggingFaceSource
from devon_app import Settings
from devon_core import DownloadFailed
from devon_http.asgi import create_app_from_settings
from tests.support.hostile_hub import (
    HostileHub,
    hostile_hub_fixture,
    json_answer,
    long_file,
    model_record,
    ranges_with_extra,
)
from tests.support.http_support import serving

MIB = 1024 * 1024
MODEL = "hostile/model"
SENDS = 200 * MIB
BUFFERS = 32 * MIB
"""What the Hub may have written into the two sockets' buffers before DEVON hung up."""
ANSWER_WITHIN_S = 120.0
"""Generous: the machine may be busy; the assertions are about what is answered."""


def list_file(hub: HostileHub, size: int) -> None:
    hub.answers[f"/api/models/{MODEL}"] = json_answer(model_record(MODEL, {"model.gguf": size}))


def download(hub: HostileHub, dest: Path, **options: Any) -> None:
    source = HuggingFaceSource(
        endpoint=hub.url, token=False, retry_delay=0.0, cache_ttl=0.0, **options
    )
    model = source.info(MODEL)
    source.download(model, model.files, str(dest))


def largest_file_under(root: Path) -> int:
    return max((p.stat().st_size for p in root.rglob("*") if p.is_file()), default=0)


SINGLE_STREAM = {
    "a Content-Length above the listed size stops the file before a byte is written": (
        SENDS,
        f"The Hub announced {SENDS} bytes of model.gguf of {MODEL}, more than the 1000 its "
        "listing says; none of them was written, run the download again",
    ),
    "bytes past the listed size stop the file at the first of them": (
        None,
        f"The Hub sent more of model.gguf of {MODEL} than the 1000 bytes its listing says; "
        "it was stopped at the first byte past them, none of which was written, run the "
        "download again",
    ),
}


@pytest.mark.parametrize(
    ("claimed", "message"), list(SINGLE_STREAM.values()), ids=list(SINGLE_STREAM)
)
def test_a_file_streamed_past_its_listed_size_is_stopped_with_nothing_written_past_it(
    hub: HostileHub, tmp_path: Path, claimed: int | None, message: str
) -> None:
    list_file(hub, 1000)
    hub.answers[f"/{MODEL}/resolve/"] = long_file(SENDS, claimed_length=claimed)
    with pytest.raises(DownloadFailed) as refused:
        download(hub, tmp_path / "dest")
    assert str(refused.value) == message
    assert largest_file_under(tmp_path / "dest") <= 1000
    assert sum(a.sent for a in hub.asked_for(f"/{MODEL}/resolve/")) < BUFFERS


def test_a_large_file_whose_server_ignores_ranges_and_announces_more_is_stopped(
    hub: HostileHub, tmp_path: Path
) -> None:
    list_file(hub, 3 * MIB)
    hub.answers[f"/{MODEL}/resolve/"] = long_file(SENDS, claimed_length=SENDS)
    with pytest.raises(DownloadFailed, match=f"announced {SENDS} bytes of model.gguf"):
        download(hub, tmp_path / "dest", split_threshold=MIB, connections_per_file=2)
    assert largest_file_under(tmp_path / "dest") <= 3 * MIB
    assert sum(a.sent for a in hub.asked_for(f"/{MODEL}/resolve/")) < BUFFERS


def test_ranges_answered_with_bytes_past_them_leave_nothing_past_the_listed_size(
    hub: HostileHub, tmp_path: Path
) -> None:
    list_file(hub, 3 * MIB)
    hub.answers[f"/{MODEL}/resolve/"] = ranges_with_extra(3 * MIB, extra=SENDS)
    with pytest.raises(DownloadFailed, match="nothing past them was kept"):
        download(hub, tmp_path / "dest", split_threshold=MIB, connections_per_file=2)
    assert largest_file_under(tmp_path / "dest") <= 3 * MIB
    assert sum(a.sent for a in hub.asked_for(f"/{MODEL}/resolve/")) < BUFFERS


HOSTILE_FILES = {
    "a NUL byte in a name": ({"model\0.gguf": 10}, r"'model\x00.gguf', which holds a control"),
    "an escape sequence": ({"\x1b[2Jmodel.gguf": 10}, "which holds a control character"),
    "a line break": ({"model\n.gguf": 10}, "which holds a control character"),
    "a path out of the model": ({"../../outside.gguf": 10}, "is not a relative path inside"),
    "an absolute path": ({"/etc/model.gguf": 10}, "is not a relative path inside"),
    "a negative size": ({"model.gguf": -1000}, "the size -1000 for 'model.gguf', which is not"),
    "an absurd size": ({"model.gguf": 2**70}, f"the size {2**70} for 'model.gguf', which is"),
}


@pytest.fixture
def base_url(hub: HostileHub, tmp_path: Path) -> Iterator[str]:
    settings = Settings(storage_path=tmp_path / "vault", hf_endpoint=hub.url, max_storage_bytes=1)
    with serving(create_app_from_settings(settings)) as url:
        yield url


@pytest.mark.parametrize(
    ("files", "problem"), list(HOSTILE_FILES.values()), ids=list(HOSTILE_FILES)
)
def test_a_hostile_listing_is_a_hub_error_for_info_and_download(
    hub: HostileHub, base_url: str, files: dict[str, int], problem: str
) -> None:
    hub.answers[f"/api/models/{MODEL}"] = json_answer(model_record(MODEL, files))
    info = httpx.get(f"{base_url}/api/v1/models/huggingface/{MODEL}", timeout=ANSWER_WITHIN_S)
    downloaded = httpx.post(
        f"{base_url}/api/v1/downloads", json={"model_id": MODEL}, timeout=ANSWER_WITHIN_S
    )
    for answer in (info, downloaded):
        # A 507 would mean the listing reached the room check (the quota is 1 byte).
        assert answer.status_code == 502, answer.text
        detail = answer.json()["detail"]
        assert detail.startswith(
            f"DEVON refused what Hugging Face at {hub.url} sent for model '{MODEL}': it listed "
        )
        assert problem in detail
    assert hub.asked_for(f"/{MODEL}/resolve/") == []


def test_a_listed_sha256_that_is_not_one_is_a_hub_error(hub: HostileHub, base_url: str) -> None:
    record = model_record(MODEL, {})
    record["siblings"] = [
        {
            "rfilename": "model.gguf",
            "size": 10,
            "lfs": {"size": 10, "sha256": "zz", "pointerSize": 130},
        }
    ]
    hub.answers[f"/api/models/{MODEL}"] = json_answer(record)
    info = httpx.get(f"{base_url}/api/v1/models/huggingface/{MODEL}", timeout=ANSWER_WITHIN_S)
    assert info.status_code == 502
    assert "the sha256 'zz' for 'model.gguf', which is not 64 hex digits" in info.json()["detail"]


def test_a_search_leaves_out_a_model_whose_listing_is_hostile(
    hub: HostileHub, base_url: str
) -> None:
    good, bad = "hostile/good", "hostile/bad"
    hub.answers["/api/models"] = json_answer(
        [model_record(good, {"a.gguf": 0}), model_record(bad, {"a.gguf": 0})]
    )
    hub.answers[f"/api/models/{good}"] = json_answer(model_record(good, {"a.gguf": 10}))
    hub.answers[f"/api/models/{bad}"] = json_answer(model_record(bad, {"a\0.gguf": 10}))
    found = httpx.get(f"{base_url}/api/v1/search", params={"query": "x"}, timeout=ANSWER_WITHIN_S)
    assert found.status_code == 200, found.text
    assert [m["model_id"] for m in found.json()["results"]] == [good]


__all__ = ["hostile_hub_fixture"]  # the fixture `hub`, used by the tests above
