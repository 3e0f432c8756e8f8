"""`HuggingFaceSource`: the `ModelSource` port on top of huggingface_hub."""

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from huggingface_hub import constants

from devon_adapters.huggingface.errors import RefusedModel, hub_errors
from devon_adapters.huggingface.file_server import HubFileServer
from devon_adapters.huggingface.hub import HubClient, Token
from devon_adapters.huggingface.ids import validate_hub_id
from devon_adapters.huggingface.metadata import SOURCE_NAME, remote_model, web_url_template
from devon_adapters.huggingface.references import parse_hub_reference
from devon_adapters.huggingface.searching import Searcher
from devon_adapters.huggingface.seeding import PeerFinder, SeedingFileServer
from devon_adapters.huggingface.ttl_cache import TTLCache
from devon_adapters.outbound import AnswerLimits
from devon_adapters.transfer.downloading import Downloader, DownloadOptions
from devon_core.errors import Forbidden, InvalidInput, NotFound
from devon_core.filters import SearchFilters
from devon_core.fleet import Seeds
from devon_core.models import RemoteFile, RemoteModel
from devon_core.ports import ProgressCallback, StopSignal
from devon_core.references import ModelReference
from devon_core.stopping import CallStop, current_stop

log = logging.getLogger(__name__)

UPSTREAM_TIMEOUT_S = 3600.0
"""How long a fleet host waits for its upstream's answer: the upstream may be fetching the
model from the Hub before it answers (pull-through)."""


class HubSettings(Protocol):
    """What `from_settings` reads (devon_app.settings.Settings has it)."""

    @property
    def hf_endpoint(self) -> str | None: ...

    @property
    def hf_token(self) -> str | None: ...

    @property
    def verify_checksums(self) -> bool: ...

    @property
    def download_connections(self) -> int: ...

    @property
    def download_max_connections(self) -> int: ...

    @property
    def download_split_bytes(self) -> int: ...

    @property
    def max_source_answer_bytes(self) -> int: ...

    @property
    def source_answer_timeout_s(self) -> float: ...

    @property
    def redirect_hosts(self) -> tuple[str, ...]: ...

    @property
    def hub_pull_through(self) -> bool: ...

    @property
    def download_connections_max(self) -> int: ...

    @property
    def download_stall_seconds(self) -> float: ...

    @property
    def upstream(self) -> str | None: ...

    @property
    def upstream_key(self) -> str | None: ...

    @property
    def host_name(self) -> str: ...


