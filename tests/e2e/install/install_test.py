"""What `meson install` and the .deb deliver, used the way an operator would.

--test tree: the installed tree (the binaries and relayctl in bin/, the
examples in share/turn-relay/, the units in systemd's unit directory),
`--version` of each installed binary, relayctl's one line when no relay
runs, and `systemd-analyze verify` of the units.

--test deb: scripts/package's .deb (its Depends are runtime packages,
not -dev) installed twice into a scratch root (dpkg --root), the installed
--version run, /etc/turn-relay/relay.toml a conffile; then the installed
units run against the demo topology (below); then a purge that leaves no
file behind.

The units: systemd is not PID 1 here, so the units' ExecStart lines are
run as systemd would run them: their EnvironmentFile read (it names the
secret file and the credential scheme), the data plane's READY=1 awaited on
a NOTIFY_SOCKET of our own (Type=notify), then the control plane. The relay
answers STUN and relays turnutils_uclient's traffic while `relayctl
allocations` shows it; inside the clients' namespace (--scenario operate)
relayctl kill ends a held allocation, a SIGHUP applies a new deny list, a
drain refuses new allocations, relayctl mints working credentials; then
ExecReload with a broken and a good file. Own namespace, veth and
--file-prefix (tests/e2e/lib/appliance.py)."""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "appliance"))

from appliance import CLIENT4, PEER4, PORT, RELAY4, ROOT, Appliance, build_dir  # noqa: E402

VERSION_LINE = re.compile(
    r"^(relay-dataplane|relay-controlplane) \d+\.\d+\.\d+ \(revision \S+\) DPDK \d+\.\d+\.\d+\S*\n$")
UNITS = ("relay-dataplane.service", "relay-controlplane.service")
CONFIG = "/etc/turn-relay/relay.toml"
ENV_FILE = "/etc/turn-relay/relay.env"


def install(destdir: Path) -> None:
    subprocess.run(["meson", "install", "-C", str(build_dir()), "--destdir", str(destdir), "--no-rebuild", "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)


def one(destdir: Path, pattern: str) -> Path:
    found = sorted(destdir.glob(pattern))
    assert len(found) == 1, f"{pattern}: expected one installed file, found {found}"
    return found[0]


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values in order]}} (systemd allows a
    key more than once)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        assert current is not None, f"{path}: {line!r} before any section"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def value(unit: dict, section: str, key: str) -> str:
    values = unit.get(section, {}).get(key, [])
    assert len(values) == 1, f"[{section}] {key}: expected one value, found {values}"
    return values[0]


def installed_units(destdir: Path) -> dict[str, tuple[Path, dict]]:
    units = {}
    for name in UNITS:
        path = one(destdir, f"**/systemd/system/{name}")
        units[name] = (path, parse_unit(path))
    return units


