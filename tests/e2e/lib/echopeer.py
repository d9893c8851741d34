"""A UDP peer for the end-to-end tests: echoes every datagram back to its
sender and remembers who sent how much."""
from __future__ import annotations

import socket
import threading


class EchoPeer:
    def __init__(self, ip: str):
        self.sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, 0))
        self.sock.settimeout(0.05)
        self.addr = self.sock.getsockname()[:2]
        self.sources: set[tuple[str, int]] = set()
        self.received = 0
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            try:
                data, src = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            self.received += 1
            self.sources.add(src[:2])
            self.sock.sendto(data, src)

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()

    def __enter__(self) -> "EchoPeer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
