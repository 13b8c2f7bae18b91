"""An ASGI app served by uvicorn in a background thread, on a socket bound here: the demo
API (utils.ingest.demo_api) in the collectors and tests, the serving API
(utils.serve.api) in its command line and tests.

    with serve_in_thread(app, "127.0.0.1", 0, name="demo-api") as base_url:
        ...  # GET {base_url}/health answered 200
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def serve_in_thread(app: Any, host: str, port: int = 0, *, name: str, startup_timeout_s: float = 10.0,
                    join_timeout_s: float = 5.0, **config: Any) -> Iterator[str]:
    """Run `app` with uvicorn in a daemon thread; yields its base URL once GET /health
    answers 200; stops the server on exit. Port 0 picks a free port. `config` goes to
    ``uvicorn.Config`` (log_level, lifespan, access_log, ...)."""
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, or asyncio skips TCP_NODELAY and every keep-alive answer waits ~40 ms (Nagle)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    base_url = f"http://[{host}]:{bound}" if family == socket.AF_INET6 else f"http://{host}:{bound}"
    server = uvicorn.Server(uvicorn.Config(app, **{"log_level": "warning", "timeout_graceful_shutdown": 2, **config}))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    try:
        wait_healthy(host, bound, thread, startup_timeout_s, what=name)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=join_timeout_s)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5)
        sock.close()


def wait_healthy(host: str, port: int, thread: threading.Thread, timeout_s: float, *, what: str) -> None:
    """Poll GET /health until 200 (plain http.client: an httpx client costs ~50 ms to
    build); raises RuntimeError when the thread dies or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError(f"{what} on {host}:{port} stopped while starting")
        connection = http.client.HTTPConnection(host, port, timeout=5.0)
        try:
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.02)
    raise RuntimeError(f"{what} on {host}:{port} did not answer /health within {timeout_s} s")
