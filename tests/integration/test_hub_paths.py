"""Which of the Hub's endpoints a request path names."""

import pytest

from devon_http.hub_paths import (
    INFO,
    NOT_SERVED,
    READ_ONLY,
    REFS,
    RESOLVE,
    TREE,
    HubPath,
    parse_hub_path,
)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/api/models/acme/m", HubPath(INFO, "acme/m")),
        ("GET", "/api/models/gpt2", HubPath(INFO, "gpt2")),
        ("GET", "/api/models/acme/m/revision/abc123", HubPath(INFO, "acme/m", "abc123")),
        ("GET", "/api/models/gpt2/revision/main", HubPath(INFO, "gpt2", "main")),
        ("GET", "/api/models/acme/m/revision/refs%2Fpr%2F1", HubPath(INFO, "acme/m", "refs/pr/1")),
        ("GET", "/api/models/acme/m/tree/main", HubPath(TREE, "acme/m", "main", "")),
        (
            "GET",
            "/api/models/acme/m/tree/main/sub%2Fdir",
            HubPath(TREE, "acme/m", "main", "sub/dir"),
        ),
        ("GET", "/acme/m/resolve/main/a/b.json", HubPath(RESOLVE, "acme/m", "main", "a/b.json")),
        ("HEAD", "/gpt2/resolve/abc/config.json", HubPath(RESOLVE, "gpt2", "abc", "config.json")),
        ("GET", "/api/datasets/acme/d", HubPath(NOT_SERVED)),
        ("GET", "/datasets/acme/d/resolve/main/x", HubPath(NOT_SERVED)),
        ("GET", "/spaces/acme/s/resolve/main/x", HubPath(NOT_SERVED)),
        ("GET", "/api/models/acme/m/refs", HubPath(REFS, "acme/m")),
        ("GET", "/api/models/acme/m/commits/main", HubPath(NOT_SERVED, "acme/m")),
        ("POST", "/api/models/acme/m/commit/main", HubPath(READ_ONLY, "acme/m")),
        ("POST", "/api/repos/create", HubPath(READ_ONLY)),
    ],
)
def test_a_hub_path_names_its_endpoint(method: str, path: str, expected: HubPath) -> None:
    assert parse_hub_path(method, path) == expected


@pytest.mark.parametrize(
    "path", ["/api/v1/models", "/api/models", "/health", "/", "/ui/app.js", "/schema/openapi.json"]
)
def test_devons_own_paths_are_not_hub_paths(path: str) -> None:
    assert parse_hub_path("GET", path) is None
