"""Settings: environment variables over the TOML config file over platformdirs defaults."""

from pathlib import Path

import attrs
import pytest

from devon_app import Settings
from devon_app.settings import HttpSettings
from devon_core import InvalidInput


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point platformdirs' user dirs at a temp home, so no real config is read."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "devon.toml"
    path.write_text(text)
    return path


def test_defaults_without_env_or_config_file(tmp_path: Path) -> None:
    settings = Settings.from_env({})
    assert settings.storage_path == tmp_path / "data" / "devon" / "models"
    assert settings.max_storage_bytes is None
    assert settings.verify_checksums is True
    assert (settings.api_key, settings.hf_token, settings.hf_endpoint) == (None, None, None)
    assert settings.config_path is None


def test_environment_variables_are_read(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "DEVON_STORAGE_PATH": str(tmp_path / "vault"),
            "DEVON_MAX_STORAGE": "500gb",
            "DEVON_VERIFY_CHECKSUMS": "off",
            "DEVON_API_KEY": "secret",
            "HF_TOKEN": "hf_abc",
            "HF_ENDPOINT": "http://127.0.0.1:8080",
        }
    )
    assert settings.storage_path == tmp_path / "vault"
    assert settings.max_storage_bytes == 500 * 1024**3
    assert settings.verify_checksums is False
    assert settings.api_key == "secret"
    assert settings.hf_token == "hf_abc"
    assert settings.hf_endpoint == "http://127.0.0.1:8080"


def test_secrets_are_not_shown_in_repr() -> None:
    settings = Settings.from_env({"DEVON_API_KEY": "k3y-v4lue", "HF_TOKEN": "hf_t0ken"})
    assert "k3y-v4lue" not in repr(settings)
    assert "hf_t0ken" not in repr(settings)


def test_an_empty_variable_counts_as_unset() -> None:
    assert Settings.from_env({"DEVON_API_KEY": ""}).api_key is None


def test_the_config_file_is_read_from_devon_config_path(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        f'storage_path = "{tmp_path / "vault"}"\nmax_storage = "2tb"\nverify_checksums = false\n',
    )
    settings = Settings.from_env({"DEVON_CONFIG_PATH": str(config)})
    assert settings.storage_path == tmp_path / "vault"
    assert settings.max_storage_bytes == 2 * 1024**4
    assert settings.verify_checksums is False
    assert settings.config_path == config


def test_the_config_file_is_found_in_the_user_config_dir(tmp_path: Path) -> None:
    config = tmp_path / "config" / "devon" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('hf_endpoint = "http://hub.local"\n')
    assert Settings.from_env({}).hf_endpoint == "http://hub.local"


def test_environment_wins_over_the_config_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'max_storage = "2tb"\napi_key = "from-file"\n')
    settings = Settings.from_env({"DEVON_CONFIG_PATH": str(config), "DEVON_MAX_STORAGE": "1gb"})
    assert settings.max_storage_bytes == 1024**3
    assert settings.api_key == "from-file"


def test_unknown_config_keys_are_a_clear_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'storage = "/data"\n')
    with pytest.raises(InvalidInput, match=r"Unknown key\(s\) storage .*storage_path"):
        Settings.from_env({"DEVON_CONFIG_PATH": str(config)})


def test_a_config_path_that_does_not_exist_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="DEVON_CONFIG_PATH"):
        Settings.from_env({"DEVON_CONFIG_PATH": str(tmp_path / "nope.toml")})


def test_a_config_file_that_is_not_toml_is_a_clear_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, "this is = = not toml")
    with pytest.raises(InvalidInput, match="Cannot read the config file"):
        Settings.from_env({"DEVON_CONFIG_PATH": str(config)})


def test_a_bad_quota_names_the_variable() -> None:
    with pytest.raises(InvalidInput, match="DEVON_MAX_STORAGE"):
        Settings.from_env({"DEVON_MAX_STORAGE": "lots"})


def test_a_bad_boolean_names_the_variable() -> None:
    with pytest.raises(InvalidInput, match="DEVON_VERIFY_CHECKSUMS"):
        Settings.from_env({"DEVON_VERIFY_CHECKSUMS": "maybe"})


def test_a_wrongly_typed_config_value_names_the_key(tmp_path: Path) -> None:
    config = write_config(tmp_path, "hf_endpoint = 42\n")
    with pytest.raises(InvalidInput, match="hf_endpoint must be a string"):
        Settings.from_env({"DEVON_CONFIG_PATH": str(config)})


