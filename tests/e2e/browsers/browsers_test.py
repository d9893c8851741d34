#!/usr/bin/python3
"""Real browsers through a TURN relay: headless Chromium or Firefox ESR in the
clients' namespace (scripts/topology) make two relay-only peer connections
through one relay and send 200 messages on a data channel
(tests/e2e/lib/browser.py). Passes when the channel opened, both selected
candidate pairs are relay <-> relay, their local candidates reach the relay
over --transport (the stats' relayProtocol) and >= 99 % of the messages
arrived.

    browsers_test.py --browser chromium|firefox [--relay ours|coturn|demo]
                     [--auth firezone|rest] [--transport udp|tcp|tls]
                     [--messages N] [--timeout SECONDS] [--capture FILE.pcap]

--transport tcp gives the browser only turn:198.51.100.1:3478?transport=tcp,
tls only turns:turn.relay.test:443?transport=tcp (that name is 198.51.100.1
in the clients' namespace; Firefox refuses an address in a turns: URL): the
relay serves streams
(ours: [stream] enabled; coturn: its TCP and TLS listeners) with a test CA's
certificate (tests/e2e/lib/testca.py; the demo's in /run/turn-demo/tls),
which the browser trusts for the call through an NSS database in its
throw-away HOME (Chromium) or profile (Firefox); with nft installed the
clients' namespace then lets out only TCP to the relay's port 443.

--relay ours (the default, what CI runs) starts our appliance
(tests/e2e/lib/appliance.py; RELAY_BUILD_DIR names the build), with
relay.auth.scheme --auth (rest: the browser gets coturn's REST credentials,
as a Matrix or Nextcloud server would hand them out). --relay
coturn runs coturn on the same addresses instead, for comparison: it gets a
namespace of its own holding the veth's other end, so nothing the browsers
send can leave the two namespaces. --relay demo uses the relay of a running
`sudo scripts/demo --keep` (namespace turn-demo, its secret in
/run/turn-demo) and leaves it running: what the call adds to the namespace
(default route, resolv.conf, forwarding off on turn-demo0) is undone
afterwards; with no demo running it fails and says so. --capture writes
what crossed the clients' veth and prints the attributes of every STUN/TURN
message type.

Exit status 77 (meson's skip) when the browser or coturn is not installed.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import browser as browsers  # noqa: E402
import lifecycle  # noqa: E402
from appliance import Appliance  # noqa: E402
from coturn import ALTERNATE_TLS_PORT, CoturnRelay  # noqa: E402
from testca import RELAY_NAME, TestCA  # noqa: E402
from turnclient import mint_credentials, mint_rest_credentials  # noqa: E402

RELAY4, RELAY6, PORT = "198.51.100.1", "2001:db8:100::1", 3478
INNER_IF = "relay0"  # scripts/topology's name for the clients' end of the veth
SKIP = 77
MIN_DELIVERY = 0.99
CALL_TIMEOUT_S = 45.0

@contextlib.contextmanager
def browser_namespace(netns: str, root_if: str):
    """Makes the clients' namespace fit for a browser, and undoes it.

    Firefox picks the address it gathers from by a UDP connect() to a public
    address, which needs a default route: it goes via the relay's address.
    Nothing sent that way leaves the machine: our data plane drops what is
    not for it, coturn's namespace has no route out, and the root
    namespace's kernel, which also sees our veth end, is told never to
    forward from it whatever ip_forward says.

    The browsers' own lookups (update, region, remote settings) would wait
    seconds for the machine's resolver through that route; a resolv.conf of
    the namespace's own (`ip netns exec` mounts the files of /etc/netns/NETNS/
    over /etc's) points them at the namespace's closed 127.0.0.1:53 instead.
    A hosts file of its own gives the relay its name (RELAY_NAME, what the
    turns: URL names: Firefox takes no address there), on the IPv4 address
    only, the one the TLS firewall lets through.

    Afterwards the namespace is as it was (it matters for a namespace that
    outlives the call, scripts/demo's): the previous default route, the
    previous forwarding setting, no resolv.conf or hosts unless one was
    there."""
    ns = ["ip", "netns", "exec", netns]
    old_route = subprocess.run([*ns, "ip", "-4", "route", "show", "default"], capture_output=True, text=True,
                               timeout=10).stdout.strip()
    forwarding = Path(f"/proc/sys/net/ipv4/conf/{root_if}/forwarding")
    old_forwarding = forwarding.read_text() if forwarding.exists() else None
    etc = Path("/etc/netns") / netns
    made_etc = not etc.exists()
    files = {etc / "resolv.conf": "nameserver 127.0.0.1\n",
             etc / "hosts": f"127.0.0.1 localhost\n::1 localhost\n{RELAY4} {RELAY_NAME}\n"}
    old_files = {f: f.read_bytes() if f.exists() else None for f in files}
    try:
        subprocess.run([*ns, "ip", "-4", "route", "replace", "default", "via", RELAY4, "dev", INNER_IF],
                       check=True, timeout=10)
        if old_forwarding is not None:
            forwarding.write_text("0\n")
        etc.mkdir(parents=True, exist_ok=True)
        for f, text in files.items():
            f.write_text(text)
        yield
    finally:
        subprocess.run([*ns, "ip", "-4", "route", "del", "default", "via", RELAY4, "dev", INNER_IF, "metric", "0"],
                       check=False, timeout=10, stderr=subprocess.DEVNULL)
        for line in old_route.splitlines():  # what ours replaced, or stood beside it
            subprocess.run([*ns, "ip", "-4", "route", "replace", *line.split()], check=False, timeout=10)
        if old_forwarding is not None and forwarding.exists():
            forwarding.write_text(old_forwarding)
        if made_etc:
            shutil.rmtree(etc, ignore_errors=True)
        for f, old in old_files.items():
            if old is not None:
                f.write_bytes(old)
            elif not made_etc:
                f.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            etc.parent.rmdir()  # only when no other namespace has one


TURN_URLS = {"udp": f"turn:{RELAY4}:{PORT}?transport=udp", "tcp": f"turn:{RELAY4}:{PORT}?transport=tcp",
             "tls": f"turns:{RELAY_NAME}:{ALTERNATE_TLS_PORT}?transport=tcp"}


@contextlib.contextmanager
def only_tcp_443(netns: str):
    """A firewall in the clients' namespace that lets out only TCP to the
    relay's port 443 (and loopback, where the page is served): the network
    of a hotel or an office that passes only HTTPS. Removed afterwards."""
    table = "browser_only_tcp_443"
    rules = (f"table inet {table} {{\n chain output {{\n  type filter hook output priority 0; policy drop;\n"
             f'  oif "lo" accept\n  ip daddr {RELAY4} tcp dport {ALTERNATE_TLS_PORT} accept\n'
             f"  counter comment \"dropped\"\n }}\n}}\n")
    ns = ["ip", "netns", "exec", netns]
    subprocess.run([*ns, "nft", "-f", "-"], input=rules, text=True, check=True, timeout=10)
    try:
        yield
    finally:
        r = subprocess.run([*ns, "nft", "list", "table", "inet", table], capture_output=True, text=True, timeout=10)
        dropped = re.search(r"counter packets (\d+)", r.stdout)
        print(f"firewall in {netns}: only TCP {RELAY4}:{ALTERNATE_TLS_PORT} out; "
              f"{dropped.group(1) if dropped else '?'} other packets dropped")
        subprocess.run([*ns, "nft", "delete", "table", "inet", table], check=False, timeout=10)


class DemoRelay:
    """The relay of a running `scripts/demo --keep`: namespace turn-demo on
    the veth turn-demo0, the secret, its scheme (scripts/demo --auth) and the
    /metrics address the script keeps in /run/turn-demo. Entering checks that it runs (and answers STUN)
    and takes a lock, so that two calls against it do not undo each other's
    namespace setup; leaving releases the lock and nothing else."""

    RUN_DIR = Path("/run/turn-demo")
    TLS_DIR = RUN_DIR / "tls"  # scripts/demo's CA and certificate (tests/e2e/lib/testca.py)
    LOCK_WAIT_S = 120.0

    def __init__(self):
        self.netns, self.root_if = "turn-demo", "turn-demo0"
        self.secret = ""
        self.auth = "firezone"
        self.metrics_address = ""
        self.lock = None

    def _missing(self) -> str | None:
        """Why there is no demo relay to use, or None."""
        for name in ("dataplane", "controlplane"):
            pid_file = self.RUN_DIR / f"{name}.pid"
            try:
                pid = int(pid_file.read_text().strip())
            except (OSError, ValueError):
                return f"no {pid_file}"
            if not Path(f"/proc/{pid}").exists():
                return f"relay-{name} (pid {pid} in {pid_file}) is not running"
        if not Path(f"/run/netns/{self.netns}").exists():
            return f"no network namespace {self.netns}"
        try:
            self.secret = (self.RUN_DIR / "secret").read_text().strip()
        except OSError:
            return f"no {self.RUN_DIR / 'secret'}"
        if not self.secret:
            return f"{self.RUN_DIR / 'secret'} is empty"
        try:
            r = subprocess.run(["ip", "netns", "exec", self.netns, "turnutils_stunclient", "-p", str(PORT), RELAY4],
                               capture_output=True, timeout=5)
        except subprocess.TimeoutExpired:
            r = None
        if r is None or r.returncode != 0:
            hint = " (it waits for its portal's init?)" if (self.RUN_DIR / "portal").exists() else ""
            return f"the relay at {RELAY4}:{PORT} does not answer STUN from {self.netns}{hint}"
        return None

    def __enter__(self) -> "DemoRelay":
        why = self._missing()
        if why:
            raise DemoMissing(f"no running demo relay: {why}. Start one with `sudo scripts/demo --keep` "
                              f"(and end it with `sudo scripts/demo --stop`).")
        self.lock = open(self.RUN_DIR / "browsers.lock", "w")
        deadline = time.monotonic() + self.LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self.lock.close()
                    raise DemoMissing(f"another browser call holds {self.lock.name} for over "
                                      f"{self.LOCK_WAIT_S:.0f} s") from None
                time.sleep(0.2)
        with contextlib.suppress(OSError):
            self.metrics_address = (self.RUN_DIR / "metrics").read_text().strip()
        with contextlib.suppress(OSError):
            self.auth = (self.RUN_DIR / "auth").read_text().strip()
        return self

    def __exit__(self, *exc) -> None:
        if self.lock is not None:
            self.lock.close()  # releases the flock
            self.lock = None

    def credentials(self) -> tuple[str, str]:
        """As scripts/demo mints them for its relay.auth.scheme: the portal's
        "<expiry>:<salt>", base64(SHA-256("<expiry>:<secret>:<salt>")) without
        padding, or coturn's REST ones."""
        if self.auth == "rest":
            return mint_rest_credentials(self.secret, user="browser")
        return mint_credentials(self.secret, salt="browser")

    def metrics(self) -> str:
        if not self.metrics_address:
            raise OSError("the demo serves no /metrics (metrics.address unset)")
        return urllib.request.urlopen(f"http://{self.metrics_address}/metrics", timeout=5).read().decode()


class DemoMissing(RuntimeError):
    """--relay demo without a usable running demo."""


class Capture:
    """tshark on the clients' end of the veth, inside their namespace."""

    def __init__(self, netns: str, path: Path):
        self.netns, self.path = netns, path
        self.log = path.with_suffix(".tshark.log")
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Capture":
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(["ip", "netns", "exec", self.netns, "tshark", "-q", "-i", INNER_IF,
                                          "-f", "udp", "-w", str(self.path)], stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 15
        while "Capturing on" not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"tshark did not start capturing: {self.log.read_text(errors='replace')}")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc) -> None:
        lifecycle.end(self.proc, signal.SIGINT)
        self.log.unlink(missing_ok=True)


