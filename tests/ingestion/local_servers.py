"""Real servers for the connector tests: a threaded HTTP server on 127.0.0.1 whose answers a
test sets path by path, and pymap, a real IMAP server, with its in-memory backend."""

import contextlib
import imaplib
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# An answer: status, content type, body.
Answer = tuple[int, str, bytes]
Route = Callable[[dict[str, str], dict[str, str]], Answer]  # (query, headers) -> answer

IMAP_USER = "demouser"
IMAP_PASSWORD = "demopass"


@dataclass
class LocalHttpServer:
    """Routes by path; records every request as (path, query, headers)."""

    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def queries(self, path: str) -> list[dict[str, str]]:
        """Return the query of each request made to path, in order."""
        return [query for requested, query, _ in self.requests if requested == path]


def _not_found(query: dict[str, str], headers: dict[str, str]) -> Answer:
    return 404, "text/plain", b"not found"


def redirect_answer(location: str, status: int = 302) -> Answer:
    """A redirect: the body of a 3xx answer is sent as its Location."""
    return status, "text/plain", location.encode()


def json_answer(body: bytes | str, status: int = 200) -> Answer:
    return status, "application/json", body.encode() if isinstance(body, str) else body


@contextlib.contextmanager
def http_server() -> Iterator[LocalHttpServer]:
    state = LocalHttpServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parts.query))
            headers = dict(self.headers.items())
            state.requests.append((parts.path, query, headers))
            route = state.routes.get(parts.path, _not_found)
            status, content_type, body = route(query, headers)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", body.decode())  # see redirect_answer
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep pytest's output to the test's own

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ImapServer:
    port: int
    process: subprocess.Popen[bytes]

    def append(self, message: bytes, folder: str = "INBOX") -> None:
        """Deliver a message, as a mail server would, through IMAP APPEND."""
        with imaplib.IMAP4("127.0.0.1", self.port) as mailbox:
            mailbox.login(IMAP_USER, IMAP_PASSWORD)
            status, data = mailbox.append(folder, None, None, message)
            assert status == "OK", data


@contextlib.contextmanager
def imap_server() -> Iterator[ImapServer]:
    """Start pymap (dict backend: one empty INBOX for demouser) and stop it afterwards."""
    port = free_port()
    code = "from pymap.main import main; main()"
    # Only the IMAP service: the others would listen on fixed ports shared between tests.
    skip = [arg for name in ("admin", "managesieve", "swim") for arg in ("--no-service", name)]
    command = [sys.executable, "-c", code, *skip, "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen([*command, "--no-tls", "dict"], stderr=subprocess.PIPE)
    try:
        _wait_for_port(port, process)
        yield ImapServer(port, process)
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pymap exited: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError("pymap did not start listening in 20 s")