def test_storage_path_expands_the_home_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    settings = Settings.from_env({"DEVON_STORAGE_PATH": "~/models"})
    assert settings.storage_path == Path("/home/someone/models")


def test_frame_ancestors_are_read_space_or_comma_separated() -> None:
    settings = Settings.from_env(
        {"DEVON_FRAME_ANCESTORS": "https://kitt.example:8080, http://10.0.0.5 self"}
    )
    assert settings.frame_ancestors == ("https://kitt.example:8080", "http://10.0.0.5", "self")


def test_frame_ancestors_default_to_none_allowed() -> None:
    assert Settings.from_env({}).frame_ancestors == ()


def test_a_frame_ancestor_that_is_not_an_origin_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match=r"DEVON_FRAME_ANCESTORS.*not an origin"):
        Settings.from_env({"DEVON_FRAME_ANCESTORS": "https://kitt.example/path"})


def test_download_connection_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "DEVON_DOWNLOAD_CONNECTIONS": "4",
            "DEVON_DOWNLOAD_MAX_CONNECTIONS": "12",
            "DEVON_DOWNLOAD_SPLIT_SIZE": "100mb",
        }
    )

    assert settings.download_connections == 4
    assert settings.download_max_connections == 12
    assert settings.download_split_bytes == 100 * 1024 * 1024


def test_download_connection_settings_default_to_8_16_and_32_mib() -> None:
    settings = Settings.from_env({})

    assert (settings.download_connections, settings.download_max_connections) == (8, 32)
    assert settings.download_split_bytes == 32 * 1024 * 1024


@pytest.mark.parametrize("value", ["0", "-2", "many", "1.5"])
def test_download_connections_below_one_or_not_a_number_are_refused(value: str) -> None:
    with pytest.raises(InvalidInput, match="DEVON_DOWNLOAD_CONNECTIONS"):
        Settings.from_env({"DEVON_DOWNLOAD_CONNECTIONS": value})


def test_download_settings_are_read_from_the_config_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'download_connections = 2\ndownload_split_size = "1gb"\n')

    settings = Settings.from_env({"DEVON_CONFIG_PATH": str(path)})

    assert settings.download_connections == 2
    assert settings.download_split_bytes == 1024**3


def test_the_hf_cache_defaults_to_home_cache_huggingface_hub() -> None:
    assert Settings.from_env({}).hf_cache == Path.home() / ".cache" / "huggingface" / "hub"


def test_the_hf_cache_follows_xdg_cache_home_then_hf_home_then_hf_hub_cache() -> None:
    env = {"XDG_CACHE_HOME": "/x"}
    assert Settings.from_env(env).hf_cache == Path("/x/huggingface/hub")
    env["HF_HOME"] = "/h"
    assert Settings.from_env(env).hf_cache == Path("/h/hub")
    env["HF_HUB_CACHE"] = "/c"
    assert Settings.from_env(env).hf_cache == Path("/c")


def test_devon_hf_cache_overrides_where_huggingface_hub_keeps_it() -> None:
    env = {"HF_HUB_CACHE": "/c", "DEVON_HF_CACHE": "/mine"}
    assert Settings.from_env(env).hf_cache == Path("/mine")


def test_the_hf_cache_can_be_set_in_the_config_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'hf_cache = "/from/file"\n')
    assert Settings.from_env({"DEVON_CONFIG_PATH": str(config)}).hf_cache == Path("/from/file")


def test_the_index_names_the_database_setting_by_its_environment_variable() -> None:
    from devon_adapters.index.postgres import URL_SETTING
    from devon_app.settings import env_var

    assert env_var(Settings, "database_url") == URL_SETTING


def test_the_http_server_reads_its_own_section_of_the_same_settings(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'port = 9001\nallowed_hosts = ["devon.lan"]\n')
    env = {
        "DEVON_CONFIG_PATH": str(config),
        "DEVON_HOST": "0.0.0.0",
        "DEVON_MAX_EVENT_STREAMS": "7",
        "DEVON_API_KEY": "secret",
    }
    settings = Settings.from_env(env)
    http = settings.http
    assert (http.host, http.port, http.allowed_hosts) == ("0.0.0.0", 9001, ("devon.lan",))
    assert (http.max_event_streams, http.api_key) == (7, "secret")
    for name in attrs.fields_dict(HttpSettings):
        assert getattr(http, name) == getattr(settings, name)
    assert Settings(storage_path=tmp_path).http.port == Settings(storage_path=tmp_path).port
    with pytest.raises(InvalidInput, match="DEVON_PORT"):
        Settings.from_env({**env, "DEVON_PORT": "not-a-port"}).http  # noqa: B018
