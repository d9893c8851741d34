"""What the e2e helpers that run processes share: ending a process (a
signal, then SIGKILL if it does not go), a STUN Binding from a namespace as
the readiness probe, and the context-manager shape of a relay under test
(Appliance, CoturnRelay)."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from typing import Callable


def end(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Sends `sig` to a process still running and waits; kills it after `timeout`."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def answers_binding(ns_run: Callable[..., subprocess.CompletedProcess], address: str, port: int,
                    timeout: float) -> bool:
    """A STUN Binding to address:port from the clients' namespace is answered.
    turnutils_stunclient waits long for an answer that was lost (a relay
    still starting, a data plane still resolving the client's address): a
    try, not a failure."""
    try:
        r = ns_run(["turnutils_stunclient", "-p", str(port), address], capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return r.returncode == 0


class RelayUnderTest:
    """start() on entry (stop() too if it fails half-way), stop() on the way
    out; self.tmp goes after a success and is kept, and named, after a
    failure, for whoever reads it."""

    logs_name = "relay"

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.stop()
        if exc_type is None:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print(f"{self.logs_name} logs kept in {self.tmp}", file=sys.stderr)
