"""The ceiling of `bench/bench_read_path.py`: each endpoint's body served as fixed bytes
through the same stack as DEVON's app (Litestar, the request guard and log, the same
server).

Every file in the directory `DEVON_BENCH_BODIES` becomes a route `/<file name>` answering
GET and POST with the file's bytes as JSON, gzipped when the file `<name>.gz` exists and
the request accepts gzip (as DEVON answers from its cached gzip form). With
`DEVON_BENCH_NO_LOG` set the request log is left out (to measure what it costs).
"""

import os
from pathlib import Path
from typing import Any

from litestar import Litestar, MediaType, Request, Response, route

from devon_http.guard import HttpSecurity, RequestGuard
from devon_http.prepared import accepts_gzip
from devon_http.request_log import RequestLog, configure_logging


def handler_for(name: str, body: bytes, gzipped: bytes | None) -> Any:
    @route(f"/{name}", http_method=["GET", "POST"], status_code=200)
    async def serve(request: Request[Any, Any, Any]) -> Response[Any]:
        await request.body()  # read as DEVON's export reads it (granian resets otherwise)
        if gzipped is not None and accepts_gzip(request.headers.get("accept-encoding")):
            return Response[Any](
                content=gzipped, media_type=MediaType.JSON, headers={"Content-Encoding": "gzip"}
            )
        return Response[Any](content=body, media_type=MediaType.JSON)

    return serve


def create() -> RequestGuard:
    configure_logging()
    handlers = []
    for path in sorted(Path(os.environ["DEVON_BENCH_BODIES"]).iterdir()):
        if path.suffix == ".gz":
            continue
        gz = path.with_name(path.name + ".gz")
        handlers.append(
            handler_for(path.name, path.read_bytes(), gz.read_bytes() if gz.exists() else None)
        )
    handlers.append(handler_for("health", b'{"status":"ok"}', None))  # the readiness probe
    app = Litestar(route_handlers=handlers, logging_config=None)
    # The request log's cost is measured against the app without it.
    log = None if os.environ.get("DEVON_BENCH_NO_LOG") else RequestLog()
    return RequestGuard(app, HttpSecurity(), log)
