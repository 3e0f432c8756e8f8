"""The Hub as a `FileServer` (ADR 0197): files at `/<id>/resolve/<revision>/<path>`, fetched
through huggingface_hub's session and headers, its `HfHubHTTPError` judged and translated
the way every other Hub call's is."""

from contextlib import AbstractContextManager

import httpx2
from huggingface_hub.errors import HfHubHTTPError

from devon_adapters.huggingface.errors import translate
from devon_adapters.huggingface.hub import HubClient
from devon_adapters.outbound import OutboundRefusal
from devon_adapters.transfer.file_server import describe_exception
from devon_adapters.transfer.retrying import RETRIED_STATUSES
from devon_core.errors import DevonError
from devon_core.stopping import current_stop


class HubFileServer:
    """The files of the Hub `client` talks to."""

    name = "the Hub"
    http_errors: tuple[type[Exception], ...] = (HfHubHTTPError, OutboundRefusal)

    def __init__(self, client: HubClient) -> None:
        self._client = client

    @property
    def client(self) -> HubClient:
        """The Hub client the files are fetched through."""
        return self._client

    def file_url(self, model_id: str, path: str, revision: str | None) -> str:
        return self._client.file_url(model_id, path, revision or "main")

    def open_file(
        self, url: str, start: int, read_timeout: float, end: int | None = None
    ) -> AbstractContextManager[httpx2.Response]:
        return self._client.open_file(url, start, read_timeout, end, stop=current_stop())

    def transient(self, error: Exception) -> bool:
        """A dropped connection, a timeout or a retryable status: worth asking again."""
        if isinstance(error, HfHubHTTPError):
            return _status(error) in RETRIED_STATUSES
        return isinstance(error, httpx2.TransportError | ConnectionError | TimeoutError)

    def describe_failure(self, error: Exception) -> str:
        if isinstance(error, HfHubHTTPError):
            status = _status(error)
            return f"the Hub answered HTTP {status}" if status else "the Hub answered an error"
        return describe_exception(error)

    def download_error(self, error: Exception, model_id: str) -> DevonError:
        return translate(error, endpoint=self._client.endpoint, model_id=model_id, downloading=True)


def _status(error: HfHubHTTPError) -> int | None:
    return getattr(error.response, "status_code", None)
