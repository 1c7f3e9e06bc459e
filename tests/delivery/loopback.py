"""Misbehaving servers on loopback for the delivery fault tests: they accept a connection and
then trickle, stay silent or never finish, as a broken or hostile destination does."""

from __future__ import annotations

import socket
import threading
import time


class BadServer:
    """A TCP server on 127.0.0.1 (a free port) that answers every connection with ``behaviour``:

    * ``"silent"``: accept, read whatever comes, never say anything;
    * ``"trickle-http"``: read the request, then ``HTTP/1.1 200 OK`` and headers one byte every
      ``interval`` seconds, forever (the status line is never finished);
    * ``"trickle-smtp"``: an SMTP greeting ``220-`` continued one byte every ``interval``
      seconds, forever (the greeting never ends);
    * ``"endless-body"``: ``200 OK`` with a chunked body whose chunks never stop.

    ``connections`` counts accepted connections; ``alive`` the handlers still going (a client
    that went away ends its handler at the next write).
    """

    def __init__(self, behaviour: str, interval: float = 2.0) -> None:
        self.behaviour = behaviour
        self.interval = interval
        self.connections = 0
        self.received = b""
        self._stop = threading.Event()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            t = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _read_request(self, conn: socket.socket) -> None:
        conn.settimeout(0.5)
        end = time.monotonic() + 3
        while b"\r\n\r\n" not in self.received and time.monotonic() < end:
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return
            self.received += chunk

    def _drip(self, conn: socket.socket, data: bytes, *, forever: bytes) -> None:
        for byte in data:
            if self._stop.wait(self.interval):
                return
            conn.sendall(bytes([byte]))
        while not self._stop.wait(self.interval):
            conn.sendall(forever)

    def _handle(self, conn: socket.socket) -> None:
        try:
            if self.behaviour == "silent":
                conn.settimeout(0.2)
                while not self._stop.is_set():
                    try:
                        if not conn.recv(65536):
                            return
                    except TimeoutError:
                        continue
            elif self.behaviour == "trickle-http":
                self._read_request(conn)
                self._drip(conn, b"HTTP/1.1 200 OK", forever=b"K")
            elif self.behaviour == "trickle-smtp":
                conn.sendall(b"2")
                self._drip(conn, b"20-", forever=b"x")
            elif self.behaviour == "endless-body":
                self._read_request(conn)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n"
                )
                while not self._stop.wait(self.interval):
                    conn.sendall(b"1\r\n \r\n")
            else:  # pragma: no cover - a typo in a test
                raise ValueError(self.behaviour)
        except OSError:
            return  # the client went away (killed at its deadline)
        finally:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._sock.close()
        for t in self._threads:
            t.join(timeout=5)
