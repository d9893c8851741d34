#!/usr/bin/python3
"""End-to-end test of the data plane's stream exception path (ARCHITECTURE.md,
"Streams"): relay-dataplane with stream.enabled runs in a network namespace
of its own (so its TAP interface, addresses, policy rules and routes touch
nothing outside it), on a veth whose far end sits in a client namespace. A
plain TCP connect from the client namespace to the relay address's listen
port is accepted by a Python listener in the relay's namespace: the SYN
crossed the data plane into the TAP, the kernel's SYN-ACK and data came
back out of it through the policy route and the data plane's neighbour
resolution. A connect to another port is refused at once (the data plane's
RST). SIGTERM removes the TAP and the rules.

usage: test_stream_tap.py RELAY_DATAPLANE

Needs root, huge pages and /dev/net/tun. Bounded in time; starts only
relay-dataplane and python3 processes, ends them by PID, and deletes both
namespaces also when a check fails.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BINARY = sys.argv[1]
ROOT = Path(__file__).resolve().parents[3]
NAME = f"dps{os.getpid() % 100000}"
RELAY_NS, CLIENT_NS = f"{NAME}-r", f"{NAME}-c"
RELAY_IF, CLIENT_IF, TAP = f"{NAME}0", f"{NAME}1", f"{NAME}t"
PREFIX = f"{NAME}-"
RELAY4, CLIENT4 = "198.51.100.1", "198.51.100.2"
RELAY6, CLIENT6 = "2001:db8:100::1", "2001:db8:100::2"
TABLE = 200
sys.path.insert(0, str(ROOT / "tests" / "e2e" / "lib"))
from appliance import write_config  # noqa: E402
from test_dpprocess import events  # noqa: E402  (this directory: the data plane's JSON log events)


def sh(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=timeout)


def in_ns(ns: str, *args: str, **kw) -> subprocess.CompletedProcess:
    return sh("ip", "netns", "exec", ns, *args, **kw)


def topology_up() -> None:
    sh("ip", "netns", "add", RELAY_NS)
    sh("ip", "netns", "add", CLIENT_NS)
    sh("ip", "link", "add", RELAY_IF, "netns", RELAY_NS, "type", "veth", "peer", "name", CLIENT_IF,
       "netns", CLIENT_NS)
    in_ns(RELAY_NS, "ip", "link", "set", "lo", "up")
    in_ns(RELAY_NS, "sysctl", "-qw", f"net.ipv6.conf.{RELAY_IF}.disable_ipv6=1")
    in_ns(RELAY_NS, "ip", "link", "set", RELAY_IF, "up")
    in_ns(CLIENT_NS, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
    in_ns(CLIENT_NS, "ip", "link", "set", "lo", "up")
    in_ns(CLIENT_NS, "ip", "link", "set", CLIENT_IF, "up")
    # Full checksums from the client's kernel: no offload waits on the far side.
    in_ns(CLIENT_NS, "ethtool", "-K", CLIENT_IF, "rx", "off", "tx", "off", check=False)
    in_ns(CLIENT_NS, "ip", "-4", "addr", "add", f"{CLIENT4}/24", "dev", CLIENT_IF)
    in_ns(CLIENT_NS, "ip", "-6", "addr", "add", f"{CLIENT6}/64", "dev", CLIENT_IF, "nodad")


def topology_down() -> None:
    for ns in (RELAY_NS, CLIENT_NS):
        sh("ip", "netns", "del", ns, check=False)


def check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)
    print(f"ok: {what}", flush=True)


LISTENER = """
import socket, sys
family = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 3478))
s.listen(4)
s.settimeout(20)
print('listening', flush=True)
for _ in range(2):
    c, peer = s.accept()
    c.settimeout(5)
    data = c.recv(100)
    c.sendall(b'echo:' + data + b':' + peer[0].encode())
    c.close()
