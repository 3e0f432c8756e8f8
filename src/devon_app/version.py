"""DEVON's own version, for the drivers (`GET /health`, the OpenAPI document, `--version`).
Looked up in the adapters (`devon_adapters.installed`), which name it to the Hub too."""

from devon_adapters.installed import devon_version

__all__ = ["devon_version"]