def check_tree(destdir: Path) -> None:
    relayctl = one(destdir, "**/bin/relayctl")
    r = subprocess.run([str(relayctl), "--socket", str(destdir / "none.sock"), "status"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 1 and not r.stdout and r.stderr.count("\n") == 1, r
    assert r.stderr.startswith("relayctl: no relay is running here: nothing answers on "), r.stderr
    print(f"ok: {relayctl.relative_to(destdir)} with no relay running: {r.stderr.strip()}")
    for binary in ("relay-dataplane", "relay-controlplane"):
        path = one(destdir, f"**/bin/{binary}")
        assert os.access(path, os.X_OK), f"{path} is not executable"
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10)
        assert out.returncode == 0, f"{binary} --version exited {out.returncode}: {out.stderr}"
        assert VERSION_LINE.match(out.stdout), f"{binary} --version printed {out.stdout!r}"
        assert not out.stderr, f"{binary} --version wrote to stderr (did the EAL start?): {out.stderr!r}"
        print(f"ok: {path.relative_to(destdir)} --version: {out.stdout.strip()}")
    for example in ("nic.toml", "demo.toml", "relay.env"):
        print(f"ok: {one(destdir, f'**/share/turn-relay/{example}').relative_to(destdir)}")
    check_check(destdir)


def check_check(destdir: Path) -> None:
    """--check of both installed binaries: the shipped example is good, a
    broken copy is named by FILE:LINE:COLUMN: KEY; nothing starts."""
    example = one(destdir, "**/share/turn-relay/demo.toml")
    broken = destdir / "broken.toml"
    broken.write_text(re.sub(r"(?m)^listen_port = \d+$", "listen_port = 0", example.read_text(), count=1))
    for binary in ("relay-dataplane", "relay-controlplane"):
        path = one(destdir, f"**/bin/{binary}")
        good = subprocess.run([str(path), "--check", "--config", str(example)], capture_output=True, text=True,
                              timeout=10)
        assert good.returncode == 0 and good.stdout == f"{example}: ok\n" and not good.stderr, f"{binary}: {good}"
        bad = subprocess.run([str(path), "--check", "--config", str(broken)], capture_output=True, text=True,
                             timeout=10)
        assert bad.returncode == 2 and re.match(rf"{re.escape(str(broken))}:\d+:\d+: relay\.listen_port: ", bad.stderr), \
            f"{binary}: {bad}"
    print("ok: relay-dataplane and relay-controlplane --check: the example is ok, a broken copy exits 2 naming "
          "FILE:LINE:COLUMN: KEY")


def check_units(destdir: Path) -> None:
    units = installed_units(destdir)
    bindir = one(destdir, "**/bin/relay-dataplane").parent
    for name, (path, unit) in units.items():
        program = name.removesuffix(".service")
        exec_start = f"/{bindir.relative_to(destdir)}/{program} --config {CONFIG}"
        assert value(unit, "Service", "ExecStart") == exec_start, name
        assert value(unit, "Service", "EnvironmentFile") == f"-{ENV_FILE}", name
        assert value(unit, "Service", "LimitMEMLOCK") == "infinity", name
        print(f"ok: {path.relative_to(destdir)}")
    dataplane = units["relay-dataplane.service"][1]
    controlplane = units["relay-controlplane.service"][1]
    assert value(dataplane, "Service", "Type") == "notify"
    assert value(controlplane, "Unit", "BindsTo") == "relay-dataplane.service"
    assert value(controlplane, "Unit", "After") == "relay-dataplane.service"
    assert value(controlplane, "Service", "Restart") == "always"
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        print("skipped: systemd-analyze verify (systemd-analyze is not installed)")
        return
    # verify wants the ExecStart programs where the units say: copies that
    # name the installed tree's.
    with tempfile.TemporaryDirectory(prefix="relay-units-") as scratch:
        copies = []
        for name, (path, _) in units.items():
            copy = Path(scratch) / name
            installed = f"ExecStart=/{bindir.relative_to(destdir)}/"
            copy.write_text(path.read_text().replace(installed, f"ExecStart={bindir}/"))
            copies.append(str(copy))
        r = subprocess.run([analyze, "verify", *copies], capture_output=True, text=True, timeout=60)
    # verify exits 0 after an unknown key: any word from it is a finding.
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), f"systemd-analyze verify:\n{r.stdout}{r.stderr}"
    print("ok: systemd-analyze verify finds nothing in either unit")


def environment_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and line[0] not in "#;":
            key, _, val = line.partition("=")
            env[key.strip()] = val.strip()
    return env


