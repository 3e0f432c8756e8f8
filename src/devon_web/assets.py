"""The page's files, read once from the package and kept with their ETags.

The HTML has one inline script, exactly `window.__DEVON_BASE_URL__=""`: a reverse proxy that
serves DEVON under a path prefix rewrites that literal, and the page builds every other URL
(assets and API) from it. The page's Content-Security-Policy allows that script by hash."""

import base64
import hashlib
from importlib.resources import files

import attrs

BASE_URL_SCRIPT = 'window.__DEVON_BASE_URL__=""'
"""The one inline script; KITT's proxy rewrites this exact text."""

CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}


@attrs.frozen
class Asset:
    name: str
    body: bytes
    content_type: str
    etag: str


def _asset(name: str, body: bytes) -> Asset:
    suffix = name[name.rfind(".") :]
    digest = hashlib.sha256(body).hexdigest()[:32]
    return Asset(name=name, body=body, content_type=CONTENT_TYPES[suffix], etag=f'"{digest}"')


def load_assets() -> dict[str, Asset]:
    """Every served file under `static/` (but the page itself) by its path below it."""
    root = files("devon_web") / "static"
    found: dict[str, Asset] = {}

    def walk(folder: object, prefix: str) -> None:
        for entry in folder.iterdir():  # type: ignore[attr-defined]
            name = f"{prefix}{entry.name}"
            if entry.is_dir():
                walk(entry, f"{name}/")
            elif name != "index.html" and entry.name[entry.name.rfind(".") :] in CONTENT_TYPES:
                found[name] = _asset(name, entry.read_bytes())

    walk(root, "")
    return found


def load_page() -> Asset:
    body = (files("devon_web") / "static" / "index.html").read_bytes()
    if body.count(f"<script>{BASE_URL_SCRIPT}</script>".encode()) != 1:
        raise RuntimeError("index.html must hold the base URL script exactly once")
    return _asset("index.html", body)


def script_hash(script: str = BASE_URL_SCRIPT) -> str:
    """The CSP source that allows exactly this inline script."""
    digest = hashlib.sha256(script.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def content_security_policy(frame_ancestors: tuple[str, ...]) -> str:
    """The page's policy: its own origin only, the base URL script by hash, framing only by
    `frame_ancestors` (none when empty)."""
    ancestors = " ".join("'self'" if o in ("self", "'self'") else o for o in frame_ancestors)
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' {script_hash()}",
            "style-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {ancestors or chr(39) + 'none' + chr(39)}",
        ]
    )
