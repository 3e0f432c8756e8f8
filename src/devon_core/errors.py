"""The errors the core raises. Each driving adapter maps them to its own form in one place."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devon_core.quantization_value import Quantization


class DevonError(Exception):
    """Base of every error DEVON raises on purpose. `str(error)` is the user-facing message;
    `model_id` and `source` say which model it is about, when it is about one."""

    def __init__(
        self, message: str = "", *, model_id: str | None = None, source: str | None = None
    ) -> None:
        super().__init__(message)
        self.model_id = model_id
        self.source = source


class InvalidInput(DevonError):
    """Malformed input: a bad model id, source name, filter, glob or query value."""


class InvalidRequest(InvalidInput):
    """A well-formed request whose values fail validation (e.g. negative days, unknown format)."""


class NotFound(DevonError):
    """The model is not in the vault, or not on the source."""


class SelectionNotFound(NotFound):
    """The model is there, but not the quantisation or file a reference selects."""


class Forbidden(DevonError):
    """The source holds the model but refuses access (gated or private)."""


class SourceUnavailable(DevonError):
    """The source could not be reached, timed out, or answered garbage."""


class DownloadFailed(DevonError):
    """A download started but did not complete; the vault is left as it was."""


class RemovalFailed(DevonError):
    """A model's files could not be taken out of the vault; it stays listed, as it was."""


class InsufficientStorage(DevonError):
    """Not enough free disk space or quota for the download."""


class StoreUnavailable(DevonError):
    """The vault's index (a database server) cannot be reached; nothing on disk was changed."""


class ChoiceNeeded(InvalidInput):
    """A download that must say which of a repository's quantisations it wants (the CLI
    asks this; the HTTP API and the library fetch the whole repository by default)."""

    def __init__(
        self, message: str, model_id: str, quantizations: "tuple[Quantization, ...]"
    ) -> None:
        super().__init__(message, model_id=model_id)
        self.quantizations = quantizations


class TooManyJobs(DevonError):
    """The vault already holds as many queued download jobs as it accepts: try again once
    some have started (`retry_after_s` is a hint of when)."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Conflict(DevonError):
    """The request does not fit the current state: cancelling a finished download job,
    restarting one that is still running."""


class DownloadCancelled(Conflict):
    """The download job was cancelled (by its caller or another client) before it ended;
    what it fetched stays in staging, so asking again resumes."""


@contextmanager
def about(source: str, model_id: str) -> Iterator[None]:
    """Mark every DevonError raised inside as being about this model, unless it already
    names one, so library users can read `error.model_id` and `error.source`."""
    try:
        yield
    except DevonError as error:
        if error.model_id is None and error.source is None:
            error.model_id, error.source = model_id, source
        raise
