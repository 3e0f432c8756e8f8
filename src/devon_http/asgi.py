"""The app as uvicorn loads it: `uvicorn --factory devon_http.asgi:create_default_app`.

Each server worker process calls the factory and so builds its own `Devon` from the
environment (`Settings.from_env()`); the vault they share is safe for several processes.
"""

from devon_adapters import Settings, build_devon
from devon_core import Devon
from devon_http.app import create_app
from devon_http.request_log import RequestLog, configure_logging


def create_app_from_settings(settings: Settings, devon: Devon | None = None) -> RequestLog:
    """The app over the vault and sources `settings` describe (`devon`, if given, is the
    `Devon` already built from them), logging each request."""
    devon = build_devon(settings) if devon is None else devon
    return RequestLog(
        create_app(devon, api_key=settings.api_key, frame_ancestors=settings.frame_ancestors)
    )


def create_default_app() -> RequestLog:
    """The app configured by DEVON_* environment variables and the config file."""
    configure_logging()
    return create_app_from_settings(Settings.from_env())
