"""A thin, typed client over huggingface_hub for the three things DEVON asks the Hub:
a page of the model list, one model's details, and a file's bytes.

Everything goes through huggingface_hub's shared HTTP session, headers (token, user agent)
and error classes, so `HF_ENDPOINT`, `HF_TOKEN`, `HF_HUB_OFFLINE` and a custom client factory
behave as huggingface_hub users expect. Two things are our own, on purpose: the list pager
(ADR 0020: huggingface_hub's sends no timeout and retries a dead Hub for ~23 s) and the
file stream (ADR 0021: resumable across attempts, hashed as it arrives).
"""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import httpx2
from huggingface_hub import (
    HfApi,
    ModelInfo,
    constants,
    get_session,
    hf_hub_url,
    hf_raise_for_status,
)
from huggingface_hub.utils import build_hf_headers  # type: ignore[attr-defined]

from devon_adapters.transfer.file_server import byte_headers
from devon_adapters.version import devon_version

Token = str | bool | None
"""A token as huggingface_hub takes it: a string, False for none, None for its default
(`HF_TOKEN`, then the token saved by `hf auth login`)."""

LIBRARY_NAME = "devon"


def model_info_from_json(item: Mapping[str, Any]) -> ModelInfo:
    """Build a `ModelInfo` from the Hub's JSON, exactly as huggingface_hub's own calls do."""
    fields = dict(item)
    fields.setdefault("siblings", None)
    return ModelInfo(**fields)  # type: ignore[no-untyped-call]


class HubClient:
    """The Hub at one endpoint, with one token."""

    def __init__(self, endpoint: str | None, token: Token, timeout: float) -> None:
        self.endpoint = (endpoint or constants.ENDPOINT).rstrip("/")
        self.timeout = timeout
        self._token = token
        self._headers: dict[str, str] | None = None
        self._api = HfApi(
            endpoint=self.endpoint,
            token=token,
            library_name=LIBRARY_NAME,
            library_version=devon_version(),
        )

    def headers(self) -> dict[str, str]:
        """Token and user agent, built once (huggingface_hub probes installed packages for
        the user agent, which costs more than a small file's transfer on loopback)."""
        if self._headers is None:
            self._headers = build_hf_headers(
                token=self._token, library_name=LIBRARY_NAME, library_version=devon_version()
            )
        return dict(self._headers)

    def list_pages(self, params: Sequence[tuple[str, str]]) -> Iterator[list[Mapping[str, Any]]]:
        """Pages of `/api/models` for `params`, following the `Link: rel="next"` cursor."""
        url: str | None = f"{self.endpoint}/api/models"
        query: tuple[tuple[str, str], ...] | None = tuple(params)
        headers = self.headers()
        while url is not None:
            response = get_session().get(url, params=query, headers=headers, timeout=self.timeout)
            hf_raise_for_status(response)
            page = response.json()
            if not isinstance(page, list) or not all(isinstance(i, dict) for i in page):
                raise ValueError(f"{url} answered {type(page).__name__}, not a list of models")
            yield page
            url = response.links.get("next", {}).get("url")
            query = None  # the next link carries the query

    def model_info(self, model_id: str, revision: str | None = None) -> ModelInfo:
        """One model with its files' sizes and LFS hashes."""
        return self._api.model_info(
            model_id, revision=revision, files_metadata=True, timeout=self.timeout
        )

    def file_url(self, model_id: str, path: str, revision: str) -> str:
        return hf_hub_url(model_id, path, revision=revision, endpoint=self.endpoint)

    @contextmanager
    def open_file(
        self, url: str, start: int, read_timeout: float, end: int | None = None
    ) -> Iterator[httpx2.Response]:
        """A streamed GET of a file from byte `start` on, up to byte `end` (exclusive) when
        given: a `Range` request when `start` > 0 or `end` is given.

        The answer may be 200 (whole file) even when a range was asked for, or a 206 of other
        bytes than asked; the caller checks. Redirects (to a CDN) are followed; httpx drops
        the token when the host changes."""
        headers = self.headers() | byte_headers(start, end)
        timeout = httpx2.Timeout(self.timeout, read=read_timeout)
        with get_session().stream("GET", url, headers=headers, timeout=timeout) as response:
            if response.status_code >= 400:
                response.read()
            hf_raise_for_status(response)
            yield response
