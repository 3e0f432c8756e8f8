import pytest

from devon_core import Devon
from tests.support.fakes import FakeDisk, FakeSource, MemoryStore, SettableClock, remote_model


@pytest.fixture
def disk() -> FakeDisk:
    return {}


@pytest.fixture
def source(disk: FakeDisk) -> FakeSource:
    return FakeSource(
        [
            remote_model("acme/widget-7b", downloads=500, parameter_count=7.2),
            remote_model(
                "acme/Widget-8B-GGUF",
                downloads=900,
                parameter_count=8.0,
                format=("gguf",),
                quantization="Q4_K_M,Q8_0",
                files=(
                    ("widget-8b.Q4_K_M.gguf", 4000),
                    ("widget-8b.Q8_0.gguf", 8000),
                    ("README.md", 10),
                ),
            ),
            remote_model("tinyco/Tiny-0.5B", downloads=50, parameter_count=0.5, license="mit"),
        ],
        disk,
    )


@pytest.fixture
def store(disk: FakeDisk) -> MemoryStore:
    return MemoryStore(disk)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()


@pytest.fixture
def devon(source: FakeSource, store: MemoryStore, clock: SettableClock) -> Devon:
    return Devon(source=source, store=store, clock=clock)