STUN_TYPES = {0x0001: "Binding request", 0x0101: "Binding success", 0x0111: "Binding error",
              0x0003: "Allocate request", 0x0103: "Allocate success", 0x0113: "Allocate error",
              0x0004: "Refresh request", 0x0104: "Refresh success", 0x0114: "Refresh error",
              0x0008: "CreatePermission request", 0x0108: "CreatePermission success",
              0x0118: "CreatePermission error", 0x0009: "ChannelBind request", 0x0109: "ChannelBind success",
              0x0119: "ChannelBind error", 0x0016: "Send indication", 0x0017: "Data indication"}
STUN_ATTRIBUTES = {0x0006: "USERNAME", 0x0008: "MESSAGE-INTEGRITY", 0x0009: "ERROR-CODE", 0x000C: "CHANNEL-NUMBER",
                   0x000D: "LIFETIME", 0x0012: "XOR-PEER-ADDRESS", 0x0013: "DATA", 0x0014: "REALM",
                   0x0015: "NONCE", 0x0016: "XOR-RELAYED-ADDRESS", 0x0017: "REQUESTED-ADDRESS-FAMILY",
                   0x0018: "EVEN-PORT", 0x0019: "REQUESTED-TRANSPORT", 0x001A: "DONT-FRAGMENT",
                   0x001C: "MESSAGE-INTEGRITY-SHA256", 0x0020: "XOR-MAPPED-ADDRESS", 0x0022: "RESERVATION-TOKEN",
                   0x0024: "PRIORITY", 0x0025: "USE-CANDIDATE", 0x8000: "ADDITIONAL-ADDRESS-FAMILY",
                   0x8022: "SOFTWARE", 0x8028: "FINGERPRINT", 0x8029: "ICE-CONTROLLED", 0x802A: "ICE-CONTROLLING",
                   0x802B: "RESPONSE-ORIGIN", 0x802C: "OTHER-ADDRESS"}


