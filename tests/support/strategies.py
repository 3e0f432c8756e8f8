"""Hypothesis strategies for domain objects."""

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from devon_core import LocalModel
from tests.support.fakes import T0

_part_chars = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_inner_chars = st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-_.")


@st.composite
def id_parts(draw: st.DrawFn) -> str:
    """One valid part of a model id (a name or an owner)."""
    first = draw(_part_chars)
    middle = draw(st.text(_inner_chars, max_size=20))
    last = draw(_part_chars)
    part = f"{first}{middle}{last}"
    while ".." in part or "--" in part:
        part = part.replace("..", ".").replace("--", "-")
    return part


model_ids = st.one_of(id_parts(), st.builds(lambda a, b: f"{a}/{b}", id_parts(), id_parts()))
sources = st.sampled_from(["huggingface", "hf", "hf-mirror", "modelscope"])
offsets = st.integers(min_value=0, max_value=400 * 24 * 3600)


@st.composite
def local_models(draw: st.DrawFn, source_names: st.SearchStrategy[str] = sources) -> LocalModel:
    source = draw(source_names)
    model_id = draw(model_ids)
    downloaded_at = T0 + timedelta(seconds=draw(offsets))
    used_after = draw(st.none() | offsets)
    last_used = None if used_after is None else downloaded_at + timedelta(seconds=used_after)
    return LocalModel(
        source=source,
        model_id=model_id,
        path=f"/vault/{source}/{model_id}",
        size_bytes=draw(st.integers(min_value=0, max_value=2**40)),
        downloaded_at=downloaded_at,
        last_used=last_used,
        files=("config.json",),
        metadata={},
    )


def vaults(max_size: int = 25, with_local: bool = False) -> st.SearchStrategy[list[LocalModel]]:
    """Lists of models with distinct (source, model_id) keys; `with_local`: some of the
    built-in `local` source (placed by hand) among them."""
    names = st.one_of(sources, st.just("local")) if with_local else sources
    return st.lists(
        local_models(names), max_size=max_size, unique_by=lambda m: (m.source, m.model_id)
    )


nows = st.builds(
    lambda s: T0 + timedelta(seconds=s), st.integers(min_value=0, max_value=900 * 24 * 3600)
)
aware_datetimes = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
