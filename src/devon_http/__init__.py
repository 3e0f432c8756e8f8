"""DEVON's HTTP API: a Litestar app mapping each documented endpoint onto the `Devon` facade."""

from devon_http.app import create_app

__all__ = ["create_app"]
