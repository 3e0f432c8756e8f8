"""Where a Hub may redirect DEVON (ADR 0202). The Hub that must not reach loopback lives in
a network namespace of the test's own, so its endpoint is not loopback; every address a
test redirects to or connects to is one of the test's own hosts."""

import ipaddress
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from devon_adapters.huggingface import HuggingFaceSource
from devon_adapters.outbound import RedirectRefused, RedirectRule
from devon_adapters.outbound.redirects import Address
from devon_app import Settings
from devon_core import DownloadFailed, SourceUnavailable
from tests.support.hostile_hub import (
    HostileHub,
    file_answer,
    json_answer,
    model_record,
    redirect,
    serving_hostile,
)
from tests.support.network_namespace import listener_in, namespace_host

MODEL = "hostile/model"
CONTENT = b"weights that live on an internal service" * 10
TOKEN = "hf_do_not_leak"


@pytest.fixture
def remote_hub() -> Iterator[HostileHub]:
    """A hostile Hub on a private address in a namespace of its own (not loopback)."""
    with namespace_host() as (namespace, address):
        listener = listener_in(namespace, address)
        with serving_hostile(listener) as hub:
            hub.answers[f"/api/models/{MODEL}"] = json_answer(
                model_record(MODEL, {"model.gguf": len(CONTENT)})
            )
            yield hub


@pytest.fixture
def internal() -> Iterator[HostileHub]:
    """A service on this machine's loopback that no Hub elsewhere should make DEVON call."""
    with serving_hostile() as service:
        service.answers["/internal"] = file_answer(CONTENT)
        yield service


def source_on(hub: HostileHub, **options: Any) -> HuggingFaceSource:
    return HuggingFaceSource(
        endpoint=hub.url, token=TOKEN, retry_delay=0.0, cache_ttl=0.0, **options
    )


def download(source: HuggingFaceSource, dest: Path) -> None:
    model = source.info(MODEL)
    source.download(model, model.files, str(dest))


def test_a_hub_off_loopback_cannot_redirect_a_file_to_loopback(
    remote_hub: HostileHub, internal: HostileHub, tmp_path: Path
) -> None:
    target = f"{internal.url}/internal"
    remote_hub.answers[f"/{MODEL}/resolve/"] = redirect(target)
    with pytest.raises(DownloadFailed) as refused:
        download(source_on(remote_hub), tmp_path / "dest")
    assert (
        f"it redirected to {target}, a loopback address 127.0.0.1; DEVON follows redirects "
        "only to public addresses or to the kind of address the source's endpoint has"
    ) in str(refused.value)
    assert internal.asked == []
    assert not (tmp_path / "dest" / "model.gguf").exists()


def test_a_hub_off_loopback_cannot_redirect_its_api_to_loopback(
    remote_hub: HostileHub, internal: HostileHub
) -> None:
    remote_hub.answers[f"/api/models/{MODEL}"] = redirect(f"{internal.url}/internal")
    with pytest.raises(SourceUnavailable) as refused:
        source_on(remote_hub).info(MODEL)
    assert str(refused.value).startswith(
        f"DEVON refused what Hugging Face at {remote_hub.url} sent for model '{MODEL}': it "
        f"redirected to {internal.url}/internal, a loopback address 127.0.0.1"
    )
    assert internal.asked == []


def test_a_redirect_to_the_hubs_own_host_is_followed(
    remote_hub: HostileHub, tmp_path: Path
) -> None:
    remote_hub.answers[f"/{MODEL}/resolve/"] = redirect(f"{remote_hub.url}/cdn/model.gguf")
    remote_hub.answers["/cdn/"] = file_answer(CONTENT)
    download(source_on(remote_hub), tmp_path / "dest")
    assert (tmp_path / "dest" / "model.gguf").read_bytes() == CONTENT


