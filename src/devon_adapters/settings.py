"""DEVON's settings: environment variables, over an optional TOML file, over defaults.

| Env var                 | File key           | Default                                   |
|-------------------------|--------------------|-------------------------------------------|
| DEVON_STORAGE_PATH      | storage_path       | platformdirs user data dir `devon/models` |
| DEVON_MAX_STORAGE       | max_storage        | no quota                                  |
| DEVON_VERIFY_CHECKSUMS  | verify_checksums   | true                                      |
| DEVON_API_KEY           | api_key            | none (HTTP API open)                      |
| HF_TOKEN                | hf_token           | none                                      |
| HF_ENDPOINT             | hf_endpoint        | none (huggingface.co)                     |
| DEVON_ALLOWED_HOSTS     | allowed_hosts      | loopback names when serving on loopback   |
| DEVON_CORS_ORIGINS      | cors_origins       | none (only the server's own origin)       |
| DEVON_FRAME_ANCESTORS   | frame_ancestors    | none (framing denied)                     |
| DEVON_HEADER_TIMEOUT    | header_timeout     | 10 (seconds to send a request's headers)  |
| DEVON_KEEPALIVE_TIMEOUT | keepalive_timeout  | 5 (seconds an idle connection stays open) |
| DEVON_MAX_CONNECTIONS   | max_connections    | 512 (open connections per server process) |
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
    "allowed_hosts": "DEVON_ALLOWED_HOSTS",
    "cors_origins": "DEVON_CORS_ORIGINS",
    "frame_ancestors": "DEVON_FRAME_ANCESTORS",
    "header_timeout": "DEVON_HEADER_TIMEOUT",
    "keepalive_timeout": "DEVON_KEEPALIVE_TIMEOUT",
    "max_connections": "DEVON_MAX_CONNECTIONS",
}
"""Config file key -> the environment variable that overrides it."""

CONFIG_PATH_VAR = "DEVON_CONFIG_PATH"

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_KEEPALIVE_TIMEOUT_S = 5.0
DEFAULT_MAX_CONNECTIONS = 512


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
    allowed_hosts: tuple[str, ...] = ()
    """Host names the HTTP server answers to; empty: the loopback names when it listens on
    loopback, any name otherwise (with a warning at start). `*` accepts any."""
    cors_origins: tuple[str, ...] = ()
    """Browser origins besides the server's own that may call the API (`*`: any)."""
    frame_ancestors: tuple[str, ...] = ()
    """Origins allowed to frame DEVON's pages; empty: framing denied."""
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    keepalive_timeout_s: float = DEFAULT_KEEPALIVE_TIMEOUT_S
    max_connections: int = DEFAULT_MAX_CONNECTIONS
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
            allowed_hosts=_take(values, "allowed_hosts", _list, ()),
            cors_origins=_take(values, "cors_origins", _list, ()),
            frame_ancestors=_take(values, "frame_ancestors", _list, ()),
            header_timeout_s=_take(values, "header_timeout", _seconds, DEFAULT_HEADER_TIMEOUT_S),
            keepalive_timeout_s=_take(
                values, "keepalive_timeout", _seconds, DEFAULT_KEEPALIVE_TIMEOUT_S
            ),
            max_connections=_take(values, "max_connections", _count, DEFAULT_MAX_CONNECTIONS),
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


def _bool(raw: Any, origin: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInput(f"{origin} must be true or false (1/0, yes/no, on/off), got {raw!r}")


def _list(raw: Any, origin: str) -> tuple[str, ...]:
    """Names separated by spaces or commas (a TOML list of strings in the file)."""
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        items = raw
    elif isinstance(raw, str):
        items = raw.replace(",", " ").split()
    else:
        raise InvalidInput(f"{origin} must be names separated by spaces or commas, got {raw!r}")
    return tuple(item.strip() for item in items if item.strip())


def _seconds(raw: Any, origin: str) -> float:
    try:
        value = float(raw) if not isinstance(raw, bool) else -1.0
    except (TypeError, ValueError):
        value = -1.0
    if not 0 < value <= 3600:
        raise InvalidInput(f"{origin} must be seconds above 0, at most 3600: got {raw!r}")
    return value


def _count(raw: Any, origin: str) -> int:
    try:
        value = int(raw) if not isinstance(raw, bool | float) else 0
    except (TypeError, ValueError):
        value = 0
    if value < 1:
        raise InvalidInput(f"{origin} must be a whole number of at least 1, got {raw!r}")
    return value