class UnitAppliance(Appliance):
    """The appliance started from the units' ExecStart lines, with their
    EnvironmentFile, the way systemd would: /etc/turn-relay/ is our scratch
    directory and the programs are the installed tree's."""

    def __init__(self, name: str, destdir: Path):
        super().__init__(name, metrics=True)
        self.destdir = destdir
        self.units = installed_units(destdir)
        secret_file = self.tmp / "auth-secret"
        secret_file.write_text(self.secret + "\n")
        secret_file.chmod(0o600)
        self.env_file = self.tmp / "relay.env"
        self.env_file.write_text(f"# as an operator writes it\nAUTH_SCHEME=rest\nAUTH_SECRET_FILE={secret_file}\n")
        self.notify_path = self.tmp / "notify"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.notify_path))

    def stop(self) -> None:
        super().stop()
        self.notify.close()

    def _spawn(self, name: str, binary: Path) -> subprocess.Popen:
        _, unit = self.units[f"relay-{name}.service"]
        argv = shlex.split(value(unit, "Service", "ExecStart"))
        argv[0] = str(self.destdir / argv[0].lstrip("/"))
        argv = [str(self.config) if a == CONFIG else a for a in argv]
        assert value(unit, "Service", "EnvironmentFile").lstrip("-") == ENV_FILE
        env = dict(os.environ, **environment_file(self.env_file))
        if value(unit, "Service", "Type") == "notify":
            env["NOTIFY_SOCKET"] = str(self.notify_path)
        log = open(self.tmp / f"{name}.log", "ab")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.procs[name] = p
        return p

    def start_dataplane(self) -> None:
        p = self._spawn("dataplane", Path())
        self.notify.settimeout(0.2)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise RuntimeError(f"relay-dataplane exited with {p.returncode}\n{self.logs()}")
            try:
                message = self.notify.recv(4096).decode()
            except TimeoutError:
                continue
            assert message == "READY=1", f"NOTIFY_SOCKET got {message!r}"
            assert "ready" in self.log("dataplane"), "READY=1 came before the data plane said it was ready"
            print("ok: relay-dataplane sent READY=1 on NOTIFY_SOCKET once its ports were up")
            return
        raise RuntimeError(f"no READY=1 on NOTIFY_SOCKET within 20 s\n{self.logs()}")


