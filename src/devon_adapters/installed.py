"""DEVON's own version, looked up once in the installed package's metadata."""

from functools import cache
from importlib import metadata


@cache
def devon_version() -> str:
    """The installed `devon` package's version (`0+unknown` from a never-installed tree)."""
    try:
        return metadata.version("devon")
    except metadata.PackageNotFoundError:
        return "0+unknown"
