"""`FileServer`: what the downloader needs of a source that serves model files over HTTP
(ADR 0197). The source knows its URLs, headers, session and error classes; the downloader
knows resuming, ranges, retries, hashing and staging. Expected sizes and sha256 come with
each `RemoteFile`."""

from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

import httpx2

from devon_core.errors import DevonError


class FileServer(Protocol):
    """Where one source's files are fetched from.

    Errors: `open_file` raises one of `http_errors` for an error answer (4xx, 5xx), and
    httpx2's errors for a failed connection; a body that stops early raises httpx2's
    `TransportError` while it is read (or simply ends). `transient` says which of those
    are worth asking again; the rest leave through `download_error`."""

    @property
    def name(self) -> str:
        """How messages name the server mid-sentence ("the Hub"); at a sentence's start its
        first letter is capitalised."""
        ...

    @property
    def http_errors(self) -> tuple[type[Exception], ...]:
        """What `open_file` raises for an error answer (for a server reached with plain
        httpx2, `httpx2.HTTPStatusError`)."""
        ...

    def file_url(self, model_id: str, path: str, revision: str | None) -> str:
        """Where file `path` of `model_id` at `revision` (None: the server's default) is."""
        ...

    def open_file(
        self, url: str, start: int, read_timeout: float, end: int | None = None
    ) -> AbstractContextManager[httpx2.Response]:
        """A streamed GET of `url` from byte `start` on, up to byte `end` (exclusive) when
        given, with the headers `byte_headers(start, end)` on top of the server's own. The
        answer may still be a 200 of the whole file or a 206 of other bytes: the downloader
        checks."""
        ...

    def transient(self, error: Exception) -> bool:
        """Whether a failure is worth a retry (a dropped connection, a timeout, a 5xx)."""
        ...

    def describe_failure(self, error: Exception) -> str:
        """A failure in a few words, for the notice before a retry ("the Hub answered HTTP
        503"); `describe_exception` describes one this server has nothing special to say
        about."""
        ...

    def download_error(self, error: Exception, model_id: str) -> DevonError:
        """The core error a failure that ends the download of `model_id` leaves as (what
        arrived stays in staging for a resume)."""
        ...


@runtime_checkable
class MirroredFileServer(Protocol):
    """A `FileServer` that may take a file's bytes from mirrors of its origin (a fleet
    host's peers, ADR 0282): a file that fails its check is fetched once more, from the
    origin alone."""

    def from_origin(self, url: str) -> AbstractContextManager[None]:
        """Within the context, file `url` is fetched from the origin only."""
        ...


def byte_headers(start: int, end: int | None = None) -> dict[str, str]:
    """Headers asking for the file's bytes from `start` on, up to `end` (exclusive) when
    given: a `Range` only when `start` > 0 or `end` is given."""
    headers = {"Accept-Encoding": "identity"}  # byte offsets are offsets in the file
    if end is not None:
        headers["Range"] = f"bytes={start}-{end - 1}"
    elif start > 0:
        headers["Range"] = f"bytes={start}-"
    return headers


def sentence_start(name: str) -> str:
    """`name` at the start of a sentence."""
    return name[:1].upper() + name[1:]


def describe_exception(error: Exception) -> str:
    """Any failure in a few words: its type and the start of its message."""
    text = " ".join(str(error).split())[:80]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
