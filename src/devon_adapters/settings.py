"""DEVON's settings: environment variables, over an optional TOML file, over defaults.

| Env var                 | File key           | Default                                   |
|-------------------------|--------------------|-------------------------------------------|
| DEVON_STORAGE_PATH      | storage_path       | platformdirs user data dir `devon/models` |
| DEVON_MAX_STORAGE       | max_storage        | no quota                                  |
| DEVON_VERIFY_CHECKSUMS  | verify_checksums   | true                                      |
| DEVON_API_KEY           | api_key            | none (HTTP API open)                      |
| HF_TOKEN                | hf_token           | none                                      |
| HF_ENDPOINT             | hf_endpoint        | none (huggingface.co)                     |
| DEVON_DOWNLOAD_CONNECTIONS | download_connections | 8 (concurrent ranges of one large file) |
| DEVON_DOWNLOAD_MAX_CONNECTIONS | download_max_connections | 16 (file transfers per process) |
| DEVON_DOWNLOAD_SPLIT_SIZE | download_split_size | 32mb (larger files go as ranges)        |
| DEVON_CONFIG_PATH       | -                  | platformdirs user config dir `devon/config.toml` |
"""

import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs
import platformdirs

from devon_core.errors import InvalidInput
from devon_core.filters import parse_byte_size

APP_NAME = "devon"
CONFIG_FILE = "config.toml"

ENV_VARS: dict[str, str] = {
    "storage_path": "DEVON_STORAGE_PATH",
    "max_storage": "DEVON_MAX_STORAGE",
    "verify_checksums": "DEVON_VERIFY_CHECKSUMS",
    "api_key": "DEVON_API_KEY",
    "hf_token": "HF_TOKEN",
    "hf_endpoint": "HF_ENDPOINT",
    "download_connections": "DEVON_DOWNLOAD_CONNECTIONS",
    "download_max_connections": "DEVON_DOWNLOAD_MAX_CONNECTIONS",
    "download_split_size": "DEVON_DOWNLOAD_SPLIT_SIZE",
}
"""Config file key -> the environment variable that overrides it."""

CONFIG_PATH_VAR = "DEVON_CONFIG_PATH"

DEFAULT_DOWNLOAD_CONNECTIONS = 8
DEFAULT_DOWNLOAD_MAX_CONNECTIONS = 16
DEFAULT_DOWNLOAD_SPLIT_SIZE = 32 * 1024 * 1024

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def default_storage_path() -> Path:
    return platformdirs.user_data_path(APP_NAME) / "models"


def default_config_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / CONFIG_FILE


@attrs.frozen
class Settings:
    """Everything the adapters need to be built. Build with `Settings.from_env()`, or
    directly (every field has a default) in scripts and tests."""

    storage_path: Path = attrs.field(factory=default_storage_path, converter=Path)
    max_storage_bytes: int | None = None
    verify_checksums: bool = True
    api_key: str | None = attrs.field(default=None, repr=False)
    hf_token: str | None = attrs.field(default=None, repr=False)
    hf_endpoint: str | None = None
    download_connections: int = DEFAULT_DOWNLOAD_CONNECTIONS
    """Concurrent `Range` requests for one file larger than `download_split_bytes`."""
    download_max_connections: int = DEFAULT_DOWNLOAD_MAX_CONNECTIONS
    """File transfers at once in one process, across files and downloads."""
    download_split_bytes: int = DEFAULT_DOWNLOAD_SPLIT_SIZE
    """Files larger than this are fetched as concurrent ranges."""
    config_path: Path | None = None
    """The config file that was read, if any."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Settings from `environ` (default `os.environ`) over the config file over defaults.

        Raises InvalidInput naming the variable or key when a value cannot be used."""
        env = os.environ if environ is None else environ
        config_path, values = _read_config(env)
        for key, var in ENV_VARS.items():
            if env.get(var, "").strip():
                values[key] = (env[var], var)
        return cls(
            storage_path=_take(values, "storage_path", _path, default_storage_path()),
            max_storage_bytes=_take(values, "max_storage", _size, None),
            verify_checksums=_take(values, "verify_checksums", _bool, True),
            api_key=_take(values, "api_key", _text, None),
            hf_token=_take(values, "hf_token", _text, None),
            hf_endpoint=_take(values, "hf_endpoint", _text, None),
            download_connections=_take(
                values, "download_connections", _positive, DEFAULT_DOWNLOAD_CONNECTIONS
            ),
            download_max_connections=_take(
                values, "download_max_connections", _positive, DEFAULT_DOWNLOAD_MAX_CONNECTIONS
            ),
            download_split_bytes=_take(
                values, "download_split_size", _required_size, DEFAULT_DOWNLOAD_SPLIT_SIZE
            ),
            config_path=config_path,
        )


T = TypeVar("T")

Origin = tuple[Any, str]
"""A raw value and where it came from (an env var name, or `file: key`), for error messages."""


def _read_config(env: Mapping[str, str]) -> tuple[Path | None, dict[str, Origin]]:
    explicit = env.get(CONFIG_PATH_VAR, "").strip()
    path = Path(explicit).expanduser() if explicit else default_config_path()
    if not path.is_file():
        if explicit:
            raise InvalidInput(f"{CONFIG_PATH_VAR} is {explicit!r}, but there is no such file")
        return None, {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise InvalidInput(f"Cannot read the config file {path}: {error}") from None
    unknown = sorted(set(data) - set(ENV_VARS))
    if unknown:
        raise InvalidInput(
            f"Unknown key(s) {', '.join(unknown)} in {path}: "
            f"the known keys are {', '.join(sorted(ENV_VARS))}"
        )
    return path, {key: (value, f"{path}: {key}") for key, value in data.items()}


def _take(values: dict[str, Origin], key: str, parse: Callable[[Any, str], T], default: T) -> T:
    if key not in values:
        return default
    raw, origin = values[key]
    return parse(raw, origin)


def _text(raw: Any, origin: str) -> str | None:
    if not isinstance(raw, str):
        raise InvalidInput(f"{origin} must be a string, got {raw!r}")
    return raw.strip() or None


def _path(raw: Any, origin: str) -> Path:
    text = _text(raw, origin)
    if text is None:
        raise InvalidInput(f"{origin} must not be empty")
    return Path(os.path.abspath(Path(text).expanduser()))


def _size(raw: Any, origin: str) -> int | None:
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return raw
    if not isinstance(raw, str):
        raise InvalidInput(f"{origin} must be a size like '500gb', got {raw!r}")
    try:
        return parse_byte_size(raw)
    except InvalidInput as error:
        raise InvalidInput(f"{origin}: {error}") from None


def _required_size(raw: Any, origin: str) -> int:
    size = _size(raw, origin)
    if size is None:
        raise InvalidInput(f"{origin} must be a size like '32mb', got {raw!r}")
    return size


def _positive(raw: Any, origin: str) -> int:
    if isinstance(raw, bool):
        raise InvalidInput(f"{origin} must be a whole number of at least 1, got {raw!r}")
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = 0
    if value < 1:
        raise InvalidInput(f"{origin} must be a whole number of at least 1, got {raw!r}")
    return value


def _bool(raw: Any, origin: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInput(f"{origin} must be true or false (1/0, yes/no, on/off), got {raw!r}")