def stun_attributes(pcap: Path) -> dict[str, int]:
    """`"<message type>: <its attributes in order>" -> how many` for every
    STUN/TURN message on the relay's port in the capture; ChannelData
    counted as one kind. (tshark does not dissect the ICE checks inside a
    Send or Data indication's DATA.)"""
    r = subprocess.run(["tshark", "-r", str(pcap), "-Y", f"stun && udp.port == {PORT}", "-T", "fields",
                        "-E", "separator=;", "-e", "stun.type", "-e", "stun.att.type"],
                       capture_output=True, text=True, timeout=60)
    kinds: dict[str, int] = defaultdict(int)
    for line in r.stdout.splitlines():
        mtype, atts = (line.split(";") + [""])[:2]
        if not mtype:
            kinds["ChannelData"] += 1
            continue
        t = int(mtype.split(",")[0], 16)
        names = [STUN_ATTRIBUTES.get(int(a, 16), a) for a in atts.split(",") if a]
        kinds[f"{STUN_TYPES.get(t, hex(t))}: {' '.join(names) or '-'}"] += 1
    return dict(sorted(kinds.items()))


def check(result: dict, messages: int, transport: str = "udp") -> list[str]:
    problems = []
    protocols = browsers.relay_protocols(result)
    # Over UDP only a browser that reports relayProtocol is held to it.
    if any(p != transport and (p is not None or transport != "udp") for p in protocols.values()):
        problems.append(f"the selected local candidates reach the relay over {protocols}, not {transport}")
    if not result.get("opened"):
        problems.append("the data channel did not open")
    if result.get("received", 0) < MIN_DELIVERY * messages:
        problems.append(f"{result.get('received', 0)} of {messages} messages arrived (< {MIN_DELIVERY:.0%})")
    if not browsers.relay_to_relay(result):
        problems.append(f"selected pairs are not relay<->relay: {browsers.summary(result)['pairs']}")
    return problems


