#!/usr/bin/python3
"""End-to-end test of the portal connection: portal-probe (PortalClient)
against the mock of Firezone's portal (tests/e2e/lib/mockportal.py) on
127.0.0.1 (ephemeral ports), over ws and over wss with a test CA made on the
fly with the openssl CLI.

usage: test_portal.py PORTAL_PROBE RELAY_VERSION

Every scenario is bounded in time; the only processes started are the probes,
which are killed by PID if they outlive their --seconds.
"""
import asyncio
import json
import os
import ssl
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from mockportal import IDLE_TIMEOUT, MockPortal  # noqa: E402

PROBE = sys.argv[1]
VERSION = sys.argv[2]
# Characters that must be percent-encoded, so the test also checks encoding.
TOKEN = "tok-S3cret/+&=42"
STAMP = "stamp-S3cret-7"
# What every probe needs to be let in by the portal: a token and an address.
LOGIN = ["--token", TOKEN, "--stamp-secret", STAMP, "--ipv4", "203.0.113.7"]
FAILURES = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        FAILURES.append(what)


async def run_probe(args, seconds):
    """Runs portal-probe; returns (exit code, parsed JSON lines, raw output)."""
    proc = await asyncio.create_subprocess_exec(
        PROBE, "--seconds", str(seconds), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=seconds + 15)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        check(False, f"probe exited within {seconds + 15} s")
        return -1, [], ""
    raw = out.decode(errors="replace") + err.decode(errors="replace")
    lines = []
    for line in out.decode(errors="replace").splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            check(False, f"probe printed JSON: {line!r}")
    return proc.returncode, lines, raw


def of_type(lines, kind):
    return [line for line in lines if line["type"] == kind]


def logs_with(lines, needle):
    return [line for line in of_type(lines, "log")
            if needle in line["message"] or any(needle in v for v in line["fields"].values())]


def check_secrets_absent(raw, scenario):
    secrets = {"token": TOKEN, "stamp_secret": STAMP, "encoded token": urllib.parse.quote(TOKEN, safe="")}
    for label, secret in secrets.items():
        check(secret not in raw, f"{scenario}: the {label} is never printed")


def make_certificates(folder):
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True, timeout=30)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2",
                "-subj", f"/CN=relay portal test {ca}",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, san in (("server", "DNS:localhost,IP:127.0.0.1"), ("wrong-name", "DNS:portal.invalid")):
        with open(os.path.join(folder, f"{name}.ext"), "w") as ext:
            ext.write(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                      "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext")


def server_tls(folder, name):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(folder, f"{name}.pem"), os.path.join(folder, f"{name}.key"))
    return context


async def scenario_ws_registers_joins_and_receives_init():
    portal = MockPortal(["serve"])
    port = await portal.start()
    try:
        code, lines, raw = await run_probe(
            ["--url", f"ws://127.0.0.1:{port}", "--allow-insecure-ws", *LOGIN, "--ipv6", "2001:db8::7",
             "--port", "3479", "--name", "relay eu-1", "--heartbeat-ms", "250"], seconds=2.0)
    finally:
        await portal.stop()
    name = "ws"
    check(code == 0, f"{name}: probe exits 0")
    check(len(portal.connections) == 1, f"{name}: exactly one connection")
    if not portal.connections:
        return
    conn = portal.connections[0]
    check(conn.path == "/relay/websocket", f"{name}: path is /relay/websocket ({conn.path})")
    check(conn.query == {"token": [TOKEN], "ipv4": ["203.0.113.7"], "ipv6": ["2001:db8::7"], "port": ["3479"],
                         "name": ["relay eu-1"]},
          f"{name}: query carries token, ipv4, ipv6, port, name ({sorted(conn.query)})")
    check(conn.authorization == f"Bearer {TOKEN}", f"{name}: X-Authorization carries the token as a bearer")
    check(conn.user_agent == f"relay/{VERSION}", f"{name}: User-Agent relay/{VERSION} ({conn.user_agent})")
    joins = [m for m in conn.messages if m["event"] == "phx_join"]
    check(len(joins) == 1 and joins[0]["topic"] == "relay" and joins[0]["payload"] == {"stamp_secret": STAMP},
          f"{name}: one phx_join on topic relay with the stamp_secret")
    beats = [m for m in conn.messages if m["event"] == "heartbeat"]
    check(len(beats) >= 4 and all(b["topic"] == "phoenix" for b in beats),
          f"{name}: heartbeats on topic phoenix every 250 ms ({len(beats)} in 2 s)")
    check(len(of_type(lines, "joined")) == 1, f"{name}: probe reports joined")
    inits = of_type(lines, "init")
    check(len(inits) == 1 and inits[0]["payload"] == {}, f"{name}: probe reports init with its payload")
    check(not of_type(lines, "disconnected"), f"{name}: no disconnection while heartbeats are answered")
    check(not logs_with(lines, "unknown event"), f"{name}: everything the portal sent was understood")
    check(conn.close_code == 1000, f"{name}: stop() sends a normal close frame ({conn.close_code})")
    check(len(of_type(lines, "attempt")) == 1 and "token=REDACTED" in of_type(lines, "attempt")[0]["url"],
          f"{name}: the attempt's URL is printed with the token redacted")
    check_secrets_absent(raw, name)


