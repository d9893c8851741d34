#!/usr/bin/python3
"""End-to-end test of relay-dataplane alone: the process on a veth whose far
end sits in a network namespace of its own (scripts/topology), answering
ping and ping -6 from there; a second primary with the same file prefix and
a vdev naming a missing interface refused with one line; SIGTERM ending it
with status 0 within 5 s and no hugepage files left. The veth is
eal.interface with the auto driver: one line says which driver took it and
why; with two workers (a veth has one channel, net_af_xdp needs one per
worker) auto still starts, on net_af_packet, and an explicit af_xdp is
refused with one line naming the channels; with another XDP program already
on the veth (xdp_pass.c, built with clang) auto takes net_af_packet, an
explicit af_xdp is refused, and the program is still attached afterwards;
the program a SIGKILLed data plane left on the veth is removed by the next
start, which takes net_af_xdp again; a vdev in eal.vdevs works as before.

usage: test_dpprocess.py RELAY_DATAPLANE

Bounded in time; it starts only relay-dataplane processes and ping, ends
them by PID, and tears the topology down also when a check fails.
"""
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BINARY = sys.argv[1]
ROOT = Path(__file__).resolve().parents[3]
TOPOLOGY = ROOT / "scripts" / "topology"
NAME = f"dpp{os.getpid() % 100000}"  # veth names are limited to 15 characters
NETNS, ROOT_IF, PREFIX = f"{NAME}-ns", f"{NAME}0", f"{NAME}-"
RELAY4, RELAY6 = "198.51.100.1", "2001:db8:100::1"
HUGEPAGES = Path("/dev/hugepages")
sys.path.insert(0, str(ROOT / "tests" / "e2e" / "lib"))
from appliance import write_config  # noqa: E402

def events(log: Path) -> list[dict]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # a DPDK line; the test checks its own events only
    return out


def wait_ready(proc: subprocess.Popen, log: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(e.get("message") == "ready" for e in events(log)):
            return
        if proc.poll() is not None:
            raise AssertionError(f"relay-dataplane exited with {proc.returncode}:\n{log.read_text()}")
        time.sleep(0.1)
    raise AssertionError(f"relay-dataplane not ready within {timeout} s:\n{log.read_text()}")


def check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)
    print(f"ok: {what}", flush=True)


def ping(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", NETNS, "ping", "-c", "3", "-i", "0.2", "-W", "2", *args],
                          capture_output=True, text=True, timeout=30)


def refused_with_one_line(config: Path, expected: str) -> None:
    r = subprocess.run([BINARY, "--config", str(config)], capture_output=True, text=True, timeout=20)
    lines = (r.stdout + r.stderr).splitlines()
    check(r.returncode == 1, f"refused with exit status 1 ({expected})")
    check(len(lines) == 1 and expected in json.loads(lines[0])["message"],
          f"one log line saying {expected!r}: {lines}")