def our_relay_counters(relay: Appliance | DemoRelay) -> dict[str, float]:
    """The /metrics samples a browser call moves: the relay's drops and the
    control plane's, the requests it answered and what it relayed."""
    out = {}
    try:
        text = relay.metrics()
    except OSError as e:
        return {"metrics unavailable": str(e)}
    for line in text.splitlines():
        if line.startswith(("relay_stun_drops_total", "relay_dataplane_drops_total", "relay_requests_total",
                            "relay_relayed_packets_total", "relay_channels_bound_total",
                            "relay_permissions_created_total")):
            name, value = line.rsplit(" ", 1)
            if float(value) != 0:
                out[name] = float(value)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--browser", choices=sorted(browsers.BINARIES), required=True)
    ap.add_argument("--relay", choices=["ours", "coturn", "demo"], default="ours",
                    help="demo: the relay of a running `scripts/demo --keep`")
    ap.add_argument("--auth", choices=["firezone", "rest"], default="firezone",
                    help="ours: relay.auth.scheme; rest: coturn's REST credentials, as the README mints them")
    ap.add_argument("--transport", choices=["udp", "tcp", "tls"], default="udp",
                    help="how the browsers reach the relay: turn:…?transport=udp (default), "
                         f"turn:…:{PORT}?transport=tcp or turns:…:{ALTERNATE_TLS_PORT}?transport=tcp "
                         "(a test CA the browser trusts for the call; the clients' namespace then "
                         f"reaches the relay on TCP {ALTERNATE_TLS_PORT} only)")
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--timeout", type=float, default=CALL_TIMEOUT_S,
                    help=f"seconds the call may take (default {CALL_TIMEOUT_S:.0f})")
    ap.add_argument("--capture", type=Path, help="write the clients' veth traffic to this pcap")
    a = ap.parse_args()
    # meson's timeout sends SIGTERM: unwind, so that every `with` below
    # ends the browser and the relay and removes the namespaces.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))

    if browsers.binary(a.browser) is None:
        print(f"SKIP: {browsers.BINARIES[a.browser]} is missing: install the Debian package "
              f"'{browsers.PACKAGES[a.browser]}' (scripts/setup tries to)")
        return SKIP
    if a.relay == "coturn" and shutil.which("turnserver") is None:
        print("SKIP: coturn's turnserver is missing (Debian package 'coturn')")
        return SKIP
    if a.capture and shutil.which("tshark") is None:
        print("SKIP: --capture needs tshark")
        return SKIP

    if a.transport == "tls" and shutil.which("certutil") is None:
        print("SKIP: --transport tls needs certutil (Debian package 'libnss3-tools')")
        return SKIP

    name = f"br{'ch' if a.browser == 'chromium' else 'ff'}-{'ct' if a.relay == 'coturn' else 'us'}"
    streams = a.transport != "udp"
    with contextlib.ExitStack() as stack:
        ca = None
        if a.transport == "tls":
            ca = TestCA.at(DemoRelay.TLS_DIR) if a.relay == "demo" else stack.enter_context(TestCA())
        if a.relay == "demo":
            relay = DemoRelay()
        else:
            relay = CoturnRelay(name, tls=ca) if a.relay == "coturn" else Appliance(
                name, metrics=True, extra_relay=f'auth.scheme = "{a.auth}"', stream={} if streams else None,
                tls=ca)
        try:
            stack.enter_context(relay)
            stack.enter_context(browser_namespace(relay.netns, relay.root_if))
            if a.relay == "ours" and a.auth == "rest":
                user, password = mint_rest_credentials(relay.secret, user="browser")
            else:
                user, password = relay.credentials()
            turn_url = TURN_URLS[a.transport]
            if a.transport == "tls" and shutil.which("nft"):
                stack.enter_context(only_tcp_443(relay.netns))
            # The demo's counters already hold its earlier clients: show what this call moved.
            before = our_relay_counters(relay) if a.relay == "demo" else {}
            with Capture(relay.netns, a.capture.resolve()) if a.capture else contextlib.nullcontext():
                result = browsers.run_call(relay.netns, a.browser, turn_url, user, password, a.messages,
                                           timeout=a.timeout, trust_ca=ca)
            counters = our_relay_counters(relay) if isinstance(relay, (Appliance, DemoRelay)) else {}
            if a.relay == "demo" and "metrics unavailable" not in counters:
                counters = {k: v - before.get(k, 0) for k, v in counters.items() if v != before.get(k, 0)}
        except DemoMissing as e:
            print(f"FAIL: {e}")
            return 1

    print(json.dumps({"relay": a.relay, **browsers.summary(result)}))
    if counters:
        what = " (what this call moved)" if a.relay == "demo" else ""
        print(f"relay counters{what}:", json.dumps(counters, indent=1))
    if a.capture:
        print(f"STUN/TURN attributes in {a.capture}:")
        for kind, count in stun_attributes(a.capture).items():
            print(f"  {count:5d} × {kind}")
    problems = check(result, a.messages, a.transport)
    if problems:
        print(json.dumps(result, indent=1))
        print("FAIL: " + "; ".join(problems))  # last, where a log's tail shows it
        return 1
    print(f"PASS: {a.browser} through {a.relay} over {a.transport}: opened in {result['msToOpen']} ms, "
          f"{result['received']}/{result['sent']} messages, relay<->relay on both connections, "
          f"relayed over {'/'.join(sorted(set(browsers.relay_protocols(result).values())))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