async def scenario_wss_with_the_test_ca_succeeds(folder):
    portal = MockPortal(["serve"], tls=server_tls(folder, "server"))
    port = await portal.start()
    try:
        code, lines, raw = await run_probe(
            ["--url", f"wss://localhost:{port}", "--ca-file", os.path.join(folder, "ca.pem"),
             *LOGIN], seconds=1.5)
        ip_code, ip_lines, _ = await run_probe(
            ["--url", f"wss://127.0.0.1:{port}", "--ca-file", os.path.join(folder, "ca.pem"),
             *LOGIN], seconds=1.5)
    finally:
        await portal.stop()
    name = "wss test CA"
    check(code == 0 and of_type(lines, "joined") and of_type(lines, "init"),
          f"{name}: wss://localhost joins and receives init")
    check(portal.sni == ["localhost", None], f"{name}: SNI carries the host name, never an address ({portal.sni})")
    check(ip_code == 0 and of_type(ip_lines, "init"), f"{name}: wss://127.0.0.1 (IP SAN) joins and receives init")
    check(not of_type(lines, "disconnected"), f"{name}: no disconnection")
    check_secrets_absent(raw, name)


async def scenario_wss_with_untrusted_certificates_is_refused(folder):
    cases = [
        ("untrusted CA", "server", []),
        ("other CA", "server", ["--ca-file", os.path.join(folder, "other-ca.pem")]),
        ("wrong host name", "wrong-name", ["--ca-file", os.path.join(folder, "ca.pem")]),
    ]
    for label, cert, extra in cases:
        portal = MockPortal(["serve"], tls=server_tls(folder, cert))
        port = await portal.start()
        try:
            code, lines, raw = await run_probe(
                ["--url", f"wss://127.0.0.1:{port}", *LOGIN,
                 "--backoff-base-ms", "200", "--backoff-cap-ms", "200", *extra], seconds=1.0)
        finally:
            await portal.stop()
        name = f"wss {label}"
        check(not portal.connections, f"{name}: no upgrade request reaches the portal")
        check(not of_type(lines, "joined"), f"{name}: never joins")
        gone = of_type(lines, "disconnected")
        check(gone and all(g["reason"].startswith("tls: certificate verification failed") for g in gone),
              f"{name}: refused with a clear reason ({gone[0]['reason'] if gone else None})")
        check(logs_with(lines, "certificate verification failed"), f"{name}: a log line says why")
        if label == "wrong host name":
            check(gone and "hostname mismatch" in gone[0]["reason"], f"{name}: the reason says the name does not match")
        check_secrets_absent(raw, name)


async def scenario_ws_without_allow_insecure_is_refused():
    portal = MockPortal(["serve"])
    port = await portal.start()
    try:
        code, lines, raw = await run_probe(
            ["--url", f"ws://127.0.0.1:{port}", *LOGIN], seconds=1.0)
    finally:
        await portal.stop()
    errors = of_type(lines, "setup_error")
    check(code == 2, "ws refused: probe exits 2")
    check(errors and "--allow-insecure-ws" in errors[0]["message"], "ws refused: the error names --allow-insecure-ws")
    check(not portal.connections and not of_type(lines, "attempt"), "ws refused: no connection attempt")
    check_secrets_absent(raw, "ws refused")


async def scenario_missed_heartbeat_replies_reconnect():
    portal = MockPortal(["silent_heartbeat", "serve"])
    port = await portal.start()
    try:
        code, lines, _ = await run_probe(
            ["--url", f"ws://127.0.0.1:{port}", "--allow-insecure-ws", *LOGIN,
             "--heartbeat-ms", "300", "--backoff-base-ms", "100"], seconds=2.5)
    finally:
        await portal.stop()
    name = "missed heartbeat"
    joined = of_type(lines, "joined")
    gone = of_type(lines, "disconnected")
    check(len(joined) == 2, f"{name}: joined, lost, joined again ({len(joined)} joins)")
    check(len(gone) == 1 and "heartbeat" in gone[0]["reason"], f"{name}: the reason names the heartbeat")
    if joined and gone:
        lost_after = gone[0]["t"] - joined[0]["t"]
        check(1.15 <= lost_after <= 1.7,
              f"{name}: declared dead when a fourth beat is due, three unanswered ({lost_after:.3f} s)")


