"""The two relays under test, each started on the shared topology pinned to
one core, with the counters the driver reads for the cost per packet.
Everything started here is ended here, by PID."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
RELAY4, CLIENT4, PEER4 = "198.51.100.1", "198.51.100.2", "198.51.100.3"
PORT = 3478
TLS_PORT = 5349  # RFC 8656 §18.6 "turns"
LOWEST_PORT, HIGHEST_PORT = 49152, 65535
TRANSPORTS = ("udp", "tcp", "tls")


def client_port(transport: str) -> int:
    """The relay port a client of `transport` talks to (both relays)."""
    return TLS_PORT if transport == "tls" else PORT


@dataclass(frozen=True)
class Streams:
    """TURN over TCP and TLS for a run with --transport tcp|tls: both relays
    then serve TCP on PORT and TLS on TLS_PORT with this certificate."""
    certificate: Path
    private_key: Path

    @staticmethod
    def with_new_certificate(into: Path) -> "Streams":
        """A throwaway self-signed certificate (P-256, two days): the load
        generator does not verify it, both relays present it."""
        cert, key = into / "bench-cert.pem", into / "bench-key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=relay.bench.invalid", "-keyout", str(key),
                        "-out", str(cert)], check=True, capture_output=True)
        key.chmod(0o600)
        return Streams(cert, key)


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


OUR_CONFIG = """
[relay]
listen_port = {port}
lowest_port = {lowest}
highest_port = {highest}
# The topology's peer shares the relay's subnet.
deny_on_link = false
{relay_tls}
[relay.ipv4]
address = "{relay}/24"

[quotas]
# Every benchmark client shares the namespace's one address.
max_allocations_per_client_ip = 0
max_allocations_per_username = 0

[eal]
# One core for everything: the main lcore runs the only worker loop.
lcores = "{core}"
file_prefix = "{prefix}"
{wire_port}
memory_mb = 256

[dataplane]
worker_lcores = [{core}]
# The clients all come from one address; the per-source STUN limiter would
# make setting up 512 allocations take seconds.
stun_rate_per_source = 0
idle = "{idle}"
max_idle_sleep_us = {max_idle_sleep_us}
{tx_hold}

{stream}
[metrics]
address = "127.0.0.1:{metrics_port}"

# Not the default 0.0.0.0:8080, which another relay on the machine may hold.
[health]
address = "127.0.0.1:{health_port}"

[log]
format = "json"
level = "info"
"""

# TURN over TCP on the listen port and TLS on relay.tls_port; the TAP
# interface and the routing table are named per run so that another
# relay's streams on the same machine are not touched.
OUR_STREAM_CONFIG = """
[stream]
enabled = true
interface = "{interface}"
routing_table = {table}
# Every benchmark client comes from the namespace's one address.
max_connections_per_source = 65536
max_connections = 65536
"""

COTURN_CONFIG = """
listening-ip={relay}
relay-ip={relay}
listening-port={port}
min-port={lowest}
max-port={highest}
relay-threads=1
use-auth-secret
static-auth-secret={secret}
realm=firezone
{tls}
no-dtls
no-tcp-relay
no-cli
no-rfc5780
no-stun-backward-compatibility
allowed-peer-ip=198.51.100.0-198.51.100.255
log-file={log}
simple-log
pidfile={tmp}/turnserver.pid
"""


def cpu_seconds_of(pid: int) -> float:
    """utime + stime of all threads of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def threads_of(pid: int) -> list[tuple[int, str, float, float]]:
    """(tid, name, seconds on a CPU, seconds runnable but not running) of
    each thread of a process, from /proc/<pid>/task/*/schedstat. Waiting is
    preemption by something else on the core, which voluntary sleep (an
    adaptive idle) is not."""
    threads = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            ran, waited = (int(x) / 1e9 for x in (task / "schedstat").read_text().split()[:2])
            threads.append((int(task.name), (task / "comm").read_text().strip(), ran, waited))
        except (OSError, ValueError):
            pass  # a thread that just ended
    return threads


def run_wait_seconds_of(pid: int) -> float:
    return sum(waited for _, _, _, waited in threads_of(pid))


