"""DEVON's web page: hand-written HTML, CSS and ES modules, served by DEVON itself.

`page_routes(frame_ancestors)` gives the Litestar handlers for `/` (the page) and `/ui/...`
(its assets); `devon_http.create_app` mounts them beside the API."""

from devon_web.routes import page_routes

__all__ = ["page_routes"]
