"""A small, strict TURN client over UDP for the end-to-end tests.

It speaks RFC 8489/8656 with long-term credentials minted the way the portal
mints them, so tests can drive flows that coturn's turnutils_uclient cannot
(dual allocations, cross-family channels, nonce expiry, lifetime 0).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import socket
import struct
import time
import zlib
from dataclasses import dataclass, field
from typing import Callable, Union

MAGIC = 0x2112A442  # RFC 8489 §5

BINDING, ALLOCATE, REFRESH, SEND, DATA, CREATE_PERMISSION, CHANNEL_BIND = 1, 3, 4, 6, 7, 8, 9
REQUEST, INDICATION, SUCCESS, ERROR = 0x000, 0x010, 0x100, 0x110

A_MAPPED = 0x0001
A_USERNAME = 0x0006
A_INTEGRITY = 0x0008
A_ERROR = 0x0009
A_UNKNOWN = 0x000A
A_CHANNEL = 0x000C
A_LIFETIME = 0x000D
A_PEER = 0x0012
A_DATA = 0x0013
A_REALM = 0x0014
A_NONCE = 0x0015
A_RELAYED = 0x0016
A_REQ_FAMILY = 0x0017
A_EVEN_PORT = 0x0018
A_TRANSPORT = 0x0019
A_RES_TOKEN = 0x0022
A_XOR_MAPPED = 0x0020
A_ADD_FAMILY = 0x8000
A_ADDR_ERROR = 0x8001
A_SOFTWARE = 0x8022
A_FINGERPRINT = 0x8028

REALM = "firezone"


def mint_credentials(secret: str, expiry: int | None = None, salt: str = "e2e-salt") -> tuple[str, str]:
    """The portal's scheme: username "<expiry>:<salt>", password
    base64-without-padding(SHA-256("<expiry>:<secret>:<salt>"))."""
    if expiry is None:
        expiry = int(time.time()) + 3600
    digest = hashlib.sha256(f"{expiry}:{secret}:{salt}".encode()).digest()
    return f"{expiry}:{salt}", base64.b64encode(digest).decode().rstrip("=")


def mint_rest_credentials(secret: str, user: str = "e2e", expiry: int | None = None) -> tuple[str, str]:
    """coturn's use-auth-secret (relay.auth.scheme = "rest"): username
    "<expiry>:<user>", password base64(HMAC-SHA1(secret, username))."""
    if expiry is None:
        expiry = int(time.time()) + 3600
    username = f"{expiry}:{user}" if user else str(expiry)
    return username, rest_password(secret, username)


def rest_password(secret: str, username: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


def long_term_key(username: str, password: str, realm: str = REALM) -> bytes:
    """RFC 8489 §9.2.2: MD5("<username>:<realm>:<password>")."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).digest()


def _pad(n: int) -> int:
    return (4 - n % 4) % 4


def _xor_address(addr: tuple[str, int], tid: bytes) -> bytes:
    ip = ipaddress.ip_address(addr[0])
    port = addr[1] ^ (MAGIC >> 16)
    if ip.version == 4:
        raw = int(ip) ^ MAGIC
        return struct.pack("!BBHI", 0, 1, port, raw)
    key = struct.pack("!I", MAGIC) + tid
    raw = bytes(a ^ b for a, b in zip(ip.packed, key))
    return struct.pack("!BBH", 0, 2, port) + raw


def _unxor_address(value: bytes, tid: bytes) -> tuple[str, int]:
    family, port = value[1], struct.unpack("!H", value[2:4])[0] ^ (MAGIC >> 16)
    if family == 1:
        raw = struct.unpack("!I", value[4:8])[0] ^ MAGIC
        return str(ipaddress.IPv4Address(raw)), port
    key = struct.pack("!I", MAGIC) + tid
    return str(ipaddress.IPv6Address(bytes(a ^ b for a, b in zip(value[4:20], key)))), port


@dataclass
class Message:
    method: int
    cls: int
    tid: bytes
    attrs: list[tuple[int, bytes]] = field(default_factory=list)
    raw: bytes = b""

    def get(self, atype: int) -> bytes | None:
        for t, v in self.attrs:
            if t == atype:
                return v
        return None

    def all(self, atype: int) -> list[bytes]:
        return [v for t, v in self.attrs if t == atype]

    @property
    def error_code(self) -> int | None:
        v = self.get(A_ERROR)
        return None if v is None else (v[2] & 0x7) * 100 + v[3]

    def xor_address(self, atype: int) -> tuple[str, int] | None:
        v = self.get(atype)
        return None if v is None else _unxor_address(v, self.tid)

    def xor_addresses(self, atype: int) -> list[tuple[str, int]]:
        return [_unxor_address(v, self.tid) for v in self.all(atype)]


