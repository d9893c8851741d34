"""Real browsers making a WebRTC call through a TURN relay, inside a network
namespace: `run_call(netns, "chromium" | "firefox", turn_url, user, cred)`.

webrtc_relay_page.html (next to this file) holds two relay-only
RTCPeerConnections that signal in-page, open a data channel, send
`messages` messages and POST what they saw. A small HTTP server on the
namespace's 127.0.0.1 serves the page and receives that result; the browser
runs headless under `ip netns exec`, with a throw-away profile, and is killed
by its process group when the call ends or the time runs out."""
from __future__ import annotations

import ctypes
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

PAGE = Path(__file__).resolve().parent / "webrtc_relay_page.html"
BINARIES = {"chromium": "/usr/bin/chromium", "firefox": "/usr/bin/firefox-esr"}
PACKAGES = {"chromium": "chromium", "firefox": "firefox-esr"}

# Chromium: --headless=new, --no-sandbox (we are root) and a profile of its
# own are what it needs; the rest keeps a fresh profile from first-run UI
# and background fetches (noise in a capture).
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--no-first-run", "--no-default-browser-check", "--disable-gpu",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
    "--disable-default-apps", "--disable-domain-reliability", "--metrics-recording-only", "--mute-audio",
    "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider",
]

# Firefox's user.js. Tried: the call works with an empty one; what it needs
# is a default route in the namespace (see browsers_test.py). These keep a
# fresh profile from showing first-run pages and from phoning home during
# the test (region lookup, remote settings, updates, captive portal).
FIREFOX_PREFS = {
    # No first-run, welcome or default-browser pages in place of ours.
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "startup.homepage_welcome_url": "",
    "startup.homepage_welcome_url.additional": "",
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "toolkit.telemetry.enabled": False,
    "browser.sessionstore.resume_from_crash": False,
    # No background connections (updates, captive portal, safe browsing,
    # remote settings, DoH).
    "app.update.auto": False,
    "app.update.enabled": False,
    "extensions.update.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "services.settings.server": "http://127.0.0.1:9/",
    "network.trr.mode": 5,
    "network.proxy.type": 0,
    "media.gmp-manager.updateEnabled": False,
    "browser.newtabpage.enabled": False,
    "browser.topsites.contile.enabled": False,
    "browser.region.network.url": "",
    "browser.region.update.enabled": False,
    # WebRTC without a getUserMedia grant: no permission prompt.
    "media.navigator.permission.disabled": True,
    "media.peerconnection.enabled": True,
}


def binary(browser: str) -> str | None:
    """The browser's executable, or None when its package is not installed."""
    path = BINARIES[browser]
    return path if os.access(path, os.X_OK) else None


# --- a listening socket inside the namespace ---------------------------------
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def listening_socket_in(netns: str) -> socket.socket:
    """A TCP socket on 127.0.0.1:<free port> of `netns`. A socket belongs to
    the namespace its thread was in when it was made, so this thread visits
    the namespace just for socket() and comes back."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            _setns(own)
    finally:
        os.close(own)
        os.close(target)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock


class _PageServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, sock: socket.socket):
        super().__init__(sock.getsockname(), _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.result: dict | None = None
        self.page_log: list[str] = []
        self.got_result = threading.Event()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _PageServer

    def log_message(self, *args) -> None:  # the page's own log is enough
        pass

    def do_GET(self) -> None:
        if urllib.parse.urlsplit(self.path).path != "/":
            self.send_error(404)
            return
        body = PAGE.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode(errors="replace")
        if self.path == "/log":
            self.server.page_log.append(body)
        elif self.path == "/result":
            try:
                self.server.result = json.loads(body)
            except ValueError:
                self.server.result = {"errors": [f"unparsable result: {body[:200]}"]}
            self.server.got_result.set()
        self.send_response(204)
        self.end_headers()


# --- the browsers ------------------------------------------------------------
def _firefox_profile(profile: Path) -> None:
    profile.mkdir()
    lines = [f"user_pref({json.dumps(k)}, {json.dumps(v)});" for k, v in FIREFOX_PREFS.items()]
    (profile / "user.js").write_text("\n".join(lines) + "\n")


def _command(browser: str, url: str, tmp: Path) -> list[str]:
    if browser == "chromium":
        return [BINARIES[browser], *CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'profile'}", url]
    _firefox_profile(tmp / "profile")
    return [BINARIES[browser], "--headless", "--no-remote", "--new-instance", "--profile", str(tmp / "profile"), url]


def _end(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL, to the browser's own process group (it was
    started as a session leader, so the group is exactly its processes)."""
    if proc.poll() is None:
        for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
    try:  # children that outlived the leader, still in its group
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def trust(browser: str, tmp: Path, ca) -> None:
    """Makes the browser of a run in `tmp` (its HOME) trust the test CA
    `ca` (testca.TestCA) for TLS servers, for that run only: Chromium on
    Linux reads the NSS database in HOME/.pki/nssdb, Firefox the one in its
    profile."""
    if browser == "chromium":
        ca.nss_db(tmp)
    else:
        ca.nss_db(tmp, tmp / "profile")


