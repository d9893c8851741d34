"""A mock of Firezone's portal as a relay meets it: the Phoenix socket at
/relay/websocket (websockets 10.4 on 127.0.0.1, an ephemeral port, ws or
wss) and the `relay` channel, speaking what the real portal speaks:

- the upgrade is refused (403, as Phoenix answers a failed connect) without a
  token (X-Authorization: Bearer, or the `token` query parameter of older
  relays) or without any of the `ipv4`/`ipv6` parameters;
- `phx_join` on topic `relay` with a `stamp_secret` is answered
  {"status": "ok", "response": {}} and followed by `init` with payload {};
  a join on another topic gets {"status": "error", "response": {"reason":
  "unmatched topic"}};
- `heartbeat` on topic `phoenix` is answered {"status": "ok", "response": {}};
- a socket that sends nothing for IDLE_TIMEOUT seconds is closed.

Each connection that reached HTTP is recorded; connection i is served with
behaviours[i] (the last one repeats), a name from BEHAVIOURS.
"""
from __future__ import annotations

import asyncio
import http
import json
import threading
import urllib.parse

import websockets
from websockets.server import WebSocketServerProtocol

IDLE_TIMEOUT = 41.0

BEHAVIOURS = {
    "serve": "the real portal",
    "no_init": "joins but sends no init (the portal is slow)",
    "401": "refuses the upgrade with 401", "403": "refuses the upgrade with 403",
    "429": "refuses the upgrade with 429 and Retry-After: 2",
    "503": "refuses the upgrade with 503 and Retry-After: 2",
    "drop": "aborts TCP after the upgrade", "close_frame": "sends a close frame (1001)",
    "garbage": "sends invalid JSON, then an invalid frame",
    "join_error": "refuses the join", "silent_heartbeat": "never answers heartbeats",
    "close_mid_join": "closes the socket on receiving phx_join",
    "hostile": "answers the join, then sends 1 MiB of nesting, a 1 MiB unknown event, unknown events, init twice",
}


class Connection:
    """What the mock saw on one connection attempt that reached HTTP."""

    def __init__(self, path: str, headers) -> None:
        url = urllib.parse.urlsplit(path)
        self.path = url.path
        self.query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        self.user_agent = headers.get("User-Agent")
        self.authorization = headers.get("X-Authorization")
        self.messages: list[dict] = []
        self.close_code = None
        self.idle_closed = False

    @property
    def token(self) -> str | None:
        if self.authorization and self.authorization.startswith("Bearer "):
            return self.authorization[len("Bearer "):]
        return self.query.get("token", [None])[0]


def reply(message: dict, status: str = "ok", response: dict | None = None) -> str:
    return json.dumps({"topic": message["topic"], "event": "phx_reply", "ref": message["ref"],
                       "payload": {"status": status, "response": response or {}}})


INIT = json.dumps({"topic": "relay", "event": "init", "payload": {}, "ref": None})


