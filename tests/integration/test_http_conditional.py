"""Read endpoints served from prepared bytes: bodies byte for byte what the wire encoding
gives, ETags that change exactly when the body does, 304 without a body, and gzip only when
asked for. Over a real vault on disk (the change counter is the index's)."""

import gzip
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from litestar.serialization import encode_json
from litestar.testing import TestClient

from devon_adapters import DiskModelStore
from devon_core import Devon, ModelList
from devon_http import create_app, wire
from devon_http.prepared import COMPRESS_FROM_BYTES
from tests.support.fakes import FakeSource, SettableClock
from tests.support.http_support import catalogue
from tests.support.vault_builders import T0, put_model

Client = TestClient[Any]
PLAIN = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}
ODD_METADATA = {
    "revision": "a" * 40,
    "parameter_count": 7.61,
    "format": ["safetensors"],
    "license": "näive-licence ✓",
    "nested": {"z": [1, 2.5, None, True], "a": 'quote " backslash \\ tab \t'},
    "big": 10**15,
    "huge": -(10**20),
    "tiny": 5e-324,
}


@pytest.fixture
def source() -> FakeSource:
    return FakeSource(catalogue())


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(T0 + timedelta(days=3))


@pytest.fixture
def devon(tmp_path: Path, source: FakeSource, clock: SettableClock) -> Iterator[Devon]:
    store = DiskModelStore(tmp_path / "vault")
    for i in range(40):  # large enough a list to be compressed
        put_model(store, f"acme/widget-{i:02d}", metadata=ODD_METADATA if i % 2 else {})
    put_model(store, "Qwen/Qwen2.5-7B-Instruct")
    yield Devon(store=store, clock=clock, source=source)
    store.close()


@pytest.fixture
def client(devon: Devon) -> Iterator[Client]:
    with TestClient(create_app(devon)) as test_client:
        yield test_client