def machine_cpu_seconds() -> float:
    """Non-idle CPU time of the whole machine, from /proc/stat."""
    f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = f[3] + f[4]  # idle + iowait
    return (sum(f[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_generator(args: list[str], env: dict[str, str], sample: Callable[[], Any], timeout_s: float,
                  relay: "Relay") -> tuple[dict, Any, Any]:
    """Runs a load generator (turn-loadgen, turn-dpdk-gen) to its end.
    `sample()` is taken at its traffic_start and traffic_end marks on
    stderr, so that setup and teardown stay out of what is sampled.
    Returns its last JSON line on stdout and the two samples."""
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, **env))
    marks, errors = {}, []
    try:
        for line in p.stderr:
            if '"traffic_start"' in line or '"traffic_end"' in line:
                marks["start" if "start" in line else "end"] = sample()
            else:
                errors.append(line)
        out, _ = p.communicate(timeout=timeout_s)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    if p.returncode != 0 or "end" not in marks:
        name = next((Path(a).name for a in args if "/" in a), args[0])
        raise RuntimeError(f"{name} failed ({p.returncode}): {''.join(errors)[-2000:]}\n{relay.logs()}")
    return json.loads(out.strip().splitlines()[-1]), marks["start"], marks["end"]


def foreign_holders_of(address: str, ours: set[str]) -> list[str]:
    """Whatever else in the root namespace claims `address`: an interface
    carrying it (another relay's stream TAP, another coturn run's veth) or
    a policy rule for its replies. While one exists, coturn's kernel address
    and our stream TAP would collide with it (EADDRINUSE, or replies routed
    into the other run's TAP), so a stage waits for it to go."""
    holders = []
    for line in subprocess.run(["ip", "-br", "addr"], capture_output=True, text=True).stdout.splitlines():
        name, *rest = line.split()
        if name.split("@")[0] not in ours and any(a.split("/")[0] == address for a in rest[1:]):
            holders.append(f"interface {name.split('@')[0]}")
    for line in subprocess.run(["ip", "rule"], capture_output=True, text=True).stdout.splitlines():
        if f"from {address} " in line + " ":
            holders.append(f"rule '{line.strip()}'")
    return holders


class Topology:
    """scripts/topology's namespace and veth. `bare`: the namespace's kernel
    owns no address (a DPDK generator on its end plays the clients and the
    peer); `kernel_address`: what the root end gets (coturn's), if anything."""

    INNER_IF = "relay0"  # scripts/topology's name for the namespace end

    def __init__(self, netns: str, root_if: str, kernel_address: str | None, bare: bool = False,
                 receive_cores: tuple[int, int] | None = None):
        self.netns, self.root_if, self.kernel_address, self.bare = netns, root_if, kernel_address, bare
        # (root end, namespace end): the core that does the kernel's receive
        # work for frames arriving at each end (RPS). A veth receives on the
        # sender's core otherwise, so the generator's core would carry the
        # relay's af_packet copy and coturn's UDP stack, and the relay's core
        # the generator's receive.
        self.receive_cores = receive_cores

    def wait_for_address(self, ours: set[str], timeout_s: float = 180.0) -> float:
        """Waits until nothing else on the machine holds RELAY4 (see
        foreign_holders_of) and returns the seconds waited; raises when it
        is still held after timeout_s."""
        started = time.monotonic()
        while holders := foreign_holders_of(RELAY4, ours | {self.root_if}):
            if time.monotonic() - started > timeout_s:
                raise RuntimeError(f"{RELAY4} is still held by {', '.join(holders)} after {timeout_s:.0f} s: "
                                   "another relay or benchmark runs on this machine")
            time.sleep(1)
        return time.monotonic() - started

    def up(self) -> None:
        subprocess.run([ROOT / "scripts" / "topology", "up", self.netns, self.root_if, *(["bare"] if self.bare else [])],
                       check=True, env=dict(os.environ, RELAY_TOPOLOGY_INNER_IF=self.INNER_IF))
        if self.kernel_address:
            subprocess.run(["ip", "addr", "replace", self.kernel_address, "dev", self.root_if], check=True)
        if self.bare and not self.kernel_address:
            # The root end is the data plane's alone (af_packet, whose copy
            # comes before this hook): the kernel would otherwise look up a
            # route and build an ICMP error for every frame, on the relay's
            # core, for an address it does not hold.
            subprocess.run(["nft", "-f", "-"], check=True, text=True, input=(
                f"table netdev {self.nft_table}\ndelete table netdev {self.nft_table}\n"
                f"table netdev {self.nft_table} {{\n  chain ingress {{ type filter hook ingress device "
                f"\"{self.root_if}\" priority 0; policy drop; }}\n}}\n"))
        if self.receive_cores:
            root_core, inner_core = self.receive_cores
            Path(f"/sys/class/net/{self.root_if}/queues/rx-0/rps_cpus").write_text(f"{1 << root_core:x}\n")
            # ip netns exec mounts the namespace's own /sys.
            self.run(["sh", "-c", f"echo {1 << inner_core:x} > /sys/class/net/{self.INNER_IF}/queues/rx-0/rps_cpus"],
                     check=True)

    @property
    def nft_table(self) -> str:
        return f"bench_{self.root_if.replace('-', '_')}"

    def down(self) -> None:
        subprocess.run(["nft", "delete", "table", "netdev", self.nft_table], capture_output=True, check=False)
        subprocess.run([ROOT / "scripts" / "topology", "down", self.netns, self.root_if], check=False)

    def run(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.netns, *args], **kw)