"""

CONNECT = """
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
c.sendall(b'turn over tcp')
c.settimeout(5)
print(c.recv(200).decode())
"""


def scenario(tmp: Path) -> None:
    config = write_config(tmp / "relay.toml", PREFIX, RELAY_IF,
                          extra=f'\n[stream]\nenabled = true\ninterface = "{TAP}"\nrouting_table = {TABLE}\n')
    log = tmp / "dataplane.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["ip", "netns", "exec", RELAY_NS, BINARY, "--config", str(config)], stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    listeners = []
    try:
        deadline = time.monotonic() + 20
        while not any(e.get("message") == "ready" for e in events(log)):
            if proc.poll() is not None:
                raise AssertionError(f"relay-dataplane exited with {proc.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"relay-dataplane not ready:\n{log.read_text()}")
            time.sleep(0.1)
        up = [e for e in events(log) if e.get("message", "").startswith("stream TAP up")]
        check(len(up) == 1 and up[0].get("interface") == TAP, f"one line says the stream TAP is up: {up}")
        link = in_ns(RELAY_NS, "ip", "-d", "link", "show", TAP).stdout
        check("NOARP" in link and "UP" in link and "tun" in link, f"{TAP} is an up NOARP TAP\n{link}")
        addrs = in_ns(RELAY_NS, "ip", "addr", "show", TAP).stdout
        check(f"{RELAY4}/32" in addrs and f"{RELAY6}/128" in addrs and "fe80" not in addrs,
              f"the relay addresses as host addresses, no link-local\n{addrs}")
        rules = in_ns(RELAY_NS, "ip", "rule", "show").stdout + in_ns(RELAY_NS, "ip", "-6", "rule", "show").stdout
        check(f"from {RELAY4} lookup {TABLE}" in rules and f"from {RELAY6} lookup {TABLE}" in rules,
              f"policy rules for both families\n{rules}")

        for relay in (RELAY4, RELAY6):
            listener = subprocess.Popen(["ip", "netns", "exec", RELAY_NS, "/usr/bin/python3", "-c", LISTENER, relay],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            listeners.append(listener)
            check(listener.stdout.readline().strip() == "listening", f"a listener on {relay}:3478")
            for attempt in range(2):  # the first may wait for the data plane's neighbour resolution
                r = in_ns(CLIENT_NS, "/usr/bin/python3", "-c", CONNECT, relay, "3478", check=False, timeout=20)
                if r.returncode == 0:
                    break
            client = CLIENT4 if relay == RELAY4 else CLIENT6
            check(r.returncode == 0 and r.stdout.strip() == f"echo:turn over tcp:{client}",
                  f"TCP from the client namespace reaches the kernel listener on {relay} and back: "
                  f"{r.stdout.strip()} {r.stderr.strip()}")
            started = time.monotonic()
            refused = in_ns(CLIENT_NS, "/usr/bin/python3", "-c", CONNECT, relay, "80", check=False, timeout=20)
            check(refused.returncode != 0 and "ConnectionRefusedError" in refused.stderr
                  and time.monotonic() - started < 3, f"TCP to {relay}:80 is refused at once (a RST)")
            listener.kill()
            listener.wait()

        proc.send_signal(signal.SIGTERM)
        check(proc.wait(timeout=10) == 0, "SIGTERM ends relay-dataplane with status 0")
        gone = in_ns(RELAY_NS, "ip", "link", "show", TAP, check=False)
        check(gone.returncode != 0, f"{TAP} is gone")
        rules = in_ns(RELAY_NS, "ip", "rule", "show").stdout + in_ns(RELAY_NS, "ip", "-6", "rule", "show").stdout
        check(f"lookup {TABLE}" not in rules, f"the policy rules are gone\n{rules}")
    finally:
        for listener in listeners:
            if listener.poll() is None:
                listener.kill()
                listener.wait()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main() -> int:
    if not Path("/dev/net/tun").exists():
        print("SKIP: no /dev/net/tun")
        return 77
    tmp = Path(tempfile.mkdtemp(prefix="relay-stream-tap-"))
    try:
        topology_up()
        scenario(tmp)
        print("all stream TAP checks passed")
        return 0
    except (AssertionError, subprocess.SubprocessError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        for line in (tmp / "dataplane.log").read_text(errors="replace").splitlines()[-40:] \
                if (tmp / "dataplane.log").exists() else []:
            print(line, file=sys.stderr)
        return 1
    finally:
        topology_down()
        for prefix_file in Path("/dev/hugepages").glob(f"{PREFIX}map_*"):
            prefix_file.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