async def scenario_failures_reconnect_with_growing_jittered_delays():
    base_ms, cap_ms = 100, 800
    portal = MockPortal(["401", "drop", "garbage", "403", "close_frame", "join_error", "drop"])
    port = await portal.start()
    try:
        code, lines, raw = await run_probe(
            ["--url", f"ws://127.0.0.1:{port}", "--allow-insecure-ws", *LOGIN,
             "--backoff-base-ms", str(base_ms), "--backoff-cap-ms", str(cap_ms), "--seed", "1"], seconds=6.0)
    finally:
        await portal.stop()
    name = "reconnect"
    attempts = of_type(lines, "attempt")
    gone = of_type(lines, "disconnected")
    check(len(attempts) >= 8, f"{name}: keeps reconnecting ({len(attempts)} attempts in 6 s)")
    check(len(portal.connections) >= 7, f"{name}: every behaviour was exercised ({len(portal.connections)})")
    delays = []
    for n, (lost, attempt) in enumerate(zip(gone, attempts[1:])):
        ceiling_ms = min(cap_ms, base_ms * 2 ** n)
        delays.append(lost["retry_in_ms"])
        check(0 <= lost["retry_in_ms"] <= ceiling_ms,
              f"{name}: delay {n} is {lost['retry_in_ms']} ms, within [0, {ceiling_ms}] ms")
        waited_ms = (attempt["t"] - lost["t"]) * 1000
        check(lost["retry_in_ms"] - 5 <= waited_ms <= lost["retry_in_ms"] + 400,
              f"{name}: attempt {n + 2} came {waited_ms:.0f} ms after the failure, as drawn")
    check(any(d > base_ms for d in delays), f"{name}: delays grow past the base ({delays})")
    reasons = [g["reason"] for g in gone]
    check(any(r.startswith("unauthorized: HTTP 401") for r in reasons), f"{name}: 401 seen as unauthorized")
    check(any(r.startswith("unauthorized: HTTP 403") for r in reasons), f"{name}: 403 seen as unauthorized")
    check(len(logs_with(lines, "token is likely wrong")) >= 2, f"{name}: 401/403 logged as a likely bad token")
    check(any(r.startswith("transport") for r in reasons), f"{name}: dropped TCP and garbage frames end the connection")
    check(logs_with(lines, "malformed"), f"{name}: the malformed text frame is logged")
    check(any(r.startswith("closed_by_portal: close code 1001") for r in reasons), f"{name}: close frame seen")
    check([j["reason"] for j in of_type(lines, "join_failed")][:1] == ["invalid stamp"], f"{name}: join error reported")
    check_secrets_absent(raw, name)


async def scenario_token_placements_and_the_refusal_without_an_address():
    portal = MockPortal(["serve"])
    port = await portal.start()
    url = ["--url", f"ws://127.0.0.1:{port}", "--allow-insecure-ws"]
    try:
        runs = {placement: await run_probe([*url, *LOGIN, "--token-placement", placement], seconds=0.6)
                for placement in ("header", "query")}
        _, no_address, raw = await run_probe([*url, "--token", TOKEN, "--stamp-secret", STAMP,
                                              "--backoff-base-ms", "100"], seconds=0.6)
    finally:
        await portal.stop()
    header, query = portal.connections[0], portal.connections[1]
    check(header.authorization == f"Bearer {TOKEN}" and "token" not in header.query,
          "token placement header: X-Authorization only")
    check(query.authorization is None and query.query.get("token") == [TOKEN], "token placement query: the query only")
    check(all(of_type(lines, "init") for _, lines, _ in runs.values()), "token placements: either one is let in")
    gone = of_type(no_address, "disconnected")
    check(not of_type(no_address, "joined") and gone and gone[0]["reason"] == "unauthorized: HTTP 403",
          "neither ipv4 nor ipv6: the portal refuses the upgrade with 403 as Phoenix does")
    check_secrets_absent(raw, "no address")


