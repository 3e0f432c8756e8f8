"""The one place where huggingface_hub and HTTP failures become DEVON's core errors.

| What happened                                          | Core error        |
|--------------------------------------------------------|-------------------|
| gated repo (`GatedRepoError`), other 401/403           | Forbidden         |
| unknown repo, revision or file                         | NotFound          |
| timeout, connection refused/reset, 5xx, 429, garbage   | SourceUnavailable |
| an answer or redirect DEVON refuses (too large, too     | SourceUnavailable |
| slow, a redirect the rule forbids: `outbound`)          |                   |
| any of the last two rows once a download has started   | DownloadFailed    |
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from devon_adapters.huggingface.metadata import RefusedRecord
from devon_adapters.outbound import OutboundRefusal
from devon_core.errors import (
    DevonError,
    DownloadFailed,
    Forbidden,
    NotFound,
    SourceUnavailable,
)

ACCESS_HINT = (
    "set HF_TOKEN (or pass token=...) to a Hugging Face token that has access, "
    "and accept the model's terms on its Hub page if it is gated"
)

# Failures that mean "the Hub could not be talked to" rather than "the Hub said no".
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    httpx2.HTTPError,
    OfflineModeIsEnabled,
    ConnectionError,
    TimeoutError,
)
# What a garbled answer raises while it is decoded or turned into hub objects.
GARBAGE_ERRORS: tuple[type[Exception], ...] = (
    json.JSONDecodeError,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
)


class RefusedModel(SourceUnavailable):
    """The Hub's record of one model lists a file DEVON cannot take: a Hub error like any
    answer DEVON refuses (502), and a search leaves that model out."""


HANDLED: tuple[type[Exception], ...] = (
    HfHubHTTPError,
    OutboundRefusal,
    httpx2.HTTPError,
    OfflineModeIsEnabled,
    ConnectionError,
    TimeoutError,
    *GARBAGE_ERRORS,
)


def translate(
    error: BaseException,
    *,
    endpoint: str,
    model_id: str | None = None,
    downloading: bool = False,
) -> DevonError:
    """The core error for `error`, raised while talking to the Hub at `endpoint`.

    `downloading` turns "unreachable" into DownloadFailed: bytes may already be in staging,
    and the message says that running the download again resumes it."""
    subject = f"model {model_id!r}" if model_id else "the request"
    if isinstance(error, DevonError):
        return error
    if isinstance(error, GatedRepoError) or (
        isinstance(error, HfHubHTTPError)
        and _status(error) in (401, 403)
        and not isinstance(error, RepositoryNotFoundError)
    ):
        return Forbidden(
            f"Hugging Face refused access to {subject} (gated or private): {ACCESS_HINT}"
        )
    if isinstance(error, RepositoryNotFoundError):
        return NotFound(
            f"Model {model_id!r} was not found on Hugging Face ({endpoint}); if it is private, "
            "set HF_TOKEN to a token that can see it"
        )
    if isinstance(error, RevisionNotFoundError):
        return NotFound(f"The requested revision of {subject} no longer exists on {endpoint}")
    if isinstance(error, EntryNotFoundError):
        return NotFound(f"A file of {subject} is no longer on {endpoint}: {_first_line(error)}")
    reason = _reason(error)
    if isinstance(error, OutboundRefusal) and not downloading:
        refused = RefusedModel if isinstance(error, RefusedRecord) else SourceUnavailable
        return refused(
            f"DEVON refused what Hugging Face at {endpoint} sent for {subject}: {reason}"
        )
    if downloading:
        return DownloadFailed(
            f"Download of {subject} from {endpoint} failed ({reason}); what arrived is kept, "
            "run the download again to resume"
        )
    return SourceUnavailable(f"Hugging Face at {endpoint} is unavailable: {reason}")


def _status(error: HfHubHTTPError) -> int | None:
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None)


def _reason(error: BaseException) -> str:
    if isinstance(error, HfHubHTTPError):
        status = _status(error)
        return f"HTTP {status}" if status else _first_line(error)
    if isinstance(error, OfflineModeIsEnabled):
        return "HF_HUB_OFFLINE is set"
    if isinstance(error, OutboundRefusal):
        return str(error)
    if isinstance(error, httpx2.TimeoutException | TimeoutError):
        return "timed out"
    if isinstance(error, TRANSPORT_ERRORS):
        return f"connection failed ({type(error).__name__}: {_first_line(error)})"
    if isinstance(error, GARBAGE_ERRORS):
        return f"it answered something that is not the Hub's API ({type(error).__name__})"
    return f"{type(error).__name__}: {_first_line(error)}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@contextmanager
def hub_errors(endpoint: str, model_id: str | None = None) -> Iterator[None]:
    """Run a block of Hub calls; anything the Hub or the network raises leaves as a core
    error (SourceUnavailable for failures that are not about the model)."""
    try:
        yield
    except DevonError:
        raise
    except HANDLED as error:
        raise translate(error, endpoint=endpoint, model_id=model_id) from error
