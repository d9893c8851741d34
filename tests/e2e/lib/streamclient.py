"""TURN over TCP and TLS for the end-to-end tests (RFC 8656 §3.1): the same
TurnClient (turnclient.py) on a stream socket, whose messages are delimited by
their own lengths: a STUN message by its header's (20 + length), ChannelData
by its length padded to 4 (§12.5, streams only).

    with StreamTurnClient((RELAY4, 5349), user, password, tls_ca=ca_pem) as c:
        c.allocate(); c.channel_bind(0x4000, peer); c.send_channel(0x4000, b"hi")
"""
from __future__ import annotations

import socket
import ssl
import struct
from pathlib import Path

from turnclient import TurnClient


def frame_length(head: bytes) -> int | None:
    """Bytes of the whole message that starts with `head` (at least 4
    bytes): None when the first two bits are neither STUN's 00 nor
    ChannelData's 01 (RFC 8656 §12)."""
    kind = head[0] >> 6
    length = struct.unpack("!H", head[2:4])[0]
    if kind == 0:
        return 20 + length
    if kind == 1:
        return 4 + length + (-length % 4)
    return None


def connect(server: tuple[str, int], tls_ca: Path | None = None, local: tuple[str, int] | None = None,
            timeout: float = 5.0, rcvbuf: int | None = None) -> socket.socket:
    """A TCP connection to `server`, TLS (1.2+, the server's certificate
    checked against `tls_ca` and its IP address) when a CA is given."""
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    raw = socket.socket(family, socket.SOCK_STREAM)
    try:
        if rcvbuf is not None:  # before connect(): the window is offered in the SYN
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if local is not None:
            raw.bind(local)
        raw.settimeout(timeout)
        raw.connect(server)
        if tls_ca is None:
            return raw
        context = ssl.create_default_context(cafile=str(tls_ca))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context.wrap_socket(raw, server_hostname=server[0])
    except BaseException:
        raw.close()
        raise


class FramedStream:
    """A stream socket that looks like TurnClient's UDP socket: sendto()
    writes one message (ChannelData padded), recvfrom() returns one whole
    message. The server closing raises ConnectionError."""

    def __init__(self, sock: socket.socket, server: tuple[str, int]):
        self.sock, self.server = sock, server
        self.buffer = b""

    def sendto(self, data: bytes, _address=None) -> int:
        if data and data[0] >> 6 == 1:
            data += b"\0" * (-len(data) % 4)
        self.sock.sendall(data)
        return len(data)

    def recvfrom(self, _size: int = 0) -> tuple[bytes, tuple[str, int]]:
        while True:
            if len(self.buffer) >= 4:
                n = frame_length(self.buffer)
                if n is None:
                    raise ConnectionError(f"the server sent neither STUN nor ChannelData: {self.buffer[:8].hex()}")
                if len(self.buffer) >= n:
                    message, self.buffer = self.buffer[:n], self.buffer[n:]
                    return message, self.server
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk

    def settimeout(self, seconds: float | None) -> None:
        self.sock.settimeout(seconds)

    def getsockname(self):
        return self.sock.getsockname()

    def close(self) -> None:
        self.sock.close()


class StreamTurnClient(TurnClient):
    """One TCP (or TLS, with `tls_ca`) connection, one allocation. Requests
    are sent once (RFC 8489 §6.2.2); their answers wait up to `timeout`."""

    reliable = True

    def __init__(self, server: tuple[str, int], username: str = "", password: str = "",
                 tls_ca: Path | None = None, local: tuple[str, int] | None = None, timeout: float = 3.0,
                 rcvbuf: int | None = None):
        super().__init__(server, username, password, timeout=timeout)
        self.sock.close()  # the UDP socket TurnClient made
        self.sock = FramedStream(connect(server, tls_ca, local, timeout, rcvbuf), server)