def test_a_host_in_redirect_hosts_may_be_redirected_to_and_never_gets_the_token(
    remote_hub: HostileHub, internal: HostileHub, tmp_path: Path
) -> None:
    remote_hub.answers[f"/{MODEL}/resolve/"] = redirect(f"{internal.url}/internal")
    settings = Settings.from_env(
        {
            "HF_ENDPOINT": remote_hub.url,
            "HF_TOKEN": TOKEN,
            "DEVON_REDIRECT_HOSTS": "cdn.lan, 127.0.0.1",
            "DEVON_CONFIG_PATH": "",
        }
    )
    download(HuggingFaceSource.from_settings(settings), tmp_path / "dest")
    assert (tmp_path / "dest" / "model.gguf").read_bytes() == CONTENT
    assert [a.path for a in internal.asked] == ["/internal"]
    assert "authorization" not in internal.asked[0].headers
    assert remote_hub.asked[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_a_local_mirror_may_redirect_on_loopback_and_the_token_stays_with_it(
    tmp_path: Path,
) -> None:
    with serving_hostile() as mirror, serving_hostile(host="127.0.0.2") as storage:
        mirror.answers[f"/api/models/{MODEL}"] = json_answer(
            model_record(MODEL, {"model.gguf": len(CONTENT)})
        )
        mirror.answers[f"/{MODEL}/resolve/"] = redirect(f"{storage.url}/blobs/model.gguf")
        storage.answers["/blobs/"] = file_answer(CONTENT)
        download(source_on(mirror), tmp_path / "dest")
    assert (tmp_path / "dest" / "model.gguf").read_bytes() == CONTENT
    assert "authorization" not in storage.asked[0].headers


# ---- the rule itself, with the addresses a name resolves to given ------------------------


def rule(endpoint: str, *extra: str) -> RedirectRule:
    addresses = {
        "hub.example": "18.0.0.1",
        "cdn.example": "18.0.0.2",
        "mirror.lan": "10.0.0.5",
        "store.lan": "10.0.0.6",
        "metadata.example": "169.254.169.254",
        "sneaky.example": "127.0.0.1",
    }

    def resolve(host: str) -> list[Address]:
        text = addresses.get(host, host)
        try:
            return [ipaddress.ip_address(text)]
        except ValueError:
            return []

    return RedirectRule(endpoint, extra, resolver=resolve)


ALLOWED = [
    ("https://hub.example", "https://cdn.example/f"),
    ("https://hub.example", "http://hub.example:8080/f"),
    ("http://mirror.lan", "http://store.lan/f"),
    ("http://127.0.0.1:8765", "http://127.0.0.2/f"),
    ("https://hub.example", "https://unresolvable.example/f"),
]
REFUSED = [
    ("https://hub.example", "http://127.0.0.1/f", "a loopback address"),
    ("https://hub.example", "http://sneaky.example/f", "a loopback address sneaky.example"),
    ("https://hub.example", "http://[::1]/f", "a loopback address"),
    ("https://hub.example", "http://[::ffff:127.0.0.1]/f", "a loopback address"),
    ("https://hub.example", "http://0.0.0.0/f", "a loopback address"),
    ("https://hub.example", "http://metadata.example/f", "a link-local address"),
    ("https://hub.example", "http://10.1.2.3/f", "a private address"),
    ("http://mirror.lan", "http://127.0.0.1/f", "a loopback address"),
    ("https://hub.example", "file:///etc/passwd", "not an http(s) address"),
]


@pytest.mark.parametrize(("endpoint", "target"), ALLOWED)
def test_the_rule_allows_public_same_host_and_same_kind_targets(endpoint: str, target: str) -> None:
    rule(endpoint).check(httpx2.URL(target))


@pytest.mark.parametrize(("endpoint", "target", "kind"), REFUSED)
def test_the_rule_refuses_other_kinds_of_address(endpoint: str, target: str, kind: str) -> None:
    with pytest.raises(RedirectRefused, match=re.escape(kind)):
        rule(endpoint).check(httpx2.URL(target))


def test_redirect_hosts_lists_names_addresses_and_networks() -> None:
    listed = rule("https://hub.example", "sneaky.example", "169.254.169.254", "10.0.0.0/8")
    for target in ("http://sneaky.example/f", "http://metadata.example/f", "http://10.9.9.9/f"):
        listed.check(httpx2.URL(target))
