"""A DEVON whose source is another DEVON (DEVON_UPSTREAM): its Hugging Face models come from
the upstream's Hub paths, verified as every download is, and never from the internet."""

from pathlib import Path

from devon_testhub import TestHub
from tests.support.cli_process import run_piped
from tests.support.fleet_support import central_devon, host_env, hub_file_reads
from tests.support.hf_helpers import SHARDY, files_under


def test_a_host_downloads_from_its_upstream_which_pulls_from_the_hub_once(
    test_hub: TestHub, tmp_path: Path
) -> None:
    with central_devon(test_hub, tmp_path / "central") as central:
        test_hub.stats.reset()
        for name in ("gpu1", "gpu2"):
            env = host_env(central.url, tmp_path / name / "vault", name)
            done = run_piped(env, "download", SHARDY)
            assert done.code == 0, done.stderr

    expected = {f.path: f.content.read() for f in test_hub.catalogue[SHARDY].files}
    for name in ("gpu1", "gpu2"):
        folder = tmp_path / name / "vault" / "huggingface" / "acme" / "shardy-7b"
        assert files_under(folder) == expected
    assert hub_file_reads(test_hub, SHARDY) == dict.fromkeys(expected, 1)


def test_a_host_refuses_a_file_its_upstream_altered(test_hub: TestHub, tmp_path: Path) -> None:
    with central_devon(test_hub, tmp_path / "central") as central:
        env = host_env(central.url, tmp_path / "gpu1" / "vault", "gpu1")
        assert run_piped(env, "download", SHARDY).code == 0
        held = next((tmp_path / "central" / "huggingface" / "acme" / "shardy-7b").glob("*00002*"))
        data = bytearray(held.read_bytes())
        data[100] ^= 0xFF
        held.write_bytes(bytes(data))
        other = host_env(central.url, tmp_path / "gpu2" / "vault", "gpu2")
        done = run_piped(other, "download", SHARDY)

    assert done.code != 0
    assert "sha256" in done.stderr.lower() or "checksum" in done.stderr.lower(), done.stderr
    assert not (tmp_path / "gpu2" / "vault" / "huggingface" / "acme" / "shardy-7b").exists()