def raw(client: Client, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and the body bytes as sent (not decompressed)."""
    with client.stream("GET", path, headers=headers) as response:
        body = b"".join(response.iter_raw())
        return response.status_code, dict(response.headers), body


def listing_encoded(devon: Devon) -> bytes:
    return encode_json(wire.to_wire(ModelList(tuple(devon.list())), wire.ModelList))


def test_model_list_body_is_byte_identical_to_the_wire_encoding(
    client: Client, devon: Devon
) -> None:
    status, _, body = raw(client, "/api/v1/models", PLAIN)
    assert status == 200
    assert body == listing_encoded(devon)


def test_status_body_is_byte_identical_to_the_wire_encoding(client: Client, devon: Devon) -> None:
    status, _, body = raw(client, "/api/v1/status", PLAIN)
    assert status == 200
    assert body == encode_json(wire.to_wire(devon.status(), wire.Status))


@pytest.mark.parametrize("export_format", ["kitt", "json"])
def test_export_body_is_byte_identical_to_the_wire_encoding(
    client: Client, devon: Devon, export_format: str
) -> None:
    response = client.post("/api/v1/export", json={"format": export_format}, headers=PLAIN)
    assert response.status_code == 200
    assert response.content == encode_json(wire.export_to_wire(devon.export(export_format)))
    assert "etag" not in response.headers


@pytest.mark.parametrize("path", ["/api/v1/models", "/api/v1/status"])
def test_if_none_match_with_the_current_tag_answers_304_without_a_body(
    client: Client, path: str
) -> None:
    first = client.get(path, headers=PLAIN)
    tag = first.headers["etag"]
    status, headers, body = raw(client, path, PLAIN | {"If-None-Match": tag})
    assert (status, body) == (304, b"")
    assert headers["etag"] == tag


@pytest.mark.parametrize("path", ["/api/v1/models", "/api/v1/status"])
def test_if_none_match_with_an_old_tag_answers_the_full_body(
    client: Client, devon: Devon, path: str
) -> None:
    old = client.get(path, headers=PLAIN).headers["etag"]
    devon.remove("acme/widget-00")
    response = client.get(path, headers=PLAIN | {"If-None-Match": old})
    assert response.status_code == 200
    assert response.headers["etag"] != old
    assert b"acme/widget-00" not in response.content


def test_list_tag_changes_when_a_model_is_marked_used(client: Client, devon: Devon) -> None:
    before = client.get("/api/v1/models", headers=PLAIN)
    devon.info("acme/widget-01")  # marks it used: last_used changes in the listing
    after = client.get("/api/v1/models", headers=PLAIN)
    assert after.headers["etag"] != before.headers["etag"]
    assert after.content == listing_encoded(devon)


def test_tag_stays_when_the_vault_is_rewritten_with_the_same_content(
    client: Client, devon: Devon
) -> None:
    before = client.get("/api/v1/models", headers=PLAIN).headers["etag"]
    store = devon.store
    assert isinstance(store, DiskModelStore)
    counter = store.change_counter()
    store.rebuild_index()  # writes every row again, unchanged
    assert store.change_counter() > counter
    assert client.get("/api/v1/models", headers=PLAIN).headers["etag"] == before


def test_a_filtered_list_with_the_same_body_as_the_full_list_shares_its_tag(client: Client) -> None:
    full = client.get("/api/v1/models", headers=PLAIN)
    filtered = client.get("/api/v1/models?source=huggingface", headers=PLAIN)
    assert filtered.content == full.content  # one source in this vault: the same body...
    assert filtered.headers["etag"] == full.headers["etag"]  # ...so the same tag


def test_large_body_is_gzipped_when_the_client_accepts_gzip(client: Client, devon: Devon) -> None:
    status, headers, body = raw(client, "/api/v1/models", GZIP)
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert "accept-encoding" in headers["vary"].lower()
    assert gzip.decompress(body) == listing_encoded(devon)
    assert len(body) < len(listing_encoded(devon))


def test_body_is_plain_without_accept_encoding(client: Client, devon: Devon) -> None:
    status, headers, body = raw(client, "/api/v1/models", {"Accept-Encoding": ""})
    assert status == 200
    assert "content-encoding" not in headers
    assert body == listing_encoded(devon)


def test_gzip_refused_by_q_zero_gives_the_plain_body(client: Client, devon: Devon) -> None:
    _, headers, body = raw(client, "/api/v1/models", {"Accept-Encoding": "gzip;q=0, *"})
    assert "content-encoding" not in headers
    assert body == listing_encoded(devon)


def test_small_body_is_never_compressed(client: Client) -> None:
    _, headers, body = raw(client, "/api/v1/status", GZIP)
    assert len(body) < COMPRESS_FROM_BYTES
    assert "content-encoding" not in headers


def test_gzip_and_plain_forms_carry_distinct_tags_and_each_revalidates(client: Client) -> None:
    plain_tag = client.get("/api/v1/models", headers=PLAIN).headers["etag"]
    gzip_tag = raw(client, "/api/v1/models", GZIP)[1]["etag"]
    assert plain_tag != gzip_tag
    for tag in (plain_tag, gzip_tag, f"W/{plain_tag}"):
        status, _, body = raw(client, "/api/v1/models", GZIP | {"If-None-Match": tag})
        assert (status, body) == (304, b"")


def test_gzip_form_of_an_unchanged_vault_is_the_same_bytes(client: Client) -> None:
    first = raw(client, "/api/v1/models", GZIP)[2]
    second = raw(client, "/api/v1/models", GZIP)[2]
    assert first == second


def test_export_reflects_a_change_made_since_the_last_export(client: Client, devon: Devon) -> None:
    before = client.post("/api/v1/export", json={"format": "kitt"}).json()["count"]
    devon.remove("acme/widget-03")
    after = client.post("/api/v1/export", json={"format": "kitt"}).json()
    assert after["count"] == before - 1
    assert not any(path.endswith("widget-03") for path in after["content"])


# GET /api/v1/models/{source}/{model_id}

INFO = "/api/v1/models/huggingface/Qwen/Qwen2.5-7B-Instruct"


def test_info_carries_a_tag_and_its_body_is_the_wire_encoding(client: Client) -> None:
    response = client.get(INFO, headers=PLAIN)
    assert response.status_code == 200
    assert response.headers["etag"]
    assert response.json()["local"]["last_used"] is not None


def test_info_revalidated_with_the_current_tag_is_304_and_does_not_mark_it_used(
    client: Client, devon: Devon, clock: SettableClock
) -> None:
    tag = client.get(INFO, headers=PLAIN).headers["etag"]
    used = devon.get("Qwen/Qwen2.5-7B-Instruct")
    clock.advance(hours=1)
    status, headers, body = raw(client, INFO, PLAIN | {"If-None-Match": tag})
    assert (status, body, headers["etag"]) == (304, b"", tag)
    assert devon.get("Qwen/Qwen2.5-7B-Instruct") == used


def test_info_tag_changes_when_the_model_is_used_by_someone_else(
    client: Client, devon: Devon, clock: SettableClock
) -> None:
    tag = client.get(INFO, headers=PLAIN).headers["etag"]
    clock.advance(hours=1)
    devon.info("Qwen/Qwen2.5-7B-Instruct")  # another user: last_used moves
    clock.advance(hours=1)
    response = client.get(INFO, headers=PLAIN | {"If-None-Match": tag})
    assert response.status_code == 200
    assert response.headers["etag"] != tag
    assert response.json()["local"]["last_used"] == "2025-02-15T16:30:00.123456+00:00"


def test_info_tag_changes_when_only_the_remote_description_changes(
    client: Client, source: FakeSource
) -> None:
    tag = client.get(INFO, headers=PLAIN).headers["etag"]
    qwen = source.catalogue["Qwen/Qwen2.5-7B-Instruct"]
    source.catalogue[qwen.model_id] = attrs.evolve(qwen, likes=qwen.likes + 1)
    response = client.get(INFO, headers=PLAIN | {"If-None-Match": tag})
    assert response.status_code == 200
    assert response.json()["remote"]["likes"] == qwen.likes + 1


def test_status_shows_bytes_a_download_left_in_staging_at_once_and_changes_its_tag(
    client: Client, devon: Devon
) -> None:
    before = client.get("/api/v1/status", headers=PLAIN)
    staging = devon.store.stage("huggingface", "acme/partial-model")
    (Path(staging.path) / "model.safetensors.part").write_bytes(b"p" * 4096)

    after = client.get("/api/v1/status", headers={**PLAIN, "If-None-Match": before.headers["etag"]})

    assert after.status_code == 200
    assert after.json()["staging_bytes"] == before.json()["staging_bytes"] + 4096
    assert after.headers["etag"] != before.headers["etag"]


def test_status_returns_to_its_earlier_answer_and_tag_when_staging_is_emptied(
    client: Client, devon: Devon
) -> None:
    before = client.get("/api/v1/status", headers=PLAIN)
    staging = devon.store.stage("huggingface", "acme/partial-model")
    partial = Path(staging.path) / "model.safetensors.part"
    partial.write_bytes(b"p" * 4096)
    client.get("/api/v1/status", headers=PLAIN)
    partial.unlink()

    after = client.get("/api/v1/status", headers=PLAIN)

    assert after.json()["staging_bytes"] == before.json()["staging_bytes"]
    assert after.content == before.content
    assert after.headers["etag"] == before.headers["etag"]
