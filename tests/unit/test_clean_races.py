"""Clean checks each model again under its lock: what others do meanwhile is respected."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from devon_core import Devon
from tests.support.fakes import T0, FakeSource, MemoryStore, SettableClock, local_model


class InterleavingStore(MemoryStore):
    """Runs `meanwhile` once, just as clean takes the lock of the model named `before`."""

    def __init__(self) -> None:
        super().__init__()
        self.before = ""
        self.meanwhile: Callable[[], object] | None = None

    @contextmanager
    def lock(self, source: str, model_id: str) -> Iterator[None]:
        if model_id == self.before and self.meanwhile is not None:
            action, self.meanwhile = self.meanwhile, None
            action()
        yield


def _vault_with_two_stale_models() -> tuple[Devon, InterleavingStore, SettableClock]:
    store = InterleavingStore()
    store.add(local_model("a/old", size_bytes=10))
    store.add(local_model("b/old", size_bytes=20))
    clock = SettableClock(T0 + timedelta(days=60))
    return Devon(source=FakeSource(), store=store, clock=clock), store, clock


def test_a_model_used_while_clean_runs_is_kept() -> None:
    devon, store, clock = _vault_with_two_stale_models()
    store.before = "b/old"
    store.meanwhile = lambda: store.mark_used("huggingface", "b/old", clock.now())
    result = devon.clean(unused=True, days=30)
    assert result.models == ("huggingface/a/old",)
    assert result.freed_bytes == 10
    assert [m.model_id for m in store.list()] == ["b/old"]


def test_a_model_removed_by_someone_else_is_not_reported_as_freed() -> None:
    devon, store, _ = _vault_with_two_stale_models()
    store.before = "b/old"
    store.meanwhile = lambda: store.remove("huggingface", "b/old")
    result = devon.clean(all=True)
    assert result.models == ("huggingface/a/old",)
    assert result.freed_bytes == 10


def test_only_limits_removal_to_the_confirmed_models() -> None:
    devon, store, _ = _vault_with_two_stale_models()
    result = devon.clean(all=True, only={"huggingface/a/old"})
    assert result.models == ("huggingface/a/old",)
    assert [m.model_id for m in store.list()] == ["b/old"]


def test_a_model_that_arrives_after_the_dry_run_is_not_removed_with_only() -> None:
    devon, store, _ = _vault_with_two_stale_models()
    plan = devon.clean(all=True, dry_run=True)
    store.add(local_model("c/new"))
    devon.clean(all=True, only=set(plan.models))
    assert [m.model_id for m in store.list()] == ["c/new"]
