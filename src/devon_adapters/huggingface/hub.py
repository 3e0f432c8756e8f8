"""A thin, typed client over huggingface_hub for the three things DEVON asks the Hub:
a page of the model list, one model's details, and a file's bytes.

Everything goes through huggingface_hub's shared HTTP session, headers (token, user agent)
and error classes, so `HF_ENDPOINT`, `HF_TOKEN`, `HF_HUB_OFFLINE` and a custom client factory
behave as huggingface_hub users expect. The requests are our own, on purpose: the list pager
(ADR 0020: huggingface_hub's sends no timeout and retries a dead Hub for ~23 s), the file
stream (ADR 0021: resumable across attempts, hashed as it arrives), and every answer that
is not a file read within a byte cap and a deadline, cut when its caller stops waiting, its
redirects followed only where the rule allows (`devon_adapters.outbound`, ADR 0200, 0202).
"""

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import httpx2
from huggingface_hub import (
    ModelInfo,
    constants,
    get_session,
    hf_hub_url,
    hf_raise_for_status,
)
from huggingface_hub.utils import build_hf_headers  # type: ignore[attr-defined]

from devon_adapters.installed import devon_version
from devon_adapters.outbound import (
    AnswerLimits,
    RedirectRefused,
    RedirectRule,
    open_answer,
    read_answer,
)
from devon_adapters.outbound.answers import AnswerTooLarge, decoding, refuse_dense_json
from devon_adapters.outbound.requests import error_copy
from devon_adapters.transfer.file_server import byte_headers
from devon_core.stopping import CallStop

Token = str | bool | None
"""A token as huggingface_hub takes it: a string, False for none, None for its default
(`HF_TOKEN`, then the token saved by `hf auth login`)."""

LIBRARY_NAME = "devon"
BYTES_PER_LISTED_FILE = 400
"""A model record may list one file per this many bytes of the answer cap (10,485 at 4
MiB; a real file's entry takes 100 to 250 bytes): what decoding and keeping one record
costs stays bounded whatever its entries look like."""


def model_info_from_json(item: Mapping[str, Any]) -> ModelInfo:
    """Build a `ModelInfo` from the Hub's JSON, exactly as huggingface_hub's own calls do."""
    fields = dict(item)
    fields.setdefault("siblings", None)
    return ModelInfo(**fields)  # type: ignore[no-untyped-call]


def _refuse_elsewhere(url: httpx2.URL, endpoint: httpx2.URL) -> None:
    """The list's next page must be on the Hub itself: its query is sent with the token."""
    if url.origin != endpoint.origin:
        raise RedirectRefused(
            f"its next page is at {url.scheme}://{url.netloc.decode()}, not on the Hub itself"
        )


class HubClient:
    """The Hub at one endpoint, with one token. `limits` bound every answer that is not a
    file; `redirect_hosts` are hosts a redirect may lead to besides those the rule allows."""

    def __init__(
        self,
        endpoint: str | None,
        token: Token,
        timeout: float,
        limits: AnswerLimits | None = None,
        redirect_hosts: Sequence[str] = (),
    ) -> None:
        self.endpoint = (endpoint or constants.ENDPOINT).rstrip("/")
        self.timeout = timeout
        self.limits = limits or AnswerLimits()
        self._token = token
        self._headers: dict[str, str] | None = None
        self._redirects = RedirectRule(self.endpoint, redirect_hosts)

    def headers(self) -> dict[str, str]:
        """Token and user agent, built once (huggingface_hub probes installed packages for
        the user agent, which costs more than a small file's transfer on loopback)."""
        if self._headers is None:
            self._headers = build_hf_headers(
                token=self._token, library_name=LIBRARY_NAME, library_version=devon_version()
            )
        return dict(self._headers)

    def list_pages(
        self, params: Sequence[tuple[str, str]], stop: CallStop | None = None
    ) -> Iterator[list[Mapping[str, Any]]]:
        """Pages of `/api/models` for `params`, following the `Link: rel="next"` cursor (only
        on the endpoint itself: the token goes nowhere else)."""
        url: str | None = f"{self.endpoint}/api/models"
        query: tuple[tuple[str, str], ...] | None = tuple(params)
        while url is not None:
            response = self._read(url, query, stop)
            refuse_dense_json(response.content, self.limits.max_bytes)
            with decoding(len(response.content)):
                page = json.loads(response.content)
            if not isinstance(page, list) or not all(isinstance(i, dict) for i in page):
                raise ValueError(f"{url} answered {type(page).__name__}, not a list of models")
            yield page
            url = response.links.get("next", {}).get("url")
            if url is not None:
                _refuse_elsewhere(httpx2.URL(url), httpx2.URL(self.endpoint))
            query = None  # the next link carries the query

    def model_info(
        self, model_id: str, revision: str | None = None, stop: CallStop | None = None
    ) -> ModelInfo:
        """One model with its files' sizes and LFS hashes."""
        url = f"{self.endpoint}/api/models/{model_id}"
        if revision is not None:
            url += f"/revision/{quote(revision, safe='')}"
        body = self._read(url, (("blobs", "true"),), stop).content
        refuse_dense_json(body, self.limits.max_bytes)
        most = self.limits.max_bytes // BYTES_PER_LISTED_FILE
        if body.count(b'"rfilename"') > most:  # counted before a single object is made
            raise AnswerTooLarge(
                f"it listed more than {most} files for one model (one per "
                f"{BYTES_PER_LISTED_FILE} bytes of DEVON_MAX_SOURCE_ANSWER)"
            )
        with decoding(len(body)):
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError(f"{url} answered {type(data).__name__}, not a model")
            return model_info_from_json(data)

    def _read(
        self, url: str, params: Sequence[tuple[str, str]] | None, stop: CallStop | None
    ) -> httpx2.Response:
        response = read_answer(
            get_session(),
            url,
            headers=self.headers(),
            timeout=httpx2.Timeout(self.timeout),
            rule=self._redirects,
            limits=self.limits,
            params=params,
            stop=stop,
        )
        hf_raise_for_status(response)
        return response

    def file_url(self, model_id: str, path: str, revision: str) -> str:
        return hf_hub_url(model_id, path, revision=revision, endpoint=self.endpoint)

    @contextmanager
    def open_file(
        self,
        url: str,
        start: int,
        read_timeout: float,
        end: int | None = None,
        stop: CallStop | None = None,
    ) -> Iterator[httpx2.Response]:
        """A streamed GET of a file from byte `start` on, up to byte `end` (exclusive) when
        given: a `Range` request when `start` > 0 or `end` is given; its connection is cut
        when `stop` is set, also while it waits for the answer.

        The answer may be 200 (whole file) even when a range was asked for, or a 206 of other
        bytes than asked; the caller checks. Redirects (to a CDN) are followed where the rule
        allows; httpx drops the token when the host changes."""
        headers = self.headers() | byte_headers(start, end)
        timeout = httpx2.Timeout(self.timeout, read=read_timeout)
        with open_answer(
            get_session(), url, headers=headers, timeout=timeout, rule=self._redirects, stop=stop
        ) as response:
            if response.status_code >= 400:
                hf_raise_for_status(error_copy(response))
            yield response
