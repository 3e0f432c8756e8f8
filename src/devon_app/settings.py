"""DEVON's settings: environment variables, over an optional TOML file, over defaults.

Each setting is declared once, as a field of `Settings` made with `setting(...)`: its config
file key, environment variable, parser, help and (for `devon serve`) command-line flag all
come from that one declaration. `from_env` reads them, `devon doctor` describes them,
`devon serve` derives its flags and hands them to its workers, and a test checks the table
in docs/vault.md against them.

A source plugin declares its own settings the same way, on an attrs class of its own, and
reads them with `Settings.section(name, cls)`: from the config file's `[name]` table and
the environment variables it declares.

The HTTP server reads only its own section, `Settings.http` (an `HttpSettings`): the fields
it needs, taken from the declarations here.
"""

import os
import socket
import tomllib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs
import platformdirs

from devon_core.errors import InvalidInput
from devon_core.filters import parse_byte_size
from devon_core.identifiers import validate_source_name
from devon_core.jobs import DEFAULT_MAX_QUEUED
from devon_core.rules import format_bytes

APP_NAME = "devon"
CONFIG_FILE = "config.toml"
CONFIG_PATH_VAR = "DEVON_CONFIG_PATH"
_SPEC = "devon.setting"

DEFAULT_MAX_CONCURRENT_DOWNLOADS = 2
MAX_CONCURRENT_DOWNLOADS_LIMIT = 64

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})

T = TypeVar("T")
C = TypeVar("C")

Origin = tuple[Any, str]
"""A raw value and where it came from (an env var name, or `file: key`), for error messages."""


@attrs.frozen
class SettingSpec:
    """What one declaration says about a setting, beyond its field name and default."""

    key: str
    env: str
    parse: Callable[[Any, str], Any]
    help: str
    default_text: str
    secret: bool = False
    flag: str | None = None
    to_text: Callable[[Any], str] = str
    """The value as its environment variable would say it."""
    show: Callable[[Any], str] | None = None
    """The value for people (`devon doctor`), when `to_text` is not the best form."""


def setting(
    *,
    key: str,
    env: str,
    parse: Callable[[Any, str], Any],
    help: str,
    default: Any = None,
    factory: Callable[[], Any] | None = None,
    default_text: str | None = None,
    secret: bool = False,
    flag: str | None = None,
    to_text: Callable[[Any], str] = str,
    show: Callable[[Any], str] | None = None,
    converter: Callable[[Any], Any] | None = None,
) -> Any:
    """Declare one setting as an attrs field (see the module docstring)."""
    spec = SettingSpec(
        key=key,
        env=env,
        parse=parse,
        help=help,
        default_text=default_text if default_text is not None else _describe_default(default),
        secret=secret,
        flag=flag,
        to_text=to_text,
        show=show,
    )
    if factory is not None:
        return attrs.field(
            factory=factory, converter=converter, repr=not secret, metadata={_SPEC: spec}
        )
    return attrs.field(
        default=default, converter=converter, repr=not secret, metadata={_SPEC: spec}
    )


def specs(cls: type) -> Iterator[tuple[str, SettingSpec]]:
    """(field name, declaration) of every setting of an attrs settings class, in order."""
    for field in attrs.fields(cls):
        spec = field.metadata.get(_SPEC)
        if spec is not None:
            yield field.name, spec


def env_var(cls: type, name: str) -> str:
    """The environment variable the declaration of field `name` of settings class `cls`
    reads (for a message telling a person what to set)."""
    return dict(specs(cls))[name].env


def default_storage_path() -> Path:
    return platformdirs.user_data_path(APP_NAME) / "models"


def default_hf_cache(environ: Mapping[str, str] | None = None) -> Path:
    """Where huggingface_hub keeps its cache, found the way it finds it: `HF_HUB_CACHE`, else
    the legacy `HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`, else
    `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`. Read from `environ`
    each time (huggingface_hub reads it once, at import)."""
    env = os.environ if environ is None else environ

    def expanded(value: str) -> str:
        return os.path.expandvars(os.path.expanduser(value))

    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(var):
            return Path(os.path.abspath(expanded(env[var])))
    home = env.get("HF_HOME") or os.path.join(
        env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "huggingface",
    )
    return Path(os.path.abspath(expanded(home))) / "hub"