class MockPortal:
    def __init__(self, behaviours=("serve",), tls=None, idle_timeout: float = IDLE_TIMEOUT) -> None:
        assert all(b in BEHAVIOURS for b in behaviours), behaviours
        self.behaviours = list(behaviours)
        self.tls = tls
        self.idle_timeout = idle_timeout
        self.connections: list[Connection] = []
        self.sockets: list = []
        self.sni: list = []
        self.server = None
        self.joined = asyncio.Event()

    def behaviour(self, index: int) -> str:
        return self.behaviours[min(index, len(self.behaviours) - 1)]

    async def start(self) -> int:
        portal = self

        class Protocol(WebSocketServerProtocol):
            async def process_request(self, path, headers):
                self.record = Connection(path, headers)
                self.behaviour = portal.behaviour(len(portal.connections))
                portal.connections.append(self.record)
                if self.behaviour in ("401", "403"):
                    return http.HTTPStatus(int(self.behaviour)), [], b"no\n"
                if self.behaviour in ("429", "503"):
                    return http.HTTPStatus(int(self.behaviour)), [("Retry-After", "2")], b"later\n"
                query = self.record.query
                if not self.record.token or not (query.get("ipv4") or query.get("ipv6")):
                    return http.HTTPStatus.FORBIDDEN, [], b"forbidden\n"
                return None

        if self.tls is not None:
            self.tls.sni_callback = lambda sock, name, ctx: self.sni.append(name)
        self.server = await websockets.serve(self.handle, "127.0.0.1", 0, create_protocol=Protocol, ssl=self.tls,
                                             ping_interval=None, compression=None, max_size=None)
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def handle(self, ws, _path) -> None:
        record, behaviour = ws.record, ws.behaviour
        self.sockets.append(ws)
        try:
            if behaviour == "drop":
                ws.transport.abort()
                return
            if behaviour == "close_frame":
                await ws.close(1001, "going away")
                return
            if behaviour == "garbage":
                await ws.send("{this is not json")
                await asyncio.sleep(0.05)
                ws.transport.write(b"\x8f\x85garbage-on-the-wire")  # reserved opcode 0xF
                await asyncio.sleep(0.2)
                ws.transport.abort()
                return
            while True:
                try:
                    text = await asyncio.wait_for(ws.recv(), self.idle_timeout)
                except asyncio.TimeoutError:
                    record.idle_closed = True
                    ws.transport.abort()
                    return
                message = json.loads(text)
                record.messages.append(message)
                await self.answer(ws, behaviour, message)
        except websockets.ConnectionClosed:
            pass
        finally:
            record.close_code = ws.close_code

    async def answer(self, ws, behaviour: str, message: dict) -> None:
        event, topic = message.get("event"), message.get("topic")
        if event == "phx_join":
            if behaviour == "close_mid_join":
                ws.transport.abort()
                return
            if topic != "relay" or behaviour == "join_error":
                reason = "unmatched topic" if topic != "relay" else "invalid stamp"
                await ws.send(reply(message, "error", {"reason": reason}))
                return
            await ws.send(reply(message))
            self.joined.set()
            if behaviour == "hostile":
                await ws.send("[" * (1 << 20))
                await ws.send(json.dumps({"topic": "relay", "event": "presence_state", "ref": None,
                                          "payload": {"x": "y" * ((1 << 20) - 100)}}))
                await ws.send(json.dumps({"topic": "relay", "event": "presence_diff", "payload": {}, "ref": None}))
                await ws.send(json.dumps({"topic": "relay", "event": "presence_diff", "payload": {}, "ref": None}))
                await ws.send(INIT)
                await ws.send(INIT)
            elif behaviour != "no_init":
                await ws.send(INIT)
        elif event == "heartbeat" and topic == "phoenix" and behaviour != "silent_heartbeat":
            await ws.send(reply(message))

    async def init(self) -> None:
        await self.sockets[-1].send(INIT)

    def drop(self) -> None:
        self.sockets[-1].transport.abort()


class ThreadedMockPortal:
    """A MockPortal on its own thread and event loop, for tests that block."""

    def __init__(self, behaviours=("serve",)) -> None:
        self.loop = asyncio.new_event_loop()
        self.portal: MockPortal | None = None
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.portal = MockPortal(behaviours)
            self.port = self.loop.run_until_complete(self.portal.start())
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert started.wait(10), "the mock portal did not start"

    @property
    def connections(self) -> list[Connection]:
        return self.portal.connections

    def set_behaviours(self, behaviours) -> None:
        """Behaviours for the connections from now on."""
        def apply() -> None:
            self.portal.behaviours = list(self.portal.behaviours[:len(self.portal.connections)]) + list(behaviours)
        self.loop.call_soon_threadsafe(apply)

    def init(self) -> None:
        asyncio.run_coroutine_threadsafe(self.portal.init(), self.loop).result(5)

    def drop(self) -> None:
        self.loop.call_soon_threadsafe(self.portal.drop)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.portal.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