def encode(method: int, cls: int, tid: bytes, attrs: list[tuple[int, bytes]], key: bytes | None = None,
           fingerprint: bool = True) -> bytes:
    body = b""
    for t, v in attrs:
        body += struct.pack("!HH", t, len(v)) + v + b"\0" * _pad(len(v))
    mtype = (method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) | cls
    if key is not None:
        head = struct.pack("!HHI", mtype, len(body) + 24, MAGIC) + tid
        mac = hmac.new(key, head + body, hashlib.sha1).digest()
        body += struct.pack("!HH", A_INTEGRITY, 20) + mac
    if fingerprint:
        head = struct.pack("!HHI", mtype, len(body) + 8, MAGIC) + tid
        crc = (zlib.crc32(head + body) ^ 0x5354554E) & 0xFFFFFFFF
        body += struct.pack("!HHI", A_FINGERPRINT, 4, crc)
    return struct.pack("!HHI", mtype, len(body), MAGIC) + tid + body


def decode(data: bytes) -> Message | None:
    if len(data) < 20 or data[0] & 0xC0:
        return None
    mtype, length, cookie = struct.unpack("!HHI", data[:8])
    if cookie != MAGIC or length + 20 != len(data):
        return None
    method = (mtype & 0x000F) | ((mtype & 0x00E0) >> 1) | ((mtype & 0x3E00) >> 2)
    msg = Message(method, mtype & 0x0110, data[8:20], raw=data)
    off = 20
    while off + 4 <= len(data):
        t, n = struct.unpack("!HH", data[off:off + 4])
        msg.attrs.append((t, data[off + 4:off + 4 + n]))
        off += 4 + n + _pad(n)
    return msg


def verify_integrity(msg: Message, key: bytes) -> bool:
    """RFC 8489 §14.5: HMAC over the message up to MESSAGE-INTEGRITY with the
    length field covering it."""
    off = 20
    data = msg.raw
    while off + 4 <= len(data):
        t, n = struct.unpack("!HH", data[off:off + 4])
        if t == A_INTEGRITY:
            head = data[:2] + struct.pack("!H", off - 20 + 24) + data[4:20]
            return hmac.compare_digest(hmac.new(key, head + data[20:off], hashlib.sha1).digest(),
                                       data[off + 4:off + 24])
        off += 4 + n + _pad(n)
    return False


Attrs = Union[list[tuple[int, bytes]], Callable[[bytes], list[tuple[int, bytes]]]]


class TurnError(Exception):
    def __init__(self, code: int | None, msg: Message | None):
        super().__init__(f"TURN error {code}")
        self.code = code
        self.msg = msg