def relayctl(destdir: Path, relay: Appliance, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([str(one(destdir, "**/bin/relayctl")), "--config", str(relay.config), *args],
                       capture_output=True, text=True, timeout=30)
    assert not check or r.returncode == 0, f"relayctl {' '.join(args)}: {r}\n{relay.logs()}"
    return r


def run_units(destdir: Path) -> None:
    from appliance_test import uclient

    with UnitAppliance(f"e2eunit{os.getpid() % 10000}", destdir) as relay:
        assert relay.answers_binding()
        print("ok: the relay started from the units answers a STUN binding")
        peer = relay.ns_popen(["turnutils_peer", "-L", PEER4, "-p", "3480"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.3)
            uclient_shown(destdir, relay, uclient)
            print(relay.scenario(Path(__file__), "operate", timeout=120, RELAYCTL=one(destdir, "**/bin/relayctl"),
                                 RELAY_CONFIG=relay.config, CONTROLPLANE_PID=relay.procs["controlplane"].pid), end="")
        finally:
            peer.terminate()
            peer.wait(timeout=10)
        assert "relay_build_info{" in relay.metrics()
        print("ok: /metrics carries relay_build_info")
        reload_through_the_unit(relay)


def uclient_shown(destdir: Path, relay: Appliance, uclient) -> None:
    """turnutils_uclient relays with zero loss while `relayctl allocations`
    lists its allocations under its REST user."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            uclient(relay, "with the secret of AUTH_SECRET_FILE (-W)", "-n", "400", "-e", PEER4, RELAY4,
                    auth=["-u", "unit", "-W", relay.secret])
        except BaseException as e:  # re-raised below, on the test's thread
            failure.append(e)

    t = threading.Thread(target=run)
    t.start()
    shown = ""
    deadline = time.monotonic() + 20
    while t.is_alive() and time.monotonic() < deadline and "unit" not in shown:
        shown = relayctl(destdir, relay, "allocations", "--user", "unit").stdout
        time.sleep(0.1)
    t.join(timeout=120)
    if failure:
        raise failure[0]
    assert f" {CLIENT4}:" in shown and " unit " in shown and shown.rstrip().endswith("allocations"), shown
    print("ok: relayctl allocations --user unit lists turnutils_uclient's allocations while it relays:\n"
          + shown.rstrip())


def scenario_operate() -> None:
    """Inside the clients' namespace: a held allocation seen and ended with
    relayctl, a SIGHUP's deny list, a drain, minted credentials."""
    from turnclient import TurnClient, TurnError, mint_rest_credentials

    secret = os.environ["SECRET"]
    config = Path(os.environ["RELAY_CONFIG"])
    pid = int(os.environ["CONTROLPLANE_PID"])
    ctl = [os.environ["RELAYCTL"], "--config", str(config)]

    def run(*args: str, status: int = 0) -> str:
        r = subprocess.run([*ctl, *args], capture_output=True, text=True, timeout=30)
        assert r.returncode == status, f"relayctl {' '.join(args)} exited {r.returncode}: {r.stdout}{r.stderr}"
        return r.stdout + r.stderr

    def echoes(c: TurnClient) -> bool:
        c.send_channel(0x4000, b"ping")
        got = c.recv_channel(timeout=0.5)
        return got is not None and got[1] == b"ping"

    def refused(action, code: int) -> None:
        try:
            action()
        except TurnError as e:
            assert e.code == code, f"expected {code}, got {e.code}"
            return
        raise AssertionError(f"expected an error {code}")

    peer = (PEER4, 3480)
    with TurnClient((RELAY4, PORT), *mint_rest_credentials(secret, user="alice")) as c:
        c.allocate()
        c.channel_bind(0x4000, peer)
        assert echoes(c), "no echo through the fresh channel"
        listed = json.loads(run("--json", "allocations", "--user", "alice"))["allocations"]
        assert len(listed) == 1 and listed[0]["client"] == f"{CLIENT4}:{c.local_address()[1]}", listed
        assert listed[0]["channels"] == 1 and listed[0]["permissions"] == 1, listed
        print(f"ok: relayctl allocations --user alice: port {listed[0]['port']}, 1 channel, 1 permission")

        good = config.read_text()
        config.write_text(good.replace("[relay]\n", f'[relay]\npeer_deny = ["{PEER4}/32"]\n', 1))
        os.kill(pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while json.loads(run("--json", "allocations", "--user", "alice"))["allocations"][0]["channels"] != 0:
            assert time.monotonic() < deadline, "the SIGHUP's deny list did not revoke the channel"
            time.sleep(0.1)
        assert not echoes(c), "the denied peer is still relayed"
        refused(lambda: c.create_permission(peer), 403)
        print("ok: SIGHUP with a new relay.peer_deny revoked the peer's channel (no more relaying) "
              "and refuses it with 403")
        config.write_text(good)
        reloaded = run("reload")
        assert "peer_policy" in reloaded and "needs_restart:" in reloaded, reloaded
        print("ok: relayctl reload restored the old deny list:\n" + reloaded.rstrip())

        ended = run("kill", "--user", "alice")
        assert "ended 1 allocation" in ended, ended
        refused(lambda: c.refresh(600), 437)
        assert run("allocations", "--user", "alice").rstrip().endswith("0 allocations")
        assert run("kill", "--user", "alice", status=1).strip() == "no allocation matches"
        print("ok: relayctl kill --user alice ended it; its client's Refresh gets 437; a second kill matches nothing")

    drained = run("drain")
    assert re.search(r"draining:\s+true", drained) and re.search(r"not_ready:\s+draining", drained), drained
    with TurnClient((RELAY4, PORT), *mint_rest_credentials(secret, user="late")) as late:
        refused(late.allocate, 508)
    run("drain", "--cancel")
    print("ok: relayctl drain: a new Allocate gets 508, /readyz's reason says draining; --cancel accepts again")

    minted = json.loads(run("--json", "credentials", "--user", "bob", "--lifetime", "600"))
    with TurnClient((RELAY4, PORT), minted["username"], minted["password"]) as bob:
        bob.allocate()
        bob.channel_bind(0x4000, peer)
        assert echoes(bob)
    print(f"ok: relayctl credentials minted {minted['username']}, which allocates and relays")
    shown = run("config")
    assert secret not in shown and "relay.auth.secrets" in shown and "<redacted>" in shown, shown
    print("ok: relayctl config shows the effective keys with the secrets redacted")


def reload_through_the_unit(relay: UnitAppliance) -> None:
    """ExecReload (SIGHUP): a broken file changes nothing and says where it
    broke; a good one applies the new log level and quotas."""
    _, unit = relay.units["relay-controlplane.service"]
    pid = relay.procs["controlplane"].pid
    command = value(unit, "Service", "ExecReload").replace("$MAINPID", str(pid))
    good = relay.config.read_text()

    def reload_and_wait(expected: str) -> None:
        before = relay.log("controlplane").count(expected)
        subprocess.run(shlex.split(command), check=True, timeout=10)
        deadline = time.monotonic() + 10
        while relay.log("controlplane").count(expected) == before:
            assert time.monotonic() < deadline, f"no {expected!r} after ExecReload\n{relay.logs()}"
            time.sleep(0.1)

    relay.config.write_text(good.replace("[quotas]", "") + "\n[quotas]\nmax_allocations_per_username = -1\n")
    reload_and_wait("the configuration does not load")
    assert re.search(r"relay\.toml:\d+:\d+: quotas\.max_allocations_per_username", relay.log("controlplane"))
    print("ok: ExecReload with a broken relay.toml keeps the running configuration and names FILE:LINE:COLUMN: KEY")
    relay.config.write_text(good.replace('level = "debug"', 'level = "warn"')
                            + "\n[quotas]\nmax_allocations_per_username = 1\n")
    reload_and_wait("applied the live keys")
    assert re.search(r'"log_level": ?"warn".*"quotas": ?"applied"', relay.log("controlplane")), relay.logs()
    assert relay.procs["controlplane"].poll() is None
    print("ok: ExecReload applies the new log level and quotas; the control plane keeps running")
    relay.procs["dataplane"].send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert relay.procs["dataplane"].poll() is None and relay.answers_binding(), relay.logs()
    print("ok: a SIGHUP to the data plane ends nothing")


def dpkg(root: Path, *args: str) -> str:
    r = subprocess.run(["dpkg", f"--root={root}", "--force-depends", *args], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, f"dpkg {' '.join(args)}:\n{r.stdout}{r.stderr}"
    return r.stdout


def check_deb(scratch: Path) -> None:
    package = subprocess.run([str(ROOT / "scripts" / "package"), str(build_dir() / "package")], check=True,
                             capture_output=True, text=True, timeout=1200)
    deb = Path(package.stdout.strip().splitlines()[-1])
    assert re.fullmatch(r"turn-relay_\d+\.\d+\.\d+_amd64\.deb", deb.name), deb.name
    depends = subprocess.run(["dpkg-deb", "--field", str(deb), "Depends"], check=True, capture_output=True,
                             text=True).stdout
    names = [d.split()[0] for d in depends.split(",")]
    assert "librte-eal23" in names and "librte-mempool-ring23" in names, depends
    assert not [n for n in names if n.endswith("-dev")], f"a -dev package in Depends: {depends}"
    print(f"ok: {deb.name}, Depends: {depends.strip()}")
    # An empty dpkg database: the package's dependencies are the host's.
    for d in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/log"):
        (scratch / d).mkdir(parents=True)
    (scratch / "var/lib/dpkg/status").touch()
    for attempt in ("installed", "installed again"):
        dpkg(scratch, "-i", str(deb))
        for binary in ("relay-dataplane", "relay-controlplane", "relayctl"):
            flag = "--help" if binary == "relayctl" else "--version"
            out = subprocess.run([str(scratch / "usr/bin" / binary), flag], capture_output=True, text=True,
                                 timeout=10)
            assert out.returncode == 0 and (binary == "relayctl" or VERSION_LINE.match(out.stdout)), f"{binary}: {out}"
        print(f"ok: {attempt}: /usr/bin/relay-dataplane and relay-controlplane --version, relayctl --help")
    conffiles = subprocess.run(["dpkg-query", f"--root={scratch}", "-W", "-f=${Conffiles}", "turn-relay"],
                               check=True, capture_output=True, text=True).stdout
    assert "/etc/turn-relay/relay.toml" in conffiles, conffiles
    assert (scratch / "lib/systemd/system/relay-dataplane.service").exists()
    print("ok: /etc/turn-relay/relay.toml is a conffile; the units are in /lib/systemd/system")
    run_units(scratch)
    dpkg(scratch, "--purge", "turn-relay")
    left = [p for p in scratch.rglob("*") if not p.is_dir() and not p.relative_to(scratch).parts[0] == "var"]
    assert not left, f"left after a purge: {left}"
    print("ok: a purge leaves no file behind")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--test", choices=["tree", "deb"])
    ap.add_argument("--scenario", choices=["operate"])
    args = ap.parse_args()
    if args.scenario:
        scenario_operate()
        return 0
    destdir = Path(tempfile.mkdtemp(prefix="relay-install-"))
    try:
        if args.test == "deb":
            check_deb(destdir)
            return 0
        install(destdir)
        check_tree(destdir)
        check_units(destdir)
    finally:
        shutil.rmtree(destdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