def run_call(netns: str, browser: str, turn_url: str, username: str, credential: str, messages: int = 200,
             timeout: float = 45.0, trust_ca=None) -> dict:
    """One call in `browser` inside `netns`. Returns the page's result:
    opened, msToOpen, sent, received, pairs.{pc1,pc2}.{local,remote}.candidateType
    (and .relayProtocol), errors, candidates; plus browser, wallSeconds and,
    when the page did not report, pageLog and browserLog. `trust_ca` (a
    testca.TestCA): the browser trusts it for this call (turns: URLs)."""
    assert browser in BINARIES, browser
    tmp = Path(tempfile.mkdtemp(prefix=f"webrtc-{browser}-"))
    server = _PageServer(listening_socket_in(netns))
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    serving.start()
    # The page gives up a little before we do, so that it still reports.
    page_timeout_ms = int(max(5.0, timeout - 10.0) * 1000)
    query = urllib.parse.urlencode({"turn": turn_url, "user": username, "cred": credential, "n": messages,
                                    "timeout_ms": page_timeout_ms})
    url = f"http://127.0.0.1:{server.server_address[1]}/?{query}"
    started = time.monotonic()
    proc = None
    try:
        env = dict(os.environ, HOME=str(tmp), MOZ_HEADLESS="1", MOZ_CRASHREPORTER_DISABLE="1",
                   XDG_CONFIG_HOME=str(tmp / "config"), XDG_CACHE_HOME=str(tmp / "cache"))
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)
        command = _command(browser, url, tmp)  # makes Firefox's profile, which trust() may fill
        if trust_ca is not None:
            trust(browser, tmp, trust_ca)
        with open(tmp / "browser.log", "wb") as log:
            proc = subprocess.Popen(["ip", "netns", "exec", netns, *command], stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    start_new_session=True)
        deadline = started + timeout
        while not server.got_result.wait(0.2):
            if time.monotonic() > deadline or proc.poll() is not None:
                break
        result = server.result or {"opened": False, "sent": 0, "received": 0, "pairs": {},
                                   "errors": ["the page reported nothing" + (
                                       f" (browser exited with {proc.returncode})" if proc.poll() is not None
                                       else f" within {timeout:.0f} s")]}
        result["browser"] = browser
        result["wallSeconds"] = round(time.monotonic() - started, 2)
        if not server.result or not result.get("opened"):
            result["pageLog"] = server.page_log[-60:]
            result["browserLog"] = (tmp / "browser.log").read_text(errors="replace")[-3000:]
        return result
    finally:
        if proc is not None:
            _end(proc)
        server.shutdown()
        server.server_close()
        shutil.rmtree(tmp, ignore_errors=True)


def relay_to_relay(result: dict) -> bool:
    """Both connections' selected pairs are relay candidates at both ends."""
    pairs = result.get("pairs", {})
    return all(pairs.get(pc, {}).get(end, {}).get("candidateType") == "relay"
               for pc in ("pc1", "pc2") for end in ("local", "remote"))


def relay_protocols(result: dict) -> dict:
    """How each connection's selected local (relay) candidate reaches the
    relay: the stats' relayProtocol, 'udp', 'tcp' or 'tls'."""
    pairs = result.get("pairs", {})
    return {pc: pairs.get(pc, {}).get("local", {}).get("relayProtocol") for pc in ("pc1", "pc2")}


def summary(result: dict) -> dict:
    """The figures a test prints and asserts on, one JSON-able dict."""
    pairs = result.get("pairs", {})
    return {
        "browser": result.get("browser"), "opened": result.get("opened"), "ms_to_open": result.get("msToOpen"),
        "sent": result.get("sent"), "received": result.get("received"),
        "pairs": {pc: f"{pairs.get(pc, {}).get('local', {}).get('candidateType')}"
                      f"<->{pairs.get(pc, {}).get('remote', {}).get('candidateType')}" for pc in ("pc1", "pc2")},
        "relay_protocols": relay_protocols(result),
        "wall_s": result.get("wallSeconds"), "errors": result.get("errors", []),
    }
