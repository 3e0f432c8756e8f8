"""The Hugging Face adapter's small helpers: download progress and the details cache."""

import threading

from devon_adapters.huggingface.ttl_cache import TTLCache
from devon_adapters.transfer.progress import ProgressTracker


def test_progress_counts_bytes_across_files_to_the_total() -> None:
    seen: list[tuple[int, int]] = []
    tracker = ProgressTracker(300, lambda done, total: seen.append((done, total)))

    tracker.reached("a", 100)
    tracker.reached("b", 150)
    tracker.reached("a", 150)

    assert seen == [(100, 300), (250, 300), (300, 300)]


def test_progress_never_goes_back_when_a_file_starts_over() -> None:
    seen: list[int] = []
    tracker = ProgressTracker(100, lambda done, _: seen.append(done))

    tracker.reached("a", 60)
    tracker.reached("a", 10)  # the server ignored a Range: the file restarts at 0
    tracker.reached("a", 80)

    assert seen == [60, 80]


def test_bytes_already_present_are_reported_once_at_the_start() -> None:
    seen: list[int] = []
    tracker = ProgressTracker(100, lambda done, _: seen.append(done))

    tracker.reached("a", 40, quietly=True)
    tracker.reached("b", 20, quietly=True)
    tracker.report()

    assert seen == [60]


def test_nothing_to_fetch_is_not_reported() -> None:
    seen: list[tuple[int, int]] = []
    tracker = ProgressTracker(0, lambda done, total: seen.append((done, total)))

    tracker.report()
    tracker.reached("empty.txt", 0)

    assert seen == []


def test_progress_from_many_threads_is_delivered_in_order() -> None:
    seen: list[int] = []
    tracker = ProgressTracker(8 * 1000, lambda done, _: seen.append(done))

    def worker(name: str) -> None:
        for position in range(1, 1001):
            tracker.reached(name, position)

    threads = [threading.Thread(target=worker, args=(str(i),)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert seen == sorted(seen)
    assert seen[-1] == 8000


def test_cached_value_expires_after_its_ttl() -> None:
    now = [0.0]
    cache: TTLCache[str] = TTLCache(60, clock=lambda: now[0])
    cache.put("acme/widget", "details")

    now[0] = 59.0
    assert cache.get("acme/widget") == "details"
    now[0] = 60.0
    assert cache.get("acme/widget") is None


def test_zero_ttl_caches_nothing() -> None:
    cache: TTLCache[str] = TTLCache(0)
    cache.put("acme/widget", "details")
    assert cache.get("acme/widget") is None


def test_cache_forgets_the_oldest_entries_beyond_its_size() -> None:
    cache: TTLCache[int] = TTLCache(60, max_entries=2)
    for index, key in enumerate(["a", "b", "c"]):
        cache.put(key, index)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, 1, 2)
