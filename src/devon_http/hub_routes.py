"""The Hugging Face Hub's model API over the vault (ADR 0215; docs/hub-endpoint.md).

`serve_hub_paths(router, ...)` answers the Hub's paths (`devon_http.hub_paths`) beside
DEVON's own routes, so that `HF_ENDPOINT=http://devon:8000` points any Hugging Face client
at the vault: model info, the file tree, and files with `Range`, the Hub's headers and its
error codes (`X-Error-Code`), which the clients turn into their own exceptions. Every rule
(revisions, which files, pull-through, use) is `Devon.hub_model` / `Devon.hub_file`'s; this
module parses, calls them off the event loop, and writes the Hub's wire form.
"""

import hashlib
import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import parse_qs, quote

import anyio.to_thread
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from devon_core import Devon
from devon_core.errors import DevonError, Forbidden, InvalidInput, NotFound
from devon_core.fleet import LandedFile
from devon_core.hub_protocol import (
    EntryNotFound,
    LandedInStaging,
    RevisionNotFound,
    ServedFile,
    ServedModel,
    Unsatisfiable,
    requested_span,
    tree,
)
from devon_core.models import author_of
from devon_http.auth import UNAUTHORIZED_DETAIL, is_authorized
from devon_http.errors import INTERNAL_ERROR_DETAIL, status_of
from devon_http.file_sending import loop_limiter, send_span
from devon_http.hub_paths import (
    INFO,
    NOT_SERVED,
    READ_ONLY,
    REFS,
    RESOLVE,
    TREE,
    HubPath,
    parse_hub_path,
)
from devon_http.request_log import escape_control

log = logging.getLogger("devon.http")

READ_METHODS = ("GET", "HEAD")
ALLOWED = "GET, HEAD"
HUB_BAD_CREDENTIALS = "Invalid credentials in Authorization header"
"""The Hub's message for a token it refuses (huggingface_hub then does not read the 401 as
a missing repository)."""

Headers = list[tuple[bytes, bytes]]

Landed = Callable[[str, str], LandedFile | None]
"""(model id, path) -> that file of the model's unfinished download, if it has landed."""


