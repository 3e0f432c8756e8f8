"""The quantisation rules (ADR 0170) as properties: grouping, sharded sets, selection."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devon_core import InvalidInput, NotFound, RemoteFile
from devon_core.errors import ChoiceNeeded
from devon_core.quantizations import (
    group_quantizations,
    quant_label,
    quant_order,
    shard_base,
    with_whole_shard_sets,
)
from devon_core.references import ModelReference, parse_reference
from devon_core.rules import select_files
from tests.support.fakes import remote_model

LABELS = ["IQ2_XS", "Q2_K", "Q4_K_M", "Q4_K", "Q5_K_S", "Q8_0", "BF16", "F16"]


@st.composite
def gguf_repos(draw: st.DrawFn) -> tuple[RemoteFile, ...]:
    """A repo of single-file and sharded GGUF quantisations (some in folders), with other
    files beside them."""
    files: dict[str, int] = {}
    for label in draw(st.lists(st.sampled_from(LABELS), unique=True, max_size=6)):
        case = draw(st.sampled_from([str.upper, str.lower]))
        folder = draw(st.sampled_from(["", f"{label}/"]))
        shards = draw(st.integers(0, 4))
        base = f"{folder}model.{case(label)}"
        names = (
            [f"{base}-{i:05d}-of-{shards:05d}.gguf" for i in range(1, shards + 1)]
            if shards
            else [f"{base}.gguf"]
        )
        for name in names:
            files[name] = draw(st.integers(0, 10**12))
    for name in draw(st.lists(st.sampled_from(["README.md", "config.json", "x.bin"]))):
        files[name] = 1
    return tuple(RemoteFile(path, size) for path, size in sorted(files.items()))


@given(gguf_repos())
def test_each_labelled_gguf_file_is_in_exactly_one_quantisation(
    files: tuple[RemoteFile, ...],
) -> None:
    grouped = [path for q in group_quantizations(files) for path in q.files]
    labelled = [f.path for f in files if quant_label(f.path) is not None]
    assert sorted(grouped) == sorted(labelled)


@given(gguf_repos())
def test_a_quantisation_size_is_the_sum_of_its_files(files: tuple[RemoteFile, ...]) -> None:
    sizes = {f.path: f.size_bytes for f in files}
    for quant in group_quantizations(files):
        assert quant.size_bytes == sum(sizes[path] for path in quant.files)


@given(gguf_repos())
def test_every_shard_of_a_set_is_in_the_same_quantisation(files: tuple[RemoteFile, ...]) -> None:
    owner = {path: q.name for q in group_quantizations(files) for path in q.files}
    for path in owner:
        base = shard_base(path)
        siblings = [p for p in owner if base is not None and shard_base(p) == base]
        assert {owner[p] for p in siblings} <= {owner[path]}


@given(gguf_repos())
def test_quantisations_come_fewest_bits_first(files: tuple[RemoteFile, ...]) -> None:
    names = [q.name for q in group_quantizations(files)]
    assert names == sorted(names, key=quant_order)


@given(gguf_repos(), st.data())
def test_selecting_a_quantisation_in_any_case_takes_exactly_its_files(
    files: tuple[RemoteFile, ...], data: st.DataObject
) -> None:
    quants = group_quantizations(files)
    if not quants:
        return
    quant = data.draw(st.sampled_from(quants))
    tag = data.draw(st.sampled_from([quant.name, quant.name.lower()]))
    model = remote_model("acme/X-GGUF", files=tuple((f.path, f.size_bytes) for f in files))
    chosen = select_files(model, None, ModelReference("acme/X-GGUF", tag.upper()))
    assert tuple(f.path for f in chosen) == quant.files


@given(gguf_repos(), st.data())
def test_choosing_one_shard_chooses_its_whole_set(
    files: tuple[RemoteFile, ...], data: st.DataObject
) -> None:
    paths = [f.path for f in files]
    shards = [p for p in paths if shard_base(p) is not None]
    if not shards:
        return
    one = data.draw(st.sampled_from(shards))
    chosen = with_whole_shard_sets([one], paths)
    assert set(chosen) == {p for p in paths if shard_base(p) == shard_base(one)}


@given(gguf_repos())
def test_a_choice_is_required_exactly_when_there_are_several_quantisations(
    files: tuple[RemoteFile, ...],
) -> None:
    model = remote_model("acme/X-GGUF", files=tuple((f.path, f.size_bytes) for f in files))
    if len(group_quantizations(files)) > 1:
        with pytest.raises(ChoiceNeeded) as refused:
            select_files(model, None, require_choice=True)
        assert refused.value.quantizations == group_quantizations(files)
    else:
        assert select_files(model, None, require_choice=True) == model.files


WIDGET = remote_model(
    "acme/Widget-GGUF",
    files=(("w.Q4_K_M.gguf", 4), ("w.Q8_0.gguf", 8), ("README.md", 1)),
)


def test_include_patterns_count_as_a_choice() -> None:
    chosen = select_files(WIDGET, ("*.md",), require_choice=True)
    assert [f.path for f in chosen] == ["README.md"]


def test_a_quantisation_adds_to_include_patterns() -> None:
    chosen = select_files(WIDGET, ("*.md",), ModelReference("acme/Widget-GGUF", "Q8_0"))
    assert sorted(f.path for f in chosen) == ["README.md", "w.Q8_0.gguf"]


def test_a_file_the_model_lacks_is_not_found_with_the_near_one() -> None:
    reference = ModelReference("acme/Widget-GGUF", files=("w.Q4_K_S.gguf",))
    with pytest.raises(NotFound, match=r"no file 'w\.Q4_K_S\.gguf' \(did you mean w\.Q4_K_M"):
        select_files(WIDGET, None, reference)


def test_a_file_url_at_another_revision_is_refused() -> None:
    reference = ModelReference("acme/Widget-GGUF", files=("w.Q8_0.gguf",), revision="v2")
    with pytest.raises(InvalidInput, match="current revision"):
        select_files(WIDGET, None, reference)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("acme/X-GGUF", ModelReference("acme/X-GGUF")),
        ("acme/X-GGUF:q4_k_m", ModelReference("acme/X-GGUF", "Q4_K_M")),
        (" gpt2:F16 ", ModelReference("gpt2", "F16")),
    ],
)
def test_generic_references_are_an_id_and_an_optional_tag(
    text: str, expected: ModelReference
) -> None:
    assert parse_reference(text) == expected


@pytest.mark.parametrize("text", ["acme/X:", "acme/X:Q4-K", "acme/X:a/b", "acme/X:Q4:Q8"])
def test_a_malformed_tag_is_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_reference(text)
