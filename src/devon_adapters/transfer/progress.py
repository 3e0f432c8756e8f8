"""Download progress shared by worker threads: one monotonic (done, total) stream."""

import threading

from devon_core.ports import FileProgressCallback, ProgressCallback, RetryListener, RetryNotice


class ProgressTracker:
    """Sums bytes across files and reports them to `callback`, from any thread.

    Each file counts up to its furthest byte (`reached`, one stream) or adds what each of
    its ranges brought (`add`): when a server ignores a `Range` and a file starts over as
    one stream, bytes already counted are not counted again, so `done` never goes back
    and never passes `total`.
    """

    def __init__(self, total: int, callback: ProgressCallback | None, files_total: int = 0) -> None:
        self.total = total
        self._callback = callback
        self._lock = threading.Lock()
        self._furthest: dict[str, int] = {}
        self._done = 0
        self._files_total = files_total
        self._files_done: set[str] = set()

    def file_done(self, path: str, *, quietly: bool = False) -> None:
        """File `path` is complete; a callback that counts files (`FileProgressCallback`)
        hears how many are."""
        with self._lock:
            self._files_done.add(path)
            if not quietly:
                self._report_files()

    def _report_files(self) -> None:
        if isinstance(self._callback, FileProgressCallback):
            self._callback.files(len(self._files_done), self._files_total)

    @property
    def done(self) -> int:
        return self._done

    def arrived(self, path: str) -> int:
        """Bytes of file `path` counted so far."""
        with self._lock:
            return self._furthest.get(path, 0)

    def reached(self, path: str, position: int, *, quietly: bool = False) -> None:
        """File `path` now holds `position` bytes (`quietly`: without telling the callback,
        while counting what staging already holds)."""
        with self._lock:
            self._advance(path, position, quietly=quietly)

    def add(self, path: str, count: int) -> None:
        """`count` more bytes of file `path` arrived (a range of a file fetched in pieces)."""
        with self._lock:
            self._advance(path, self._furthest.get(path, 0) + count, quietly=False)

    def _advance(self, path: str, position: int, *, quietly: bool) -> None:
        gained = position - self._furthest.get(path, 0)
        if gained <= 0:
            return
        self._furthest[path] = position
        self._done = min(self._done + gained, self.total)
        if self._callback is not None and not quietly:
            self._callback(self._done, self.total)

    def report(self) -> None:
        """Tell the callback where things stand (at the start: what staging already held).
        Nothing to fetch (a total of 0) is not reported: `done / total` must stay safe."""
        with self._lock:
            self._report_files()
            if self._callback is not None and self.total > 0:
                self._callback(self._done, self.total)

    def retrying(self, notice: RetryNotice) -> None:
        """Tell the callback, if it listens for them, that a transfer is being retried; and
        where things stand, so a callback that stops the download (a cancel) is heard
        before the pause, even while no byte arrives."""
        if isinstance(self._callback, RetryListener):
            self._callback.retrying(notice)
        self.report()