class HuggingFaceSource:
    """Models on the Hugging Face Hub (or any server speaking its API).

    >>> source = HuggingFaceSource()                          # huggingface.co, or HF_ENDPOINT
    >>> source.search("qwen", SearchFilters.parse(params="<=8b"), limit=5)
    >>> source.info("Qwen/Qwen2.5-0.5B").files

    `endpoint` and `token` given here win; left as None, huggingface_hub decides as it always
    does (`HF_ENDPOINT`; `HF_TOKEN`, then the token saved by `hf auth login`). `token=False`
    sends none. `read_timeout` (longest silence while a file streams) defaults to
    huggingface_hub's `HF_HUB_DOWNLOAD_TIMEOUT` (10 s). Files larger than `split_threshold`
    bytes are fetched as concurrent ranges, starting with `connections_per_file` (or what the
    host settled at before) and growing up to `max_connections_per_file` while that adds
    throughput, slow connections' ranges stolen by faster ones and a connection silent for
    `stall_timeout` seconds closed (ADR 0225); with `large_files_in_turn` (a DEVON serving
    pull-through) those files go one after another rather than all at once (ADR 0290);
    `max_connections` bounds the file transfers of
    the whole process, shared fairly between downloads (ADR 0120, ADR 0227). Every
    answer that is not a file is read within `limits` (a byte cap, a deadline) and cut when
    the caller's stop signal is set (`devon_core.stopping`); redirects go only where the
    rule of ADR 0202 allows, and to `redirect_hosts`.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        token: Token = None,
        verify_checksums: bool = True,
        *,
        timeout: float = 10.0,
        read_timeout: float | None = None,
        max_workers: int = 8,
        cache_ttl: float = 60.0,
        page_size: int = 100,
        max_list_pages: int | None = 100,
        download_retries: int = 5,
        retry_delay: float = 1.0,
        chunk_size: int | None = None,
        connections_per_file: int = 8,
        max_connections: int = 32,
        split_threshold: int = 32 * 1024 * 1024,
        limits: AnswerLimits | None = None,
        redirect_hosts: Sequence[str] = (),
        max_connections_per_file: int = 32,
        stall_timeout: float = 5.0,
        seed_from: Callable[[str], Seeds | list[str]] | None = None,
        large_files_in_turn: bool = False,
    ) -> None:
        self._client = HubClient(endpoint, token, timeout, limits, redirect_hosts)
        self._details: TTLCache[RemoteModel] = TTLCache(cache_ttl)
        self._searcher = Searcher(
            pages=self._client.list_pages,
            describe=self._describe,
            web_base=self._client.endpoint,
            max_workers=max_workers,
            page_size=page_size,
            max_pages=max_list_pages,
        )
        files = HubFileServer(self._client)
        if seed_from is not None:  # a fleet host: files from peers that hold them (ADR 0242)
            files = SeedingFileServer(files, self._client.endpoint, seed_from)
        self._downloader = Downloader(
            files,
            DownloadOptions(
                verify_checksums=verify_checksums,
                max_workers=max_workers,
                large_files_in_turn=large_files_in_turn,
                read_timeout=read_timeout or constants.HF_HUB_DOWNLOAD_TIMEOUT,
                retries=download_retries,
                retry_delay=retry_delay,
                chunk_size=chunk_size,
                connections_per_file=connections_per_file,
                max_connections=max_connections,
                split_threshold=split_threshold,
                max_connections_per_file=max_connections_per_file,
                stall_timeout=stall_timeout,
            ),
        )

    @classmethod
    def from_settings(cls, settings: HubSettings) -> "HuggingFaceSource":
        """The Hub of `settings`; on a fleet host (`upstream` set), the upstream DEVON's Hub
        paths instead, with its key, and never the internet (docs/fleet.md)."""
        upstream = settings.upstream
        return cls(
            endpoint=upstream or settings.hf_endpoint,
            token=(settings.upstream_key or False) if upstream else settings.hf_token,
            # the upstream answers a model's info once it holds the model, and a file once
            # it has pulled it (pull-through): its answers may be minutes away
            timeout=UPSTREAM_TIMEOUT_S if upstream else 10.0,
            read_timeout=UPSTREAM_TIMEOUT_S if upstream else None,
            seed_from=PeerFinder(upstream, settings.upstream_key, settings.host_name)
            if upstream
            else None,
            verify_checksums=settings.verify_checksums,
            connections_per_file=settings.download_connections,
            max_connections=settings.download_max_connections,
            split_threshold=settings.download_split_bytes,
            limits=AnswerLimits(settings.max_source_answer_bytes, settings.source_answer_timeout_s),
            redirect_hosts=settings.redirect_hosts,
            max_connections_per_file=settings.download_connections_max,
            stall_timeout=settings.download_stall_seconds,
            # A pull-through DEVON pulls large files in turn and answers each as it lands;
            # a fleet host asks its upstream for every file at once (ADR 0290).
            large_files_in_turn=settings.hub_pull_through and not upstream,
        )

    @property
    def name(self) -> str:
        return SOURCE_NAME

    @property
    def endpoint(self) -> str:
        """The Hub this source talks to (also the base of `web_url`)."""
        return self._client.endpoint

    @property
    def web_url_template(self) -> str:
        """A model's page on the configured Hub (HF_ENDPOINT), `{model_id}` for its id."""
        return web_url_template(self.endpoint)

    def parse_reference(self, text: str) -> ModelReference:
        """An id, `owner/name:QUANT`, or a Hub URL to a repo or one of its files."""
        return parse_hub_reference(text, self.endpoint)

    def search(self, query: str | None, filters: SearchFilters, limit: int) -> list[RemoteModel]:
        stop = current_stop()
        with hub_errors(self.endpoint):
            return self._searcher.search(query, filters, limit, stop)

    def info(self, model_id: str) -> RemoteModel:
        return self._info(model_id, current_stop())

    def _info(self, model_id: str, stop: CallStop | None) -> RemoteModel:
        validate_hub_id(model_id)
        with hub_errors(self.endpoint, model_id):
            model = remote_model(self._client.model_info(model_id, stop=stop), self.endpoint)
        self._details.put(model_id, model)
        return model

    def download(
        self,
        model: RemoteModel,
        files: Sequence[RemoteFile],
        dest: str,
        progress: ProgressCallback | None = None,
        stop: StopSignal | None = None,
    ) -> list[str]:
        return self._downloader.download(model, files, dest, progress, stop)

    def _describe(
        self, model_id: str, listed_revision: str | None, stop: CallStop | None
    ) -> RemoteModel | None:
        """Details for search: cached while fresh and still the listed commit; None when the
        model vanished or is hidden since it was listed (or has an id DEVON cannot use)."""
        cached = self._details.get(model_id)
        if cached is not None and (listed_revision in (None, cached.revision)):
            return cached
        try:
            return self._info(model_id, stop)
        except (NotFound, Forbidden, InvalidInput):
            return None
        except RefusedModel as refused:
            log.warning("search leaves out %s: %s", model_id, refused)
            return None