def default_config_path() -> Path:
    return platformdirs.user_config_path(APP_NAME) / CONFIG_FILE


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


def parse_bool(raw: Any, origin: str) -> bool:
    """A true/false setting: a TOML boolean, or 1/0, true/false, yes/no, on/off."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInput(f"{origin} must be true or false (1/0, yes/no, on/off), got {raw!r}")


def parse_text(raw: Any, origin: str) -> str | None:
    return _text(raw, origin)


DATABASE_SCHEMES = ("postgresql://", "postgres://")


def _database_url(raw: Any, origin: str) -> str | None:
    text = _text(raw, origin)
    if text is not None and not text.startswith(DATABASE_SCHEMES):
        raise InvalidInput(
            f"{origin} must be a PostgreSQL URL (postgresql://user@host:port/database), "
            f"got {redact_url(text)!r}"
        )
    return text


def redact_url(url: str) -> str:
    """`url` without its password (`postgresql://devon:***@db/devon`), for messages."""
    scheme, sep, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    user = credentials.partition(":")[0]
    return f"{scheme}://{user}:***@{location}"


HUGGING_FACE = "huggingface"
"""The Hugging Face source's name: the default `default_source`, and the source the Hugging
Face cache's models are adopted under."""


def _source_name(raw: Any, origin: str) -> str:
    name = _required_text(raw, origin)
    try:
        return validate_source_name(name)
    except InvalidInput as error:
        raise InvalidInput(f"{origin}: {error}") from None


def _required_text(raw: Any, origin: str) -> str:
    text = _text(raw, origin)
    if text is None:
        raise InvalidInput(f"{origin} must not be empty")
    return text


def int_parser(low: int, high: int | None = None) -> Callable[[Any, str], int]:
    """A parser of whole numbers from `low` to `high` (no upper bound when None)."""

    def parse(raw: Any, origin: str) -> int:
        try:
            value = raw if isinstance(raw, int) and not isinstance(raw, bool) else int(str(raw))
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            span = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise InvalidInput(f"{origin} must be a whole number {span}, got {raw!r}")
        return value

    return parse


def parse_origins(raw: Any, origin: str) -> tuple[str, ...]:
    """Origins separated by spaces or commas (a TOML list of strings works too)."""
    parts = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(part, str) for part in parts):
        raise InvalidInput(f"{origin} must be origins like 'https://kitt.example', got {raw!r}")
    found = tuple(o for part in parts for o in part.replace(",", " ").split())
    bad = [o for o in found if not _is_origin(o)]
    if bad:
        raise InvalidInput(
            f"{origin}: {bad[0]!r} is not an origin (scheme://host[:port], e.g. "
            "'https://kitt.example:8080', or 'self')"
        )
    return found


def _is_origin(text: str) -> bool:
    if text in ("self", "'self'"):
        return True
    scheme, sep, rest = text.partition("://")
    return (
        bool(sep)
        and scheme in ("http", "https")
        and bool(rest)
        and rest.isprintable()
        and not (set(rest) & set("/;'\"\\ "))
    )


DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_KEEPALIVE_TIMEOUT_S = 5.0
DEFAULT_MAX_CONNECTIONS = 512
DEFAULT_MAX_EVENT_STREAMS = 64


def parse_names(raw: Any, origin: str) -> tuple[str, ...]:
    """Names separated by spaces or commas (a list of strings in the config file)."""
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        items = raw
    elif isinstance(raw, str):
        items = raw.replace(",", " ").split()
    else:
        raise InvalidInput(f"{origin} must be names separated by spaces or commas, got {raw!r}")
    return tuple(item.strip() for item in items if item.strip())


def _names_text(value: Any) -> str:
    return " ".join(value)


def parse_seconds(raw: Any, origin: str) -> float:
    """A number of seconds above 0, at most an hour."""
    try:
        value = float(raw) if not isinstance(raw, bool) else -1.0
    except (TypeError, ValueError):
        value = -1.0
    if not 0 < value <= 3600:
        raise InvalidInput(f"{origin} must be seconds above 0, at most 3600: got {raw!r}")
    return value


def _bool_text(value: Any) -> str:
    return "true" if value else "false"