async def probe_over_ws(behaviours, args, seconds):
    """portal-probe logged in over ws:// to a MockPortal of `behaviours`:
    (the portal, the probe's JSON lines)."""
    portal = MockPortal(behaviours)
    port = await portal.start()
    try:
        _, lines, _ = await run_probe(["--url", f"ws://127.0.0.1:{port}", "--allow-insecure-ws", *LOGIN, *args],
                                      seconds=seconds)
    finally:
        await portal.stop()
    return portal, lines


async def scenario_retry_after_on_429_and_503_delays_the_next_attempt():
    for status in ("429", "503"):
        _, lines = await probe_over_ws([status, "serve"], ["--backoff-base-ms", "100"], 3.0)
        name = f"Retry-After on {status}"
        gone, attempts = of_type(lines, "disconnected"), of_type(lines, "attempt")
        check(gone and gone[0]["retry_in_ms"] == 2000, f"{name}: the next attempt is 2 s away, not the 100 ms backoff")
        if len(attempts) >= 2 and gone:
            waited = attempts[1]["t"] - gone[0]["t"]
            check(1.95 <= waited <= 2.5, f"{name}: the second attempt came {waited:.2f} s later")
        check(len(of_type(lines, "init")) == 1, f"{name}: then joins and gets init")


async def scenario_hostile_portal_messages_are_logged_once_and_the_connection_stays():
    portal, lines = await probe_over_ws(["hostile"], ["--heartbeat-ms", "300"], 2.0)
    name = "hostile portal"
    check(len(logs_with(lines, "nested too deeply")) == 1, f"{name}: 1 MiB of nesting refused, logged once")
    check(len(logs_with(lines, "presence_state")) == 1 and len(logs_with(lines, "presence_diff")) == 1,
          f"{name}: each unknown event (one of them 1 MiB) logged once")
    check(len(of_type(lines, "init")) == 1 and len(logs_with(lines, "repeated init")) == 1,
          f"{name}: init twice is one init and one log line")
    check(not of_type(lines, "disconnected"), f"{name}: the connection stays up")
    beats = [m for m in portal.connections[0].messages if m["event"] == "heartbeat"]
    check(len(beats) >= 4, f"{name}: heartbeats go on ({len(beats)})")


async def scenario_a_portal_closing_mid_join_is_retried_with_backoff():
    _, lines = await probe_over_ws(["close_mid_join", "close_mid_join", "serve"],
                                   ["--backoff-base-ms", "100", "--seed", "3"], 2.0)
    gone = of_type(lines, "disconnected")
    check(len(gone) == 2 and all(g["reason"].startswith("transport") for g in gone),
          f"closed mid-join: two lost attempts ({[g['reason'] for g in gone]})")
    check(len(of_type(lines, "joined")) == 1 and len(of_type(lines, "init")) == 1, "closed mid-join: the third joins")


async def scenario_default_heartbeats_keep_the_portal_from_closing_an_idle_socket():
    """Production timings against the portal's 41 s idle timeout, for 62 s."""
    portal, lines = await probe_over_ws(["serve"], [], 62.0)
    name = "default heartbeat"
    conn = portal.connections[0] if portal.connections else None
    beats = [m for m in conn.messages if m["event"] == "heartbeat"] if conn else []
    check(len(portal.connections) == 1 and not conn.idle_closed, f"{name}: one connection, never closed as idle")
    check(len(beats) == 6 and all(b["topic"] == "phoenix" for b in beats),
          f"{name}: a heartbeat on topic phoenix every 10 s ({len(beats)} in 62 s, idle timeout {IDLE_TIMEOUT} s)")
    check(not of_type(lines, "disconnected"), f"{name}: no disconnection in 62 s")


async def main():
    with tempfile.TemporaryDirectory(prefix="portal-e2e-") as folder:
        make_certificates(folder)
        # The one long scenario runs beside all the others.
        long_one = asyncio.create_task(scenario_default_heartbeats_keep_the_portal_from_closing_an_idle_socket())
        await scenario_ws_without_allow_insecure_is_refused()
        await scenario_ws_registers_joins_and_receives_init()
        await scenario_wss_with_the_test_ca_succeeds(folder)
        await scenario_wss_with_untrusted_certificates_is_refused(folder)
        await scenario_missed_heartbeat_replies_reconnect()
        await scenario_failures_reconnect_with_growing_jittered_delays()
        await scenario_token_placements_and_the_refusal_without_an_address()
        await scenario_retry_after_on_429_and_503_delays_the_next_attempt()
        await scenario_hostile_portal_messages_are_logged_once_and_the_connection_stays()
        await scenario_a_portal_closing_mid_join_is_retried_with_backoff()
        await long_one
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed", flush=True)
        return 1
    print("all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(asyncio.wait_for(main(), timeout=150)))