class Relay:
    """Base: `procs` holds what we started; stop() ends exactly those."""

    name = "?"
    auth = "?"

    def __init__(self, tmp: Path, topology: Topology, core: int, secret: str, streams: Streams | None = None):
        self.tmp, self.topology, self.core, self.secret, self.streams = tmp, topology, core, secret, streams
        self.procs: dict[str, subprocess.Popen] = {}
        self.log_offsets: dict[str, int] = {}

    def spawn(self, name: str, args: list[str], env: dict | None = None) -> subprocess.Popen:
        path = self.tmp / f"{name}.log"
        # A restarted process appends to its log; readiness and log() read
        # only what this instance wrote, not its predecessor's "ready".
        self.log_offsets[name] = path.stat().st_size if path.exists() else 0
        log = open(path, "ab")
        p = subprocess.Popen(["taskset", "-c", str(self.core), *args], stdout=log, stderr=subprocess.STDOUT,
                             env=dict(os.environ, **(env or {})), start_new_session=True)
        self.procs[name] = p
        return p

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        if not path.exists():
            return ""
        with open(path, "rb") as f:
            f.seek(self.log_offsets.get(name, 0))
            return f.read().decode(errors="replace")

    def wait(self, ready, proc: subprocess.Popen, what: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{what}: exited with {proc.returncode}\n{self.logs()}")
            if ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{what} within {timeout} s\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"--- {n}.log ---\n{self.log(n)[-3000:]}" for n in self.procs)

    def answers_stun(self) -> bool:
        # A bare namespace has no address to ask from: a kernel relay
        # (coturn) is then asked from the root namespace, where it listens.
        ask = ["turnutils_stunclient", "-p", str(PORT), RELAY4]
        try:
            r = subprocess.run(ask, capture_output=True, timeout=3) if self.topology.bare else \
                self.topology.run(ask, capture_output=True, timeout=3)
        except subprocess.TimeoutExpired:  # it retries for long when nothing listens yet
            return False
        return r.returncode == 0

    def accepts_streams(self) -> bool:
        """With streams: a TCP connection to PORT and TLS_PORT succeeds from
        the namespace (what a client needs first); without, nothing to wait for."""
        if self.streams is None:
            return True
        probe = ("import socket,sys\nfor p in sys.argv[2:]:\n"
                 "    socket.create_connection((sys.argv[1], int(p)), timeout=1).close()")
        try:
            r = self.topology.run(["/usr/bin/python3", "-c", probe, RELAY4, str(PORT), str(TLS_PORT)],
                                  capture_output=True, timeout=5)
        except subprocess.TimeoutExpired:
            return False
        return r.returncode == 0

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            p = self.procs.pop(name)
            if p.poll() is not None:
                continue
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds_of(p.pid) for p in self.procs.values() if p.poll() is None)

    def run_wait_seconds(self) -> float:
        return sum(run_wait_seconds_of(p.pid) for p in self.procs.values() if p.poll() is None)

    def busy_seconds(self) -> float | None:
        return None

    def counters(self) -> dict[str, float]:
        return {}


