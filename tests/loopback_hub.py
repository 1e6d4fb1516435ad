"""A stand-in for the Hugging Face hub on 127.0.0.1 (never anything else): enough of the protocol
for ``hf_hub_download`` (HEAD and GET of ``/{repo}/resolve/{revision}/{file}``, ranges), serving
files from memory, with switches to cut the body short, corrupt it, send it slowly or stall. Any
other path serves the file of that name (``/{name}``), as a plain download server would."""
from __future__ import annotations

import hashlib
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class LoopbackHub:
    """``files``: "{repo}/{filename}" (or a plain name) -> bytes. ``cut_after``: bytes sent before
    every GET breaks off (None: whole files); ``corrupt``: serve flipped bytes of the same size;
    ``rate``: bytes per second sent (None: as fast as it goes); ``stall_after``: bytes sent before
    the body stops for ``STALL_S`` s and the connection closes. ``gets`` counts GETs, ``served`` the
    body bytes sent."""

    STALL_S = 10.0
    PIECE = 1 << 16

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.cut_after: int | None = None
        self.corrupt = False
        self.rate: float | None = None
        self.stall_after: int | None = None
        self.gets = 0
        self.served = 0
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _entry(self):
                match = re.fullmatch(r"/(.+)/resolve/[^/]+/(.+)", self.path.split("?")[0])
                return hub.files.get(f"{match.group(1)}/{match.group(2)}" if match else self.path[1:])

            def _head(self, data: bytes | None, status: int = 200, length: int | None = None, extra=()):
                if data is None:
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return False
                self.send_response(status)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(len(data) if length is None else length))
                for name, value in extra:
                    self.send_header(name, value)
                self.end_headers()
                return True

            def do_HEAD(self):
                self._head(self._entry())

            def do_GET(self):
                hub.gets += 1
                data = self._entry()
                if data is not None and hub.corrupt:
                    data = bytes(b ^ 0xFF for b in data[:4096]) + data[4096:]
                start = 0
                ranged = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
                if data is not None and ranged:
                    start = int(ranged.group(1))
                    if not self._head(data, 206, len(data) - start,
                                      [("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")]):
                        return
                elif not self._head(data):
                    return
                body = data[start:]
                limit = min([len(body), *(n for n in (hub.cut_after, hub.stall_after) if n is not None)])
                try:
                    self._send(body[:limit])
                    if hub.stall_after is not None and limit == hub.stall_after:
                        time.sleep(hub.STALL_S)
                except OSError:  # the client went away
                    pass
                if limit < len(body):
                    self.close_connection = True

            def _send(self, body: bytes) -> None:
                for at in range(0, len(body), hub.PIECE):
                    piece = body[at:at + hub.PIECE]
                    self.wfile.write(piece)
                    self.wfile.flush()
                    hub.served += len(piece)
                    if hub.rate:
                        time.sleep(len(piece) / hub.rate)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "LoopbackHub":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