def serve_hub_paths(
    router: ASGIApp,
    devon: Devon,
    *,
    api_key: str | None,
    pull_through: bool,
    landed: Landed | None = None,
) -> ASGIApp:
    """`router`, with the Hub's paths answered before it. With `api_key`, they need
    `Authorization: Bearer <api_key>` (what huggingface_hub sends for `HF_TOKEN`); with
    `pull_through`, a model the vault lacks is listed from upstream, and a file it lacks is
    downloaded before the answer (ADR 0255). With `landed` (a fleet host, ADR 0282), a file
    the vault lacks that a download still running has landed in staging is sent when it is
    asked for at that download's exact commit: what peers ask for. With both (a fleet's
    central), a request waiting for its pull is answered from staging as soon as its file
    has landed there, while the pull goes on with the others (ADR 0290)."""

    async def answering(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await router(scope, receive, send)
            return
        hub = _hub_path(scope)
        if hub is None:
            await router(scope, receive, send)
            return
        if not is_authorized(_header(scope, b"authorization"), api_key):
            await _error(send, 401, UNAUTHORIZED_DETAIL, hub_message=HUB_BAD_CREDENTIALS)
            return
        started = False

        def sending(message: Message) -> Awaitable[None]:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            return send(message)

        try:
            await _answer(devon, pull_through, landed, hub, scope, sending)
        except Exception as error:
            if started:  # mid-body: the server closes the connection
                raise
            if isinstance(error, DevonError):
                await _devon_error(send, error)
                return
            log.exception(
                "Unhandled error on %s %s",
                escape_control(_method(scope)),
                escape_control(scope["path"]),
            )
            await _error(send, 500, INTERNAL_ERROR_DETAIL)

    return answering


def reads_no_body(scope: Scope) -> bool:
    """Whether `scope` is one of the Hub's paths: answered here without reading a body (the
    reads have none; every write is refused as read-only), so any body type may come."""
    return _hub_path(scope) is not None


def _hub_path(scope: Scope) -> HubPath | None:
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    return parse_hub_path(_method(scope), raw_path.decode("latin-1"))


async def _answer(
    devon: Devon, pull: bool, landed: Landed | None, hub: HubPath, scope: Scope, send: Send
) -> None:
    method = _method(scope)
    if hub.kind == NOT_SERVED:
        await _not_served(send, scope["path"], hub)
        return
    if hub.kind == READ_ONLY or method not in READ_METHODS:
        detail = (
            f"Method {method} is not allowed on {scope['path']}: DEVON's Hub endpoint is "
            "read-only (no uploads, commits or new repositories); allowed: GET, HEAD"
        )
        await _error(send, 405, detail, extra=[(b"allow", ALLOWED.encode())])
        return
    if hub.kind == RESOLVE:
        await _resolve(devon, pull, landed, hub, scope, send)
        return
    served = await _in_thread(partial(devon.hub_model, hub.repo_id, hub.revision, pull=pull))
    if hub.kind == INFO:
        await _json(send, method, model_info(served))
    elif hub.kind == REFS:
        await _json(send, method, refs(served))
    elif hub.kind == TREE:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        recursive = query.get("recursive", ["false"])[-1].lower() in ("1", "true")
        entries = tree_entries(served, hub.path, recursive)
        if entries is None:
            raise EntryNotFound(
                f"Entry not found: {hub.path!r} is not in {served.repo_id}", commit=served.commit
            )
        await _json(send, method, entries)


async def _resolve(
    devon: Devon, pull: bool, landed: Landed | None, hub: HubPath, scope: Scope, send: Send
) -> None:
    reading = _method(scope) == "GET"

    # A pull ends its wait once the file has landed in the download's staging (ADR 0290).
    sooner = partial(_has_landed, landed, hub) if pull and landed is not None else None

    def opened() -> tuple[ServedModel, ServedFile, int]:
        for _ in range(PULL_RACES):
            try:
                served, found = devon.hub_file(
                    hub.repo_id, hub.revision, hub.path, pull=pull, use=reading, landed=sooner
                )
            except LandedInStaging:
                staged = _landed_file(landed, hub)
                if staged is None:
                    continue  # committed (moved into the vault) since: ask again
                return staged
            except NotFound:
                staged = _landed_file(landed, hub)
                if staged is None:
                    raise
                return staged
            return served, found, os.open(found.held_path, os.O_RDONLY)
        raise NotFound(f"{hub.path} of {hub.repo_id} kept moving between staging and the vault")

    served, found, fd = await _in_thread(opened)
    try:
        size = os.fstat(fd).st_size
        try:
            span = requested_span(_header(scope, b"range"), size)
        except Unsatisfiable:
            await _error(
                send,
                416,
                f"Range {_header(scope, b'range')!r} is outside the file's {size} bytes",
                extra=[(b"content-range", f"bytes */{size}".encode())],
            )
            return
        start, end = span if span is not None else (0, size)
        headers = file_headers(served, found, end - start)
        if span is not None:
            headers.append((b"content-range", f"bytes {start}-{end - 1}/{size}".encode()))
        await send(
            {
                "type": "http.response.start",
                "status": 206 if span is not None else 200,
                "headers": headers,
            }
        )
        if reading:
            await send_span(scope, send, fd, start, end)
        else:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        os.close(fd)


PULL_RACES = 3
"""How often a resolve asks again when a pulled file it found landed left staging before it
was opened (its download committed meanwhile)."""


def _staged(landed: Landed | None, hub: HubPath) -> LandedFile | None:
    """The file `hub` asks for as a download still running has landed it, if it has."""
    if landed is None:
        return None
    try:
        return landed(hub.repo_id, hub.path)
    except DevonError:  # an id or path no vault could hold
        return None


def _has_landed(landed: Landed, hub: HubPath) -> bool:
    """Whether the file `hub` asks for has landed in staging so that a pull may answer it
    (`LandedFile.answers_pull`)."""
    staged = _staged(landed, hub)
    return staged is not None and staged.answers_pull(hub.revision)


def _landed_file(landed: Landed | None, hub: HubPath) -> tuple[ServedModel, ServedFile, int] | None:
    """The file `hub` asks for from a download still running (`landed`), opened, when it has
    landed there at exactly the commit asked for; None otherwise (the caller's NotFound
    stands: a peer that asked falls back to the central)."""
    staged = _staged(landed, hub)
    if staged is None or not staged.serves(hub.revision):
        return None
    try:
        fd = os.open(staged.local_path, os.O_RDONLY)
    except OSError:  # committed or discarded since: not here any more
        return None
    if os.fstat(fd).st_size != staged.size_bytes:
        os.close(fd)
        return None
    found = ServedFile(hub.path, str(staged.local_path), staged.size_bytes, staged.sha256, None)
    return ServedModel(hub.repo_id, hub.revision, (found,), None, None), found, fd


def file_headers(served: ServedModel, found: ServedFile, length: int) -> Headers:
    """The Hub's headers for a file: its ETag (sha256 for LFS, git blob id otherwise), the
    commit, and for an LFS file the linked size and ETag the Hub sends with its redirect."""
    etag = f'"{found.etag}"'.encode()
    name = found.path.rsplit("/", 1)[-1]
    headers: Headers = [
        (b"content-type", _content_type(found.path)),
        (b"content-length", str(length).encode()),
        (b"accept-ranges", b"bytes"),
        (b"etag", etag),
        (b"x-repo-commit", served.commit.encode()),
        (b"content-disposition", f"inline; filename*=UTF-8''{quote(name)}".encode()),
    ]
    if found.is_lfs:
        headers += [(b"x-linked-etag", etag), (b"x-linked-size", str(found.size_bytes).encode())]
    return headers


def model_info(served: ServedModel) -> dict[str, Any]:
    """`/api/models/{id}`: the fields huggingface_hub's `ModelInfo` reads, with every
    sibling's size and LFS identity (what `files_metadata=True` asks for)."""
    info: dict[str, Any] = {
        "_id": served.commit[:24],
        "id": served.repo_id,
        "modelId": served.repo_id,
        "sha": served.commit,
        "private": False,
        "gated": False,
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "tags": [],
        "siblings": [_sibling(f) for f in served.files],
        "usedStorage": sum(f.size_bytes for f in served.files),
    }
    if served.modified_at is not None:
        info["lastModified"] = info["createdAt"] = _iso(served.modified_at)
    author = author_of(served.repo_id)
    if author is not None:
        info["author"] = author
    return info


def refs(served: ServedModel) -> dict[str, Any]:
    """`/api/models/{id}/refs`: one branch, `main`, at the served commit (what llama.cpp's
    `-hf` and `HfApi.list_repo_refs` read)."""
    main = {"name": "main", "ref": "refs/heads/main", "targetCommit": served.commit}
    return {"branches": [main], "converts": [], "tags": []}


def _sibling(found: ServedFile) -> dict[str, Any]:
    entry: dict[str, Any] = {"rfilename": found.path, "size": found.size_bytes}
    if found.blob_id is not None:  # unknown for a non-LFS file only upstream holds
        entry["blobId"] = found.blob_id
    if found.sha256 is not None:
        entry["lfs"] = {
            "sha256": found.sha256,
            "size": found.size_bytes,
            "pointerSize": found.pointer_size,
        }
    return entry


def tree_entries(served: ServedModel, path: str, recursive: bool) -> list[dict[str, Any]] | None:
    """`/api/models/{id}/tree/{rev}/{path}` entries, as `list_repo_tree` reads them."""
    listing = tree(served, path, recursive)
    if listing is None:
        return None
    entries: list[dict[str, Any]] = [
        {"type": "directory", "oid": _folder_id(served.commit, folder), "size": 0, "path": folder}
        for folder in listing.folders
    ]
    for found in listing.files:
        entry: dict[str, Any] = {
            "type": "file",
            "oid": found.blob_id,
            "size": found.size_bytes,
            "path": found.path,
        }
        if found.sha256 is not None:
            entry["lfs"] = {
                "oid": found.sha256,
                "size": found.size_bytes,
                "pointerSize": found.pointer_size,
            }
        entries.append(entry)
    return entries


def _folder_id(commit: str, folder: str) -> str:
    # A stable id per folder and commit (the vault keeps no git trees).
    return hashlib.sha1(f"tree\0{commit}\0{folder}".encode(), usedforsecurity=False).hexdigest()


def _iso(moment: datetime) -> str:
    """The Hub's timestamp form: `2024-03-01T12:00:00.000Z`."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _content_type(path: str) -> bytes:
    if path.endswith(".json"):
        return b"application/json"
    if path.endswith((".md", ".txt", ".gitattributes", ".jinja")):
        return b"text/plain; charset=utf-8"
    return b"application/octet-stream"


HUB_CALLS_AT_ONCE = 64


async def _in_thread(call: Any) -> Any:
    # Threads of their own: a pull-through request may wait minutes for its download, and
    # must take neither the threads of DEVON's other endpoints nor those sending files.
    limiter = loop_limiter("hub-calls", HUB_CALLS_AT_ONCE)
    return await anyio.to_thread.run_sync(call, limiter=limiter, abandon_on_cancel=False)


def _method(scope: Scope) -> str:
    return str(scope.get("method", ""))


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


HUB_CODES: tuple[tuple[type[DevonError], int, str], ...] = (
    (RevisionNotFound, 404, "RevisionNotFound"),
    (EntryNotFound, 404, "EntryNotFound"),
    (NotFound, 404, "RepoNotFound"),
    (Forbidden, 403, "GatedRepo"),
)
"""Core error -> the Hub's status and `X-Error-Code`, most specific first; other errors
answer as everywhere else in DEVON (`devon_http.errors.status_of`), without a code."""


MIRROR_CREDENTIALS_NOTE = (
    " (on this DEVON, the HF_TOKEN of the server, where `devon serve` runs: a client's "
    "HF_TOKEN is only DEVON's key)"
)
"""Added to an upstream error that tells the reader to set HF_TOKEN: the reader is a Hub
client, whose own HF_TOKEN is DEVON_API_KEY and changes nothing upstream."""


async def _devon_error(send: Send, error: DevonError) -> None:
    extra: Headers = []
    if isinstance(error, EntryNotFound) and error.commit is not None:
        extra.append((b"x-repo-commit", error.commit.encode()))
    detail = str(error)
    if "HF_TOKEN" in detail:
        detail += MIRROR_CREDENTIALS_NOTE
    for kind, status, code in HUB_CODES:
        if isinstance(error, kind):
            await _error(send, status, detail, code=code, extra=extra)
            return
    status = 400 if type(error) is InvalidInput else status_of(error)
    await _error(send, status, detail)


async def _not_served(send: Send, path: str, hub: HubPath) -> None:
    if hub.repo_id:
        detail = f"No Hub endpoint at {path}: DEVON serves model info, trees and files only"
        await _error(send, 404, detail)
        return
    detail = (
        f"Not served: {path}. DEVON's Hub endpoint serves models only "
        "(no datasets, spaces or repository management)"
    )
    await _error(send, 404, detail, code="RepoNotFound")


async def _json(send: Send, method: str, payload: Any) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode()
    await _send_whole(send, 200, body if method != "HEAD" else b"", len(body), [])


async def _error(
    send: Send,
    status: int,
    detail: str,
    *,
    code: str | None = None,
    hub_message: str | None = None,
    extra: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """An error as DEVON answers them (`{"detail": ...}`) with the Hub's headers:
    `X-Error-Message` (what huggingface_hub shows) and `X-Error-Code` (which exception it
    raises)."""
    body = json.dumps({"detail": detail}, separators=(",", ":")).encode()
    headers: Headers = [(b"x-error-message", _header_text(hub_message or detail))]
    if code is not None:
        headers.append((b"x-error-code", code.encode()))
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await _send_whole(send, status, body, len(body), [*headers, *extra])


async def _send_whole(send: Send, status: int, body: bytes, length: int, headers: Headers) -> None:
    start: Any = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(length).encode()),
            *headers,
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _header_text(text: str) -> bytes:
    """`text` as a header value: printable ASCII only."""
    return "".join(c if " " <= c <= "~" else "?" for c in text).encode()
