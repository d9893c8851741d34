"""coturn in place of our relay, on the same addresses, for comparison and to
check a test's client side before our relay serves it:

    with CoturnRelay("brch-ct", tls=ca) as relay:   # ca: testca.TestCA or None
        relay.ns_run([...])                          # in the clients' namespace

It gets a namespace of its own (`<name>-turn`) that holds the root end of
scripts/topology's veth: no default route there and forwarding off, so
nothing the clients send leaves the two namespaces. TURN REST credentials
(use-auth-secret, realm firezone). UDP and TCP on 3478; with a CA, TLS on
5349 and, through an nftables redirect in coturn's namespace, on 443 (coturn
serves one TLS port, RFC 5780's alternate needing a second address)."""
from __future__ import annotations

import secrets
import subprocess
import tempfile
import time
from pathlib import Path

import lifecycle
from turnclient import mint_rest_credentials

ROOT = Path(__file__).resolve().parents[3]
RELAY4, RELAY6, PORT = "198.51.100.1", "2001:db8:100::1", 3478
TLS_PORT, ALTERNATE_TLS_PORT = 5349, 443

COTURN_CONFIG = """
listening-ip={relay4}
listening-ip={relay6}
relay-ip={relay4}
relay-ip={relay6}
listening-port={port}
min-port=49152
max-port=65535
use-auth-secret
static-auth-secret={secret}
realm=firezone
fingerprint
no-dtls
no-tcp-relay
no-cli
no-rfc5780
no-stun-backward-compatibility
allowed-peer-ip=198.51.100.0-198.51.100.255
log-file={tmp}/turnserver-own.log
simple-log
pidfile={tmp}/turnserver.pid
"""


class CoturnRelay(lifecycle.RelayUnderTest):
    logs_name = "coturn"

    def __init__(self, name: str, tls=None, tcp: bool = True):
        self.netns, self.root_if, self.turn_netns = f"{name}-ns", f"{name}0", f"{name}-turn"
        self.secret = secrets.token_hex(16)
        self.tmp = Path(tempfile.mkdtemp(prefix=f"relay-{name}-"))
        self.tls, self.tcp = tls, tcp
        self.proc: subprocess.Popen | None = None

    def _turn(self, *args: str, stdin: str | None = None) -> None:
        subprocess.run(["ip", "netns", "exec", self.turn_netns, *args], check=True, input=stdin, text=True,
                       timeout=30)

    def config(self) -> str:
        conf = COTURN_CONFIG.format(relay4=RELAY4, relay6=RELAY6, port=PORT, secret=self.secret, tmp=self.tmp)
        if not self.tcp:
            conf += "no-tcp\n"
        if self.tls is None:
            conf += "no-tls\n"
        else:
            conf += f"tls-listening-port={TLS_PORT}\ncert={self.tls.certificate}\npkey={self.tls.private_key}\n"
        return conf

    def start(self) -> None:
        subprocess.run([ROOT / "scripts" / "topology", "up", self.netns, self.root_if], check=True)
        subprocess.run(["ip", "netns", "add", self.turn_netns], check=True)
        subprocess.run(["ip", "link", "set", self.root_if, "netns", self.turn_netns], check=True)
        self._turn("ip", "link", "set", "lo", "up")
        self._turn("sysctl", "-qw", f"net.ipv6.conf.{self.root_if}.disable_ipv6=0",
                   f"net.ipv6.conf.{self.root_if}.accept_dad=0")
        self._turn("ip", "-4", "addr", "replace", f"{RELAY4}/24", "dev", self.root_if)
        self._turn("ip", "-6", "addr", "replace", f"{RELAY6}/64", "dev", self.root_if, "nodad")
        self._turn("ip", "link", "set", self.root_if, "up")
        if self.tls is not None:
            self._turn("nft", "-f", "-", stdin=(
                "table inet coturn_alt_tls {\n chain prerouting {\n"
                "  type nat hook prerouting priority dstnat; policy accept;\n"
                f"  tcp dport {ALTERNATE_TLS_PORT} redirect to :{TLS_PORT}\n }}\n}}\n"))
        conf = self.tmp / "turnserver.conf"
        conf.write_text(self.config())
        log = open(self.tmp / "turnserver.log", "ab")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.turn_netns, "turnserver", "-c", str(conf)],
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 15
        while not self.answers_binding():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"turnserver does not answer STUN\n{self.logs()}")
            time.sleep(0.2)

    def answers_binding(self) -> bool:
        return lifecycle.answers_binding(self.ns_run, RELAY4, PORT, timeout=3)

    def stop(self) -> None:
        if self.proc is not None:
            lifecycle.end(self.proc)
        self.proc = None
        # Deleting coturn's namespace deletes the veth and the nftables table with it.
        subprocess.run(["ip", "netns", "del", self.turn_netns], check=False, stderr=subprocess.DEVNULL)
        subprocess.run([ROOT / "scripts" / "topology", "down", self.netns, self.root_if], check=False)

    def logs(self) -> str:
        path = self.tmp / "turnserver.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def ns_popen(self, args: list[str], **kw) -> subprocess.Popen:
        return subprocess.Popen(["ip", "netns", "exec", self.netns, *args], **kw)

    def ns_run(self, args: list[str], timeout: float = 60, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.netns, *args], timeout=timeout, **kw)

    def credentials(self) -> tuple[str, str]:
        return mint_rest_credentials(self.secret, user="browser")