class OurRelay(Relay):
    name, auth = "relay", "firezone"

    def __init__(self, tmp: Path, topology: Topology | None, core: int, secret: str, build: Path, prefix: str,
                 metrics_port: int, vdev: str | None = None, idle: str = "adaptive",
                 max_idle_sleep_us: int = 200, streams: Streams | None = None, driver: str = "auto",
                 tx_hold_us: int | None = None):
        super().__init__(tmp, topology, core, secret, streams)
        self.build, self.prefix, self.metrics_port = build, prefix, metrics_port
        # Named after the file prefix (≤ 15 characters, like the topology's
        # "<P>0"); the table from it too, away from the default 3478's
        # neighbours, so that two runs with different prefixes do not meet.
        self.stream_interface = f"{prefix}-st"
        self.stream_table = 100 + zlib.crc32(prefix.encode()) % 100
        relay_tls = stream = ""
        if streams:
            relay_tls = (f'tls_port = {TLS_PORT}\ntls_certificate = "{streams.certificate}"\n'
                         f'tls_private_key = "{streams.private_key}"\n')
            stream = OUR_STREAM_CONFIG.format(interface=self.stream_interface, table=self.stream_table)
        self.config = tmp / "relay.toml"
        # A vdev of the caller's (net_memif), else the topology's veth with
        # the driver asked for (eal.interface_driver: auto, af_xdp, af_packet).
        port_keys = (f'vdevs = ["{vdev}"]' if vdev else
                     f'interface = "{topology.root_if}"\ninterface_driver = "{driver}"')
        self.config.write_text(OUR_CONFIG.format(
            port=PORT, lowest=LOWEST_PORT, highest=HIGHEST_PORT, relay=RELAY4, core=core, prefix=prefix,
            wire_port=port_keys, metrics_port=metrics_port, health_port=free_tcp_port(), idle=idle,
            tx_hold="" if tx_hold_us is None else f"tx_hold_us = {tx_hold_us}",
            max_idle_sleep_us=max_idle_sleep_us, relay_tls=relay_tls, stream=stream))

    def start(self) -> None:
        env = {"AUTH_SECRET": self.secret}
        dp = self.spawn("dataplane", [str(self.build / "dataplane/process/relay-dataplane"), "--config",
                                      str(self.config)], env)
        self.wait(lambda: "ready" in self.log("dataplane"), dp, "relay-dataplane did not become ready")
        cp = self.spawn("controlplane", [str(self.build / "controlplane/process/relay-controlplane"), "--config",
                                         str(self.config)], env)
        self.wait(self.control_plane_ready, cp, "relay-controlplane does not answer STUN and /metrics")

    def run_wait_seconds(self) -> float:
        """How long the data plane's forwarding threads (its main thread,
        the worker with one lcore, and any rte-worker-N) waited for their
        core beyond what the relay's own other threads ran on it: here the
        control plane (its idle poll, ~3,300 wakeups/s, took ~7 % of the
        core at 200k) and the EAL's service threads share the relay's one
        core, and what they take is the relay's own cost, already in its
        cycles, not something else preempting it."""
        forwarding_wait = own_other_run = 0.0
        for name, p in self.procs.items():
            if p.poll() is not None:
                continue
            for tid, comm, ran, waited in threads_of(p.pid):
                if name == "dataplane" and (tid == p.pid or comm.startswith("rte-worker")):
                    forwarding_wait += waited
                else:
                    own_other_run += ran
        return forwarding_wait - own_other_run

    def control_plane_ready(self) -> bool:
        if self.topology is not None and self.topology.bare:
            # Nothing in a bare namespace can ask by STUN: the control
            # plane's own word and /metrics, as for the memif ceiling.
            return "attached to the data plane" in self.log("controlplane") and self.busy_seconds() is not None
        return self.answers_stun() and self.busy_seconds() is not None and self.accepts_streams()

    def stop(self) -> None:
        super().stop()
        for leftover in Path("/dev/hugepages").glob(f"{self.prefix}map_*"):
            leftover.unlink(missing_ok=True)
        if self.streams:
            # The data plane removes both on exit; a killed one leaves them.
            # Both carry this run's own name and number.
            subprocess.run(["ip", "link", "del", self.stream_interface], capture_output=True, check=False)
            for family in ("-4", "-6"):
                for _ in range(8):
                    if subprocess.run(["ip", family, "rule", "del", "table", str(self.stream_table)],
                                      capture_output=True, check=False).returncode != 0:
                        break
                subprocess.run(["ip", family, "route", "flush", "table", str(self.stream_table)],
                               capture_output=True, check=False)

    def busy_seconds(self) -> float | None:
        return self.counters().get("relay_dataplane_lcore_busy_seconds_total")

    def counters(self) -> dict[str, float]:
        """Each family of /metrics summed over its labels, and each labelled
        series under its exposed name; empty when the endpoint does not
        answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return {}
        sums: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                series, value = line.rsplit(" ", 1)
                name = series.split("{", 1)[0]
                sums[name] = sums.get(name, 0.0) + float(value)
                if series != name:  # each labelled series too, as exposed
                    sums[series] = float(value)
        return sums


class Coturn(Relay):
    name, auth = "coturn", "rest"

    def start(self) -> None:
        conf = self.tmp / "turnserver.conf"
        # With streams, TCP on listening-port (coturn's default) and TLS on
        # tls-listening-port; without, UDP alone as before.
        tls = "no-tls"
        if self.streams:
            tls = (f"tls-listening-port={TLS_PORT}\ncert={self.streams.certificate}\n"
                   f"pkey={self.streams.private_key}")
        conf.write_text(COTURN_CONFIG.format(relay=RELAY4, port=PORT, lowest=LOWEST_PORT, highest=HIGHEST_PORT,
                                             secret=self.secret, log=self.tmp / "turnserver-own.log", tmp=self.tmp,
                                             tls=tls))
        p = self.spawn("turnserver", ["turnserver", "-c", str(conf)])
        self.wait(lambda: self.answers_stun() and self.accepts_streams(), p,
                  "turnserver does not answer STUN (and, with streams, TCP on its TURN ports)")