@contextlib.contextmanager
def running(config: Path, log: Path):
    """relay-dataplane on `config`, its output in `log`, once it is ready;
    killed on the way out unless a check already ended it."""
    with open(log, "wb") as out:
        proc = subprocess.Popen([BINARY, "--config", str(config)], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        wait_ready(proc, log)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def answers_ping(*args: str, address: str = RELAY4) -> None:
    r = ping(*args, address)
    check(r.returncode == 0 and " 0% packet loss" in r.stdout, f"ping {' '.join(args)} {address} is answered\n{r.stdout}")


def stops_on_sigterm(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    check(proc.wait(timeout=5) == 0, "SIGTERM ends it with status 0")


def driver_lines(log: Path) -> list[dict]:
    return [e for e in events(log) if e.get("driver") in ("net_af_xdp", "net_af_packet") and "interface" in e]


def two_workers(config: Path) -> Path:
    text = config.read_text()
    assert "worker_lcores = [1]" in text
    config.write_text(text.replace("worker_lcores = [1]", "worker_lcores = [0, 1]"))
    return config


def auto_falls_back_with_two_workers(tmp: Path) -> None:
    config = two_workers(write_config(tmp / "two.toml", PREFIX, ROOT_IF))
    log = tmp / "two.log"
    with running(config, log) as proc:
        lines = driver_lines(log)
        check(len(lines) == 1 and lines[0]["driver"] == "net_af_packet",
              f"two workers on a veth: auto takes net_af_packet, in one line: {lines}")
        message = lines[0]["message"]
        check(message.startswith("net_af_packet: measured faster") or
              ("net_af_xdp failed: " in message and "combined channel" in message
               and message.endswith("; using net_af_packet")), f"and says why: {message}")
        answers_ping()
        stops_on_sigterm(proc)
    xdp = two_workers(write_config(tmp / "xdp.toml", PREFIX, ROOT_IF, driver="af_xdp"))
    refused_with_one_line(xdp, "combined channel")


def xdp_program(iface: str) -> str | None:
    """The id of the XDP program attached to `iface`, or None."""
    r = subprocess.run(["ip", "-j", "link", "show", "dev", iface], capture_output=True, text=True, timeout=10)
    xdp = json.loads(r.stdout)[0].get("xdp", {})
    return str(xdp["prog"]["id"]) if "prog" in xdp else None


def another_xdp_program_is_left_alone(tmp: Path) -> None:
    """An operator's XDP program on the interface (a filter, say): net_af_xdp
    cannot attach beside it, and DPDK would detach it while cleaning up
    its failed port, so the data plane does not try: auto takes
    net_af_packet, an explicit af_xdp is refused, the program stays."""
    clang = shutil.which("clang")
    if clang is None:
        print("skipped: another XDP program on the veth (no clang to build xdp_pass.c)", flush=True)
        return
    program = tmp / "xdp_pass.o"
    subprocess.run([clang, "-O2", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-c",
                    str(Path(__file__).with_name("xdp_pass.c")), "-o", str(program)], check=True, timeout=60)
    subprocess.run(["ip", "link", "set", "dev", ROOT_IF, "xdp", "obj", str(program), "sec", "xdp"], check=True,
                   timeout=10)
    try:
        attached = xdp_program(ROOT_IF)
        check(attached is not None, f"another program is attached to {ROOT_IF} (id {attached})")
        config = write_config(tmp / "beside.toml", PREFIX, ROOT_IF)
        log = tmp / "beside.log"
        with running(config, log) as proc:
            lines = driver_lines(log)
            check(len(lines) == 1 and lines[0]["driver"] == "net_af_packet" and
                  lines[0]["message"].startswith(f"net_af_xdp failed: {ROOT_IF} already has an XDP program (id "
                                                 f"{attached} \"pass\")"),
                  f"auto takes net_af_packet and says whose program is in the way: {lines}")
            answers_ping()
            stops_on_sigterm(proc)
        refused_with_one_line(write_config(tmp / "beside-xdp.toml", PREFIX, ROOT_IF, driver="af_xdp"),
                              "already has an XDP program")
        check(xdp_program(ROOT_IF) == attached, f"the program is still attached (id {attached})")
    finally:
        subprocess.run(["ip", "link", "set", "dev", ROOT_IF, "xdp", "off"], check=False, timeout=10)


def a_killed_data_planes_program_is_removed_by_the_next_start(tmp: Path) -> None:
    """SIGKILL leaves net_af_xdp's program on the interface; the next start
    with the same file prefix knows it as its own (the id it recorded) and
    detaches it rather than falling back for good."""
    config = write_config(tmp / "killed.toml", PREFIX, ROOT_IF)
    log = tmp / "killed.log"
    with running(config, log) as proc:
        check(driver_lines(log)[0]["driver"] == "net_af_xdp", "auto takes net_af_xdp on a bare veth")
        left = xdp_program(ROOT_IF)
        proc.kill()
        proc.wait()
    check(left is not None and xdp_program(ROOT_IF) == left, f"SIGKILL leaves its XDP program attached (id {left})")
    for leftover in HUGEPAGES.glob(f"{PREFIX}map_*"):
        leftover.unlink(missing_ok=True)
    log = tmp / "restarted.log"
    with running(config, log) as proc:
        removed = [e for e in events(log) if e.get("message", "").startswith("removed the XDP program")]
        check(len(removed) == 1 and str(removed[0].get("program_id")) == left,
              f"the next start removes that program, saying so: {removed}")
        check(driver_lines(log)[0]["driver"] == "net_af_xdp", "and takes net_af_xdp again")
        answers_ping()
        stops_on_sigterm(proc)
    check(xdp_program(ROOT_IF) is None, "a clean stop leaves no XDP program behind")


def explicit_vdev_still_works(tmp: Path) -> None:
    config = write_config(tmp / "vdev.toml", PREFIX, ROOT_IF, driver="vdev")
    log = tmp / "vdev.log"
    with running(config, log) as proc:
        ready = [e for e in events(log) if e.get("message") == "ready"]
        check(ready[0].get("port") == "net_af_packet0" and not driver_lines(log),
              "eal.vdevs alone: its port, and no driver selection")
        answers_ping()
        stops_on_sigterm(proc)


def scenario(tmp: Path) -> None:
    config = write_config(tmp / "relay.toml", PREFIX, ROOT_IF)
    log = tmp / "dataplane.log"
    with running(config, log) as proc:
        ready = [e for e in events(log) if "ready" in e.get("message", "")]
        check(len(ready) == 1, "exactly one line says ready")
        lines = driver_lines(log)
        check(len(lines) == 1 and lines[0]["driver"] == ready[0].get("driver"),
              f"one line says which driver took the veth, and why: {lines}")
        print(f"   auto: {lines[0]['message']}", flush=True)
        check(ready[0].get("steering") == "software", "the veth takes the software classification path")
        check(any(e.get("message") == f"rte_flow not supported by {ready[0]['driver']}: software classification"
                  for e in events(log)), "the rte_flow fallback is logged")
        check(sum("rte_flow" in e.get("message", "") for e in events(log)) == 1, "the fallback is logged once")

        answers_ping()
        answers_ping("-6", address=RELAY6)

        refused_with_one_line(write_config(tmp / "twin.toml", PREFIX, ROOT_IF), "another relay-dataplane runs")
        refused_with_one_line(write_config(tmp / "typo.toml", f"{NAME}x-", f"{NAME}x"), "does not exist")

        check(any(HUGEPAGES.glob(f"{PREFIX}map_*")), "the running primary backs its memory with hugepage files")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(timeout=5)
        check(status == 0, f"SIGTERM ends relay-dataplane with status 0 (got {status})")
        check(time.monotonic() - started < 5, "within 5 s")
        check(any(e.get("message") == "stopped" for e in events(log)), "it logs that it stopped")
        check(not any(HUGEPAGES.glob(f"{PREFIX}map_*")), "no hugepage files are left")


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="relay-dpprocess-"))
    try:
        subprocess.run([TOPOLOGY, "up", NETNS, ROOT_IF], check=True, timeout=30)
        scenario(tmp)
        auto_falls_back_with_two_workers(tmp)
        another_xdp_program_is_left_alone(tmp)
        a_killed_data_planes_program_is_removed_by_the_next_start(tmp)
        explicit_vdev_still_works(tmp)
        print("all relay-dataplane checks passed")
        return 0
    except AssertionError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    finally:
        subprocess.run([TOPOLOGY, "down", NETNS, ROOT_IF], check=False, timeout=30)
        for leftover in HUGEPAGES.glob(f"{PREFIX}map_*"):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
