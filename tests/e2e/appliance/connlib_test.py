#!/usr/bin/python3
"""End to end: a client that follows connlib's rules (Firezone's client
library) against the appliance, through a credential rotation.

connlib's rules, as far as the relay can tell them apart:
  - every TURN request carries USERNAME, REALM and MESSAGE-INTEGRITY, the
    first one (an Allocate) without NONCE, since it has none yet;
  - a response to anything but a Binding whose MESSAGE-INTEGRITY does not
    verify with its key is discarded, i.e. lost: the request is sent again
    until it times out. An unsigned 400 or 401 therefore never reaches it;
  - the portal rotates its credentials: a new username with the same salt
    and a later expiry, on the same socket. It then Allocates (437: it
    still has one), deletes the old allocation with Refresh LIFETIME 0 under
    the new username, and Allocates again.

    connlib_test.py                       (root namespace: starts the relay)
    connlib_test.py --scenario rotation   (inside the namespace: the client)
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from echopeer import EchoPeer  # noqa: E402
from turnclient import (A_NONCE, A_REALM, A_USERNAME, BINDING, REALM, Message, TurnClient,  # noqa: E402
                        TurnError, long_term_key, mint_credentials, verify_integrity)

from appliance_test import echo_through  # noqa: E402

RELAY4 = "198.51.100.1"
PEER4 = "198.51.100.3"
PORT = 3478
FAMILY_V6 = 2
SALT = "connlib-e2e-salt"


class ConnlibClient(TurnClient):
    """TurnClient with connlib's authentication rules (see the module
    docstring); counts what it discarded. TurnClient.request does the rest:
    a 401 or 438 hands out the nonce to retry with."""

    def __init__(self, server: tuple[str, int], username: str, password: str, timeout: float = 3.0):
        super().__init__(server, username, password, timeout=timeout)
        self.discarded: list[Message] = []  # unverifiable responses, treated as lost

    def rotate(self, username: str, password: str) -> None:
        """New credentials from the portal, same socket, nonce kept."""
        self.username, self.password = username, password
        self.key = long_term_key(username, password)

    def credential_attributes(self) -> list[tuple[int, bytes]]:
        """Always signed; NONCE once a challenge gave one."""
        attrs = [(A_USERNAME, self.username.encode()), (A_REALM, REALM.encode())]
        return attrs + ([(A_NONCE, self.nonce)] if self.nonce is not None else [])

    def accepts(self, method: int, msg: Message) -> bool:
        if method == BINDING or verify_integrity(msg, self.key):
            return True
        self.discarded.append(msg)
        return False


def scenario_rotation() -> None:
    secret = os.environ["SECRET"]
    now = int(time.time())
    user, password = mint_credentials(secret, now + 3600, SALT)
    with EchoPeer(PEER4) as peer, ConnlibClient((RELAY4, PORT), user, password) as c:
        relayed = c.allocate(additional_family=FAMILY_V6)
        assert c.challenges == [401], f"first Allocate without NONCE: {c.challenges}"
        assert len(relayed) == 2, relayed
        c.channel_bind(0x4000, peer.addr)
        assert echo_through(c, 0x4000) == 20, "relaying before the rotation"
        print(f"allocated {relayed} after one signed 401; 20/20 echoed")

        rotated_user, rotated_password = mint_credentials(secret, now + 7200, SALT)
        c.rotate(rotated_user, rotated_password)
        try:
            c.allocate(additional_family=FAMILY_V6)
            raise AssertionError("a second Allocate on the same socket succeeded")
        except TurnError as e:
            assert e.code == 437, e.code
        assert c.refresh(0) == 0
        relayed = c.allocate(additional_family=FAMILY_V6)
        assert len(relayed) == 2, relayed
        c.channel_bind(0x4000, peer.addr)
        assert echo_through(c, 0x4000) == 20, "relaying after the rotation"
        assert not c.discarded, f"{len(c.discarded)} responses did not verify: {[m.error_code for m in c.discarded]}"
        print(f"rotated to {rotated_user}: signed 437, Refresh 0 deleted, allocated {relayed}; 20/20 echoed; "
              f"challenges {c.challenges}, nothing discarded")

        # The rule itself: a response this key cannot verify (a 401 signed for
        # the username's real key) is lost, however often it comes.
        c.key, c.timeout = long_term_key(rotated_user, "not the password"), 1.0
        try:
            c.refresh(600)
            raise AssertionError("a response signed with another key was accepted")
        except TimeoutError:
            assert c.discarded and all(m.error_code == 401 for m in c.discarded), c.discarded
        print(f"with a wrong key: {len(c.discarded)} signed 401s discarded, the Refresh timed out")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", choices=["rotation"])
    args = ap.parse_args()
    if args.scenario:
        scenario_rotation()
        return 0
    from appliance import Appliance

    with Appliance(f"e2ec{os.getpid() % 10000}") as relay:
        print(relay.scenario(Path(__file__), "rotation", timeout=45), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
