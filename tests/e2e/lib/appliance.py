"""Runs the appliance for an end-to-end test: its own network namespace and
veth (scripts/topology), its own DPDK --file-prefix, both processes, and a
teardown that ends only what it started, also when the test fails."""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import lifecycle
from turnclient import mint_credentials

ROOT = Path(__file__).resolve().parents[3]
RELAY4, RELAY6 = "198.51.100.1", "2001:db8:100::1"
CLIENT4, CLIENT6 = "198.51.100.2", "2001:db8:100::2"
PEER4, PEER6 = "198.51.100.3", "2001:db8:100::3"
PORT = 3478
ALTERNATE_TLS_PORT = 443  # relay.alternate_tls_port of the TLS tests (relay.tls_port keeps 5349)
STREAM_ADDRESS_WAIT_S = 120.0

CONFIG = """
[relay]
listen_port = 3478
lowest_port = {lowest_port}
highest_port = {highest_port}
# scripts/topology puts clients and peers on the relay's own /24 and /64.
deny_on_link = false
{extra_relay}

[relay.ipv4]
address = "198.51.100.1/24"

[relay.ipv6]
address = "2001:db8:100::1/64"

[eal]
lcores = "0-1"
file_prefix = "{prefix}"
{wire_port}
memory_mb = 256

[dataplane]
worker_lcores = [1]
mempool_size = 4095
channel_table_capacity = 65536

[log]
format = "json"
level = "{log_level}"
{extra}
"""


def write_config(path: Path, prefix: str, root_if: str, lowest_port: int = 49152, highest_port: int = 65535,
                 extra_relay: str = "", extra: str = "", log_level: str = "info", driver: str = "auto") -> Path:
    """The relay's TOML for a test: both families on scripts/topology's
    addresses, its own --file-prefix, the veth `root_if` as eal.interface
    with `driver` (eal.interface_driver), or "vdev": net_af_packet0 in eal.vdevs."""
    wire_port = (f'vdevs = ["net_af_packet0,iface={root_if}"]' if driver == "vdev" else
                 f'interface = "{root_if}"\ninterface_driver = "{driver}"')
    path.write_text(CONFIG.format(prefix=prefix, wire_port=wire_port, lowest_port=lowest_port,
                                  highest_port=highest_port, extra_relay=extra_relay, extra=extra,
                                  log_level=log_level))
    return path


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    return str(v)


def build_dir() -> Path:
    return Path(os.environ.get("RELAY_BUILD_DIR", ROOT / "build" / "release"))


def free_local_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def metric(text: str, name: str, **labels: str) -> float:
    """One sample of a /metrics text; its labels exactly as given."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(name + ("{" + want + "}" if want else "")) + r" (\S+)$"
    m = re.search(pattern, text, re.M)
    assert m, f"{name}{{{want}}} missing from /metrics"
    return float(m.group(1))


def telemetry(prefix: str, command: str) -> dict:
    """One DPDK telemetry request to the data plane of --file-prefix
    `prefix` ("/path" or "/path,params"); its answer. A unix socket: it
    works from inside the test's network namespace too."""
    path = f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2"
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.connect(path)
        json.loads(s.recv(16384))  # the greeting
        s.send(command.encode())
        return json.loads(s.recv(1 << 16))[command.split(",")[0]]