def _describe_default(default: Any) -> str:
    if default is None:
        return "none"
    if isinstance(default, bool):
        return _bool_text(default)
    return str(default)


@attrs.frozen
class HttpSettings:
    """The HTTP server's own settings (`Settings.http`): what `devon_http` reads to listen
    and to answer. Each is the value of `Settings`' field of the same name, so the same
    environment variable, config key, default and error (`DEVON_HOST`, `host`, ...)."""

    host: str
    port: int
    workers: int
    api_key: str | None
    allowed_hosts: tuple[str, ...]
    cors_origins: tuple[str, ...]
    frame_ancestors: tuple[str, ...]
    header_timeout_s: float
    keepalive_timeout_s: float
    max_connections: int
    hub_pull_through: bool
    max_event_streams: int


@attrs.frozen
class Settings:
    """Everything the adapters need to be built. Build with `Settings.from_env()`, or
    directly (every field has a default) in scripts and tests."""

    storage_path: Path = setting(
        key="storage_path",
        env="DEVON_STORAGE_PATH",
        parse=_path,
        factory=default_storage_path,
        converter=Path,
        default_text="user data dir + `models` (`~/.local/share/devon/models` on Linux)",
        help="Where the vault lives.",
    )
    max_storage_bytes: int | None = setting(
        key="max_storage",
        env="DEVON_MAX_STORAGE",
        parse=_size,
        show=format_bytes,
        default_text="no quota; e.g. `500gb`, `1.5tb` (powers of 1024; a bare number is bytes)",
        help="The most the vault may hold.",
    )
    database_url: str | None = setting(
        key="database_url",
        env="DEVON_DATABASE_URL",
        parse=_database_url,
        show=redact_url,
        default_text="none: the index is SQLite in `.devon/` (e.g. `postgresql://host/devon`)",
        help="A PostgreSQL database for the vault's index and locks (many hosts, one vault).",
    )
    verify_checksums: bool = setting(
        key="verify_checksums",
        env="DEVON_VERIFY_CHECKSUMS",
        parse=parse_bool,
        default=True,
        to_text=_bool_text,
        default_text="`true` (`1/0`, `true/false`, `yes/no`, `on/off`)",
        help="Check every downloaded file against the source's sha256.",
    )
    api_key: str | None = setting(
        key="api_key",
        env="DEVON_API_KEY",
        parse=_text,
        secret=True,
        default_text="none: the HTTP API is open",
        help="Require 'Authorization: Bearer <key>' on the HTTP API.",
    )
    hf_token: str | None = setting(
        key="hf_token",
        env="HF_TOKEN",
        parse=_text,
        secret=True,
        help="Hugging Face token, for gated and private models.",
    )
    hf_endpoint: str | None = setting(
        key="hf_endpoint",
        env="HF_ENDPOINT",
        parse=_text,
        default_text="none: `https://huggingface.co`",
        help="The Hugging Face Hub (or a mirror) to talk to.",
    )
    download_connections: int = setting(
        key="download_connections",
        env="DEVON_DOWNLOAD_CONNECTIONS",
        parse=int_parser(1),
        default=8,
        default_text="`8`: concurrent ranges a file larger than the split size starts with "
        "(unless its host settled at another count before)",
        help="Concurrent range requests a large file starts with (1: one stream per file).",
    )
    download_max_connections: int = setting(
        key="download_max_connections",
        env="DEVON_DOWNLOAD_MAX_CONNECTIONS",
        parse=int_parser(1),
        default=32,
        default_text="`32`: file transfers at once in one process (every file, every download; "
        "shared fairly between downloads)",
        help="File transfers at once in one process, across files and downloads.",
    )
    download_connections_max: int = setting(
        key="download_connections_max",
        env="DEVON_DOWNLOAD_CONNECTIONS_MAX",
        parse=int_parser(1, 256),
        default=32,
        default_text="`32`: the most concurrent ranges one large file grows to while each "
        "growth adds throughput ([Hugging Face](huggingface.md#connections))",
        help="The most concurrent range requests one large file grows to.",
    )
    download_stall_seconds: float = setting(
        key="download_stall_timeout",
        env="DEVON_DOWNLOAD_STALL_TIMEOUT",
        parse=parse_seconds,
        default=5.0,
        to_text=repr,
        default_text="`5` seconds: a file connection that delivers nothing this long is "
        "closed and its bytes asked of another",
        help="Seconds a file connection may deliver nothing before it is dropped.",
    )
    download_split_bytes: int = setting(
        key="download_split_size",
        env="DEVON_DOWNLOAD_SPLIT_SIZE",
        parse=_required_size,
        default=32 * 1024 * 1024,
        show=format_bytes,
        default_text="`32mb`: larger files are fetched as concurrent ranges "
        "([Hugging Face](huggingface.md#large-files-concurrent-ranges))",
        help="Files larger than this are fetched as concurrent range requests.",
    )
    hf_cache: Path = setting(
        key="hf_cache",
        env="DEVON_HF_CACHE",
        parse=_path,
        factory=default_hf_cache,
        converter=Path,
        default_text="huggingface_hub's cache: `HF_HUB_CACHE`, else `$HF_HOME/hub`, else "
        "`$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`",
        help="The Hugging Face cache `devon adopt` takes models from.",
    )
    hf_cache_view: bool = setting(
        key="hf_cache_view",
        env="DEVON_HF_CACHE_VIEW",
        parse=parse_bool,
        default=False,
        to_text=_bool_text,
        default_text="`false`: when true, the vault's view in `DEVON_HF_CACHE` is kept current "
        "([Hugging Face cache view](hf-cache.md))",
        help="Keep a Hugging Face cache view of the vault in DEVON_HF_CACHE current after every "
        "download, removal and scan.",
    )
    max_concurrent_downloads: int = setting(
        key="max_concurrent_downloads",
        env="DEVON_MAX_CONCURRENT_DOWNLOADS",
        parse=int_parser(1, MAX_CONCURRENT_DOWNLOADS_LIMIT),
        default=DEFAULT_MAX_CONCURRENT_DOWNLOADS,
        default_text="`2`: download jobs running at once in the vault (1 to 64)",
        help="Download jobs running at once in the vault, all processes together.",
    )
    host_name: str = setting(
        key="host_name",
        env="DEVON_HOST_NAME",
        parse=_required_text,
        factory=socket.gethostname,
        default_text="the machine's host name",
        help="This host's name in the download jobs it runs (unique per host on a shared vault).",
    )
    job_stale_after: int = setting(
        key="job_stale_after",
        env="DEVON_JOB_STALE_AFTER",
        parse=int_parser(2, 3600),
        default=30,
        default_text="`30` seconds (2 to 3600)",
        help="A running job whose host has not marked it alive for this long is taken over.",
    )
    max_queued_jobs: int = setting(
        key="max_queued_jobs",
        env="DEVON_MAX_QUEUED_JOBS",
        parse=int_parser(1),
        default=DEFAULT_MAX_QUEUED,
        default_text="`1000` download jobs waiting in the vault's queue; one more gets 429",
        help="Download jobs the vault's queue holds at once; a request for one more gets 429.",
    )
    default_source: str = setting(
        key="default_source",
        env="DEVON_DEFAULT_SOURCE",
        parse=_source_name,
        default=HUGGING_FACE,
        default_text="`huggingface`",
        help="The source a command or request uses when it names none (--source).",
    )
    host: str = setting(
        key="host",
        env="DEVON_HOST",
        parse=_required_text,
        default="127.0.0.1",
        flag="--host",
        help="Address `devon serve` listens on.",
    )
    port: int = setting(
        key="port",
        env="DEVON_PORT",
        parse=int_parser(1, 65535),
        default=8000,
        flag="--port",
        help="Port `devon serve` listens on.",
    )
    workers: int = setting(
        key="workers",
        env="DEVON_WORKERS",
        parse=int_parser(1),
        default=1,
        flag="--workers",
        help="Server processes of `devon serve`.",
    )
    allowed_hosts: tuple[str, ...] = setting(
        key="allowed_hosts",
        env="DEVON_ALLOWED_HOSTS",
        parse=parse_names,
        default=(),
        to_text=_names_text,
        default_text="`localhost 127.0.0.1 ::1` when serving on loopback; any host (with a "
        "warning) elsewhere; `*` accepts any",
        help="Host names the HTTP server answers to (others get 400): DNS rebinding.",
    )
    cors_origins: tuple[str, ...] = setting(
        key="cors_origins",
        env="DEVON_CORS_ORIGINS",
        parse=parse_names,
        default=(),
        to_text=_names_text,
        default_text="none: only the server's own origin; e.g. `https://kitt.lan:3000`, `*`",
        help="Browser origins besides the server's own that may call the API (others get 403).",
    )
    frame_ancestors: tuple[str, ...] = setting(
        key="frame_ancestors",
        env="DEVON_FRAME_ANCESTORS",
        parse=parse_origins,
        default=(),
        to_text=" ".join,
        default_text="none: no other site may show the web page in a frame; origins separated "
        "by spaces or commas, e.g. `https://kitt.example:8080` (see [ui.md](ui.md))",
        help="Origins allowed to show DEVON's web page in a frame.",
    )
    header_timeout_s: float = setting(
        key="header_timeout",
        env="DEVON_HEADER_TIMEOUT",
        parse=parse_seconds,
        default=DEFAULT_HEADER_TIMEOUT_S,
        to_text=repr,
        default_text="`10` seconds for a request's headers to arrive",
        help="Seconds a client has to send a request's headers before it is cut off.",
    )
    keepalive_timeout_s: float = setting(
        key="keepalive_timeout",
        env="DEVON_KEEPALIVE_TIMEOUT",
        parse=parse_seconds,
        default=DEFAULT_KEEPALIVE_TIMEOUT_S,
        to_text=repr,
        default_text="`5` seconds an idle connection stays open",
        help="Seconds an idle connection between requests stays open.",
    )
    max_connections: int = setting(
        key="max_connections",
        env="DEVON_MAX_CONNECTIONS",
        parse=int_parser(1),
        default=DEFAULT_MAX_CONNECTIONS,
        default_text="`512` open connections per server process",
        help="Open connections per server process; one more gets 503.",
    )
    hub_pull_through: bool = setting(
        key="hub_pull_through",
        env="DEVON_HUB_PULL_THROUGH",
        parse=parse_bool,
        default=False,
        to_text=_bool_text,
        default_text="`false`: the Hub paths answer only what the vault holds",
        help="Hub paths list missing models from upstream; a file read downloads it.",
    )
    max_source_answer_bytes: int = setting(
        key="max_source_answer",
        env="DEVON_MAX_SOURCE_ANSWER",
        parse=_required_size,
        default=4 * 1024 * 1024,
        show=format_bytes,
        default_text="`4mb`: one page of a source's model list, or one model's record "
        "(and one listed file per 400 bytes of it); more is a 502 "
        "([security.md](security.md#what-a-source-may-send-bounded-answers-redirects))",
        help="The most bytes one answer of a source that is not a file may have.",
    )
    source_answer_timeout_s: float = setting(
        key="source_answer_timeout",
        env="DEVON_SOURCE_ANSWER_TIMEOUT",
        parse=parse_seconds,
        default=60.0,
        to_text=repr,
        default_text="`60` seconds for a source's whole answer (not a file) to arrive",
        help="Seconds a source has to send one whole answer that is not a file.",
    )
    redirect_hosts: tuple[str, ...] = setting(
        key="redirect_hosts",
        env="DEVON_REDIRECT_HOSTS",
        parse=parse_names,
        default=(),
        to_text=_names_text,
        default_text="none: redirects go only to public addresses or to the kind of address "
        "the source's endpoint has; names, addresses or networks, e.g. `cdn.lan 10.1.0.0/16`",
        help="Hosts a source may redirect to besides those the redirect rule allows.",
    )
    max_event_streams: int = setting(
        key="max_event_streams",
        env="DEVON_MAX_EVENT_STREAMS",
        parse=int_parser(1),
        default=DEFAULT_MAX_EVENT_STREAMS,
        default_text="`64` open job event streams per server process; one more gets 503",
        help="Open job event streams per server process; one more gets 503.",
    )
    upstream: str | None = setting(
        key="upstream",
        env="DEVON_UPSTREAM",
        parse=_text,
        default_text="none: this DEVON is not a fleet host",
        help="Another DEVON (its URL) that is this host's only source of Hugging Face models.",
    )
    upstream_key: str | None = setting(
        key="upstream_key",
        env="DEVON_UPSTREAM_KEY",
        parse=_text,
        secret=True,
        default_text="none: the upstream's API is open",
        help="The upstream DEVON's API key (its DEVON_API_KEY).",
    )
    public_url: str | None = setting(
        key="public_url",
        env="DEVON_PUBLIC_URL",
        parse=_text,
        default_text="none: peers do not fetch from this host",
        help="The URL other DEVONs reach this one at (sent to the upstream, offered to peers).",
    )
    heartbeat_interval: float = setting(
        key="heartbeat_interval",
        env="DEVON_HEARTBEAT_INTERVAL",
        parse=parse_seconds,
        default=10.0,
        to_text=repr,
        default_text="`10` seconds between a host's reports to its upstream",
        help="Seconds between a fleet host's heartbeats to its upstream DEVON.",
    )
    config_path: Path | None = None
    """The config file that was read, if any."""
    sections: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict, repr=False)
    """The config file's tables (`[name]`), raw, for plugins' own settings."""

    @property
    def http(self) -> HttpSettings:
        """The HTTP server's section of these settings."""
        return HttpSettings(**{f.name: getattr(self, f.name) for f in attrs.fields(HttpSettings)})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Settings from `environ` (default `os.environ`) over the config file over defaults.

        Raises InvalidInput naming the variable or key when a value cannot be used."""
        env = os.environ if environ is None else environ
        config_path, data = _read_config(env)
        sections = {k: v for k, v in data.items() if isinstance(v, dict)}
        top = {k: v for k, v in data.items() if not isinstance(v, dict)}
        where = f"{config_path}: " if config_path else ""
        _refuse_unknown(top, cls, str(config_path))
        values = read_declared(cls, env, top, where)
        values.setdefault("hf_cache", default_hf_cache(env))  # found from `env`, not os.environ
        return cls(**values, config_path=config_path, sections=sections)

    def section(self, name: str, cls: type[C], environ: Mapping[str, str] | None = None) -> C:
        """A plugin's settings: `cls` (an attrs class whose fields are made with `setting`)
        from the config file's `[name]` table and the environment variables it declares."""
        env = os.environ if environ is None else environ
        table = dict(self.sections.get(name, {}))
        _refuse_unknown(table, cls, f"{self.config_path} [{name}]")
        where = f"{self.config_path} [{name}]: " if self.config_path else ""
        return cls(**read_declared(cls, env, table, where))

    def as_env(self) -> dict[str, str]:
        """The environment variables that make `Settings.from_env()` give these settings
        (how `devon serve --workers N` hands them to its worker processes)."""
        return {
            spec.env: spec.to_text(getattr(self, name))
            for name, spec in specs(type(self))
            if getattr(self, name) is not None
        }

    def describe(self) -> list[tuple[str, str]]:
        """(config key, value) of every setting, secrets shown only as set or not."""
        rows = [("config_file", str(self.config_path) if self.config_path else "none read")]
        for name, spec in specs(type(self)):
            value = getattr(self, name)
            if spec.secret:
                shown = "set" if value else "not set"
            elif value is None:
                shown = "none"
            else:
                shown = (spec.show or spec.to_text)(value)
            rows.append((spec.key, shown))
        return rows


def read_declared(
    cls: type, env: Mapping[str, str], table: Mapping[str, Any], where: str
) -> dict[str, Any]:
    """The values of `cls`'s declared settings found in `env` (non-empty variables win) or
    `table`, parsed; undeclared ones are left to their defaults."""
    values: dict[str, Any] = {}
    for name, spec in specs(cls):
        raw: Origin | None = None
        if spec.key in table:
            raw = (table[spec.key], f"{where}{spec.key}")
        if env.get(spec.env, "").strip():
            raw = (env[spec.env], spec.env)
        if raw is not None:
            values[name] = spec.parse(*raw)
    return values


def _refuse_unknown(table: Mapping[str, Any], cls: type, where: str) -> None:
    known = {spec.key for _, spec in specs(cls)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise InvalidInput(
            f"Unknown key(s) {', '.join(unknown)} in {where}: "
            f"the known keys are {', '.join(sorted(known))}"
        )


def _read_config(env: Mapping[str, str]) -> tuple[Path | None, dict[str, Any]]:
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
    return path, data