class TurnClient:
    """One UDP socket, one allocation. Every request is retransmitted (RFC
    8489 §6.2.1, shortened) until answered or the timeout passes; over a
    reliable transport (`reliable`, streamclient.StreamTurnClient) it is
    sent once (§6.2.2)."""

    reliable = False

    def __init__(self, server: tuple[str, int], username: str = "", password: str = "",
                 local: tuple[str, int] | None = None, timeout: float = 3.0):
        self.server = server
        self.family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        self.sock = socket.socket(self.family, socket.SOCK_DGRAM)
        if local:
            self.sock.bind(local)
        self.username, self.password = username, password
        self.key = long_term_key(username, password)
        self.nonce: bytes | None = None
        self.timeout = timeout
        self.relayed: list[tuple[str, int]] = []
        self.mapped: tuple[str, int] | None = None
        self.last_response: Message | None = None
        self.pending_data: list[bytes] = []
        self.challenges: list[int] = []  # 401/438 codes answered on the way

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "TurnClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def local_address(self) -> tuple[str, int]:
        return self.sock.getsockname()[:2]

    # --- raw transaction -------------------------------------------------
    def credential_attributes(self) -> list[tuple[int, bytes]] | None:
        """What an authenticated request carries before MESSAGE-INTEGRITY;
        None: send it unsigned (no nonce learnt yet)."""
        if self.nonce is None:
            return None
        return [(A_USERNAME, self.username.encode()), (A_REALM, REALM.encode()), (A_NONCE, self.nonce)]

    def accepts(self, method: int, msg: Message) -> bool:
        """Whether a response to this client's transaction counts; one that
        does not is treated as lost."""
        return True

    def transact(self, method: int, attrs: Attrs, auth: bool = True) -> Message:
        """One transaction. `attrs` may be a function of the transaction id,
        since XOR-PEER-ADDRESS of IPv6 depends on it."""
        tid = os.urandom(12)
        full = list(attrs(tid) if callable(attrs) else attrs)
        credentials = self.credential_attributes() if auth else None
        if credentials is not None:
            full += credentials
        wire = encode(method, REQUEST, tid, full, self.key if credentials is not None else None)
        deadline = time.monotonic() + self.timeout
        rto = self.timeout if self.reliable else 0.1
        while time.monotonic() < deadline:
            self.sock.sendto(wire, self.server)
            end = min(deadline, time.monotonic() + rto)
            while time.monotonic() < end:
                self.sock.settimeout(max(0.001, end - time.monotonic()))
                try:
                    data, _ = self.sock.recvfrom(65535)
                except socket.timeout:
                    break
                msg = decode(data)
                if msg is None:
                    self.pending_data.append(data)
                    continue
                if msg.tid == tid and self.accepts(method, msg):
                    self.last_response = msg
                    return msg
            rto = min(rto * 2, 1.0)
        raise TimeoutError(f"no answer to method {method:#x} from {self.server}")

    def request(self, method: int, attrs: Attrs) -> Message:
        """Authenticated request with the 401/438 dance: at most two retries."""
        for _ in range(3):
            msg = self.transact(method, attrs)
            code = msg.error_code
            if msg.cls == ERROR and code in (401, 438) and msg.get(A_NONCE) is not None:
                if code == 401 and self.nonce is not None and msg.get(A_NONCE) == self.nonce:
                    raise TurnError(code, msg)
                self.challenges.append(code)
                self.nonce = msg.get(A_NONCE)
                continue
            if msg.cls == ERROR:
                raise TurnError(code, msg)
            if not verify_integrity(msg, self.key):
                raise TurnError(None, msg)
            return msg
        raise TurnError(msg.error_code, msg)

    # --- TURN methods ------------------------------------------------------
    def binding(self) -> tuple[str, int]:
        msg = self.transact(BINDING, [], auth=False)
        addr = msg.xor_address(A_XOR_MAPPED)
        assert addr is not None, "binding response without XOR-MAPPED-ADDRESS"
        return addr

    def allocate(self, lifetime: int | None = None, requested_family: int | None = None,
                 additional_family: int | None = None) -> list[tuple[str, int]]:
        attrs = [(A_TRANSPORT, bytes([17, 0, 0, 0]))]
        if lifetime is not None:
            attrs.append((A_LIFETIME, struct.pack("!I", lifetime)))
        if requested_family is not None:
            attrs.append((A_REQ_FAMILY, bytes([requested_family, 0, 0, 0])))
        if additional_family is not None:
            attrs.append((A_ADD_FAMILY, bytes([additional_family, 0, 0, 0])))
        msg = self.request(ALLOCATE, attrs)
        self.relayed = msg.xor_addresses(A_RELAYED)
        self.mapped = msg.xor_address(A_XOR_MAPPED)
        return self.relayed

    def refresh(self, lifetime: int) -> int:
        msg = self.request(REFRESH, [(A_LIFETIME, struct.pack("!I", lifetime))])
        v = msg.get(A_LIFETIME)
        return struct.unpack("!I", v)[0] if v else 0

    def create_permission(self, *peers: tuple[str, int]) -> None:
        self.request(CREATE_PERMISSION, lambda tid: [(A_PEER, _xor_address(p, tid)) for p in peers])

    def channel_bind(self, channel: int, peer: tuple[str, int]) -> None:
        self.request(CHANNEL_BIND, lambda tid: [(A_CHANNEL, struct.pack("!HH", channel, 0)),
                                                (A_PEER, _xor_address(peer, tid))])

    # --- ChannelData -------------------------------------------------------
    def send_channel(self, channel: int, payload: bytes) -> None:
        self.sock.sendto(struct.pack("!HH", channel, len(payload)) + payload, self.server)

    def recv_channel(self, timeout: float = 1.0) -> tuple[int, bytes] | None:
        deadline = time.monotonic() + timeout
        while True:
            if self.pending_data:
                data = self.pending_data.pop(0)
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.sock.settimeout(left)
                try:
                    data, _ = self.sock.recvfrom(65535)
                except socket.timeout:
                    return None
            if len(data) >= 4 and data[0] & 0xC0 == 0x40:
                channel, n = struct.unpack("!HH", data[:4])
                return channel, data[4:4 + n]

    def stream_echo(self, channel: int, seconds: float, between: Callable[[], None] | None = None) -> tuple[int, int]:
        """A steady stream: numbered ChannelData about every 10 ms for
        `seconds`, each waiting up to 0.5 s for its echo; `between` runs
        before each message. Returns (sent, echoed)."""
        sent = echoed = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if between is not None:
                between()
            payload = b"stream %d" % sent
            self.send_channel(channel, payload)
            sent += 1
            if self.recv_channel(timeout=0.5) == (channel, payload):
                echoed += 1
            time.sleep(0.01)
        return sent, echoed