class Appliance(lifecycle.RelayUnderTest):
    """`with Appliance("e2e-v4") as relay:` gives a running relay; inside,
    `relay.ns(cmd)` runs a command in the clients' namespace."""

    def __init__(self, name: str, lowest_port: int = 49152, highest_port: int = 65535,
                 extra_relay: str = "", extra: str = "", log_level: str = "debug", serves_at_once: bool = True,
                 metrics: bool = False, stream: dict | None = None, tls=None):
        """`stream`: serve TURN over TCP (and TLS with `tls`, a
        testca.TestCA: relay.tls_certificate and relay.tls_private_key, TLS on
        5349 and 443), with these [stream] keys on top of a TAP interface and
        a routing table of the test's own."""
        assert len(name) <= 12, "veth names are limited to 15 characters"
        self.name = name
        self.netns = f"{name}-ns"
        self.root_if = f"{name}0"
        self.prefix = name
        self.secret = secrets.token_hex(32)
        self.tmp = Path(tempfile.mkdtemp(prefix=f"relay-{name}-"))
        self.stream_interface = self.stream_table = None
        if stream is not None:
            extra_relay, extra = self._stream_config(stream, tls, extra_relay, extra)
        # With `metrics`, /metrics is served on a free loopback port.
        self.metrics_port = free_local_port() if metrics else None
        if self.metrics_port:
            extra += f'\n[metrics]\naddress = "127.0.0.1:{self.metrics_port}"\n'
        # /healthz and /readyz on a free loopback port, not the default 0.0.0.0:8080.
        self.health_port = free_local_port()
        extra += f'\n[health]\naddress = "127.0.0.1:{self.health_port}"\n'
        self.config = write_config(self.tmp / "relay.toml", self.prefix, self.root_if, lowest_port, highest_port,
                                   extra_relay, extra, log_level)
        self.procs: dict[str, subprocess.Popen] = {}
        # False with a portal: nothing is answered before its init, so the
        # control plane counts as started once it attached to the data plane.
        self.serves_at_once = serves_at_once

    def _stream_config(self, stream: dict, tls, extra_relay: str, extra: str) -> tuple[str, str]:
        # Each test's own TAP interface and routing table, so that a relay
        # left behind by a killed test does not stop the next one starting.
        self.stream_interface = f"{self.name}st"
        self.stream_table = 100 + int(hashlib.sha256(self.name.encode()).hexdigest(), 16) % 150
        keys = {"enabled": True, "interface": self.stream_interface, "routing_table": self.stream_table, **stream}
        extra += "\n[stream]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in keys.items())
        if tls is not None:
            extra_relay += (f'\ntls_certificate = "{tls.certificate}"\ntls_private_key = "{tls.private_key}"\n'
                            f"alternate_tls_port = {ALTERNATE_TLS_PORT}\n")
        return extra_relay, extra

    # --- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        if self.stream_interface:
            self._wait_for_stream_addresses()
        subprocess.run([ROOT / "scripts" / "topology", "up", self.netns, self.root_if], check=True)
        self.start_dataplane()
        self.start_controlplane()

    def _spawn(self, name: str, binary: Path) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "ab")
        env = dict(os.environ, AUTH_SECRET=self.secret) if self.secret else dict(os.environ)
        p = subprocess.Popen([str(binary), "--config", str(self.config)], stdout=log, stderr=subprocess.STDOUT,
                             env=env, start_new_session=True)
        self.procs[name] = p
        return p

    def start_dataplane(self) -> None:
        p = self._spawn("dataplane", build_dir() / "dataplane" / "process" / "relay-dataplane")
        self._wait(lambda: '"ready"' in self.log("dataplane") or "ready" in self.log("dataplane"), p,
                   "relay-dataplane did not become ready")

    def start_controlplane(self) -> None:
        p = self._spawn("controlplane", build_dir() / "controlplane" / "process" / "relay-controlplane")
        if self.serves_at_once:
            self._wait(self.answers_binding, p, "relay-controlplane does not answer STUN")
            if self.stream_interface:
                self._wait(self.accepts_tcp, p, f"relay-controlplane does not accept TCP on {RELAY4}:{PORT}")
        else:
            self._wait(lambda: "attached to the data plane" in self.log("controlplane"), p,
                       "relay-controlplane did not attach")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        p = self.procs.pop(name, None)
        if p and p.poll() is None:
            p.send_signal(sig)
            p.wait(timeout=10)

    def stop(self) -> None:
        for name in ("controlplane", "dataplane"):
            p = self.procs.pop(name, None)
            if p is not None:
                lifecycle.end(p)
        subprocess.run([ROOT / "scripts" / "topology", "down", self.netns, self.root_if], check=False)
        for leftover in Path("/dev/hugepages").glob(f"{self.prefix}map_*"):
            leftover.unlink(missing_ok=True)
        if self.stream_interface:
            self._remove_stream_leftovers()

    def _wait_for_stream_addresses(self, timeout: float = STREAM_ADDRESS_WAIT_S) -> None:
        """The stream server listens in the root namespace, on the relay
        addresses every test shares: while another relay with streams runs
        on this host (another test, the demo, a benchmark), ours could not
        bind. Waits, bounded, for it to end."""
        deadline = time.monotonic() + timeout
        said = False
        while True:
            held = subprocess.run(["ss", "-Hltnp", "src", RELAY4], capture_output=True, text=True,
                                  timeout=10).stdout.strip()
            if not held:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"another relay holds TCP on {RELAY4} for over {timeout:.0f} s:\n{held}")
            if not said:
                print(f"waiting (at most {timeout:.0f} s) for another relay's streams on {RELAY4} to end:\n{held}",
                      file=sys.stderr, flush=True)
                said = True
            time.sleep(1.0)

    def _remove_stream_leftovers(self) -> None:
        """What a data plane that did not exit cleanly may leave of its
        streams: the policy rules and routes of this test's table and its TAP
        interface. Both names are this test's own."""
        for family in ("-4", "-6"):
            for _ in range(8):  # one rule per relay address and family
                r = subprocess.run(["ip", family, "rule", "del", "table", str(self.stream_table)],
                                   capture_output=True, timeout=10)
                if r.returncode != 0:
                    break
            subprocess.run(["ip", family, "route", "flush", "table", str(self.stream_table)], capture_output=True,
                           timeout=10)
        subprocess.run(["ip", "link", "del", self.stream_interface], capture_output=True, timeout=10)

    def _wait(self, ready, proc: subprocess.Popen, what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{what}: exited with {proc.returncode}\n{self.logs()}")
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{what} within {timeout} s\n{self.logs()}")

    # --- helpers for tests -------------------------------------------------
    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(f"--- {n}.log ---\n{self.log(n)[-4000:]}" for n in ("dataplane", "controlplane"))

    def ns_popen(self, args: list[str], **kw) -> subprocess.Popen:
        return subprocess.Popen(["ip", "netns", "exec", self.netns, *args], **kw)

    def ns_run(self, args: list[str], timeout: float = 60, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.netns, *args], timeout=timeout, **kw)

    def metrics(self) -> str:
        assert self.metrics_port, "Appliance(metrics=True) serves /metrics"
        return urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).read().decode()

    def health(self, path: str) -> tuple[int, dict]:
        """GET /healthz or /readyz: (status, JSON body)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}{path}", timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def credentials(self, salt: str = "e2e") -> tuple[str, str]:
        return mint_credentials(self.secret, salt=salt)

    def answers_binding(self) -> bool:
        return lifecycle.answers_binding(self.ns_run, RELAY4, PORT, timeout=5)

    def accepts_tcp(self) -> bool:
        """A TCP connection from the clients' namespace to the listen port
        opens (and is closed at once)."""
        probe = ("import socket\ntry:\n socket.create_connection(('%s', %d), timeout=2).close()\n"
                 "except OSError:\n raise SystemExit(1)\n") % (RELAY4, PORT)
        r = self.ns_run(["/usr/bin/python3", "-c", probe], capture_output=True, timeout=5)
        return r.returncode == 0

    def scenario(self, script: Path, name: str, timeout: float = 60, **env) -> str:
        """Runs scenario `name` of a test script inside the namespace, where
        the clients live: `script --scenario NAME` with SECRET and the
        script's extra variables in its environment. Returns its stdout;
        raises with its output when it fails."""
        full_env = dict(os.environ, SECRET=self.secret, PYTHONPATH=str(Path(__file__).parent),
                        **{k: str(v) for k, v in env.items()})
        r = self.ns_run(["/usr/bin/python3", str(script), "--scenario", name], timeout=timeout, env=full_env,
                        capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"scenario {name} failed:\n{r.stdout}\n{r.stderr}\n{self.logs()}")
        return r.stdout
