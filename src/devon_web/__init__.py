"""DEVON's web page: hand-written HTML, CSS and ES modules under `static/`, and no Python.

`devon_http.web_page` serves them (`/` the page, `/ui/...` its assets), reading them as this
package's resources; the wheel ships them with the package (ADR 0289)."""
