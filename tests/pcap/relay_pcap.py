#!/usr/bin/python3
"""pcap replay test of the data-plane worker.

  relay_pcap.py run --driver BUILD/tests/pcap/pcap_replay --workdir DIR

For each scenario set (untagged, VLAN 100) this generates an input pcap and
a commands file with Scapy, runs the C++ driver (one worker on a net_pcap
vdev, tables installed through the cmd ring) and checks the output pcap
frame by frame (addresses, ports, lengths, checksums, ChannelData headers)
and the worker's counters. Every input frame carries a unique payload tag
so the checker finds its output wherever it lands.
"""
import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import zlib

from scapy.all import (ARP, ICMP, IP, TCP, UDP, Dot1Q, Ether, ICMPv6EchoReply, ICMPv6EchoRequest,
                       ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr,
                       IPv6, IPv6ExtHdrFragment, Raw, rdpcap, wrpcap)

OUR_MAC = "02:00:00:00:00:01"
GW4_MAC = "02:00:00:00:00:fe"
GW6_MAC = "02:00:00:00:00:fd"
HOST_MAC = "02:00:00:00:00:77"
RELAY4, RELAY6 = "203.0.113.1", "2001:db8:1::1"
GW4, GW6 = "203.0.113.254", "2001:db8:1::fe"
LISTEN = 3478

A4 = ("198.51.100.10", 40000)
A6 = ("2001:db8:2::10", 40000)
P4 = ("192.0.2.20", 5000)
P6 = ("2001:db8:3::20", 5000)
C4 = ("198.51.100.30", 41000)
D6 = ("2001:db8:2::40", 42000)
E4 = ("198.51.100.50", 43000)
F4 = ("198.51.100.60", 44000)
ON_LINK_PEER = ("203.0.113.50", 6000)


def v6(ip):
    return ":" in ip


def sock(a):
    return f"[{a[0]}]:{a[1]}" if v6(a[0]) else f"{a[0]}:{a[1]}"


def relay_of(family_addr, port):
    return (RELAY6 if v6(family_addr[0]) else RELAY4, port)


def listen_for(client):
    return relay_of(client, LISTEN)


def cd(channel, data, pad=0, length=None):
    return struct.pack("!HH", channel, len(data) if length is None else length) + data + b"\0" * pad


COOKIE = 0x2112A442
TXID = b"\x5a" * 12


def xor_peer_address(peer, txid=TXID):
    """RFC 8489 §14.2 XOR-PEER-ADDRESS value."""
    raw = socket.inet_pton(socket.AF_INET6 if v6(peer[0]) else socket.AF_INET, peer[0])
    key = struct.pack("!I", COOKIE) + txid
    return struct.pack("!BBH", 0, 2 if v6(peer[0]) else 1, peer[1] ^ (COOKIE >> 16)) + \
        bytes(a ^ k for a, k in zip(raw, key))


def stun_attr(kind, value):
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def send_indication(peer, data, extra=b"", fingerprint=False, length_delta=0):
    """RFC 8656 §11.1: a Send indication as a browser sends it."""
    attrs = stun_attr(0x0012, xor_peer_address(peer)) + stun_attr(0x0013, data) + extra
    if fingerprint:
        head = struct.pack("!HHI", 0x0016, len(attrs) + 8, COOKIE) + TXID
        crc = zlib.crc32(head + attrs) ^ 0x5354554E
        attrs += struct.pack("!HHI", 0x8028, 4, crc)
    return struct.pack("!HHI", 0x0016, len(attrs) + length_delta, COOKIE) + TXID + attrs


def data_indication_parts(payload):
    """(peer, data) of a Data indication, checking its framing; asserts."""
    kind, length, cookie = struct.unpack("!HHI", payload[:8])
    assert kind == 0x0017 and cookie == COOKIE, (hex(kind), hex(cookie))
    assert length == len(payload) - 20, (length, len(payload))
    txid = payload[8:20]
    at, peer, data = 20, None, None
    while at < len(payload):
        t, n = struct.unpack("!HH", payload[at:at + 4])
        value = payload[at + 4:at + 4 + n]
        if t == 0x0012:
            family, xport = value[1], struct.unpack("!H", value[2:4])[0]
            key = struct.pack("!I", COOKIE) + txid
            raw = bytes(a ^ k for a, k in zip(value[4:], key))
            ip = socket.inet_ntop(socket.AF_INET6 if family == 2 else socket.AF_INET, raw)
            peer = (ip, xport ^ (COOKIE >> 16))
        elif t == 0x0013:
            data = value
        at += 4 + n + (-n % 4)
    assert peer is not None and data is not None, "XOR-PEER-ADDRESS or DATA missing"
    return peer, data


class Scenario:
    """Input frames, commands and what must come out."""

    def __init__(self, vlan=None):
        self.vlan = vlan
        self.frames = []
        self.commands = []
        self.expect = {}  # tag -> predicate on the output frame
        self.counters = {}

    def eth(self, src_mac, dst_mac=OUR_MAC, vlan="default"):
        tag = self.vlan if vlan == "default" else vlan
        e = Ether(src=src_mac, dst=dst_mac)
        return e / Dot1Q(vlan=tag) if tag is not None else e

    def udp(self, src, dst, payload, mac=None, vlan="default"):
        ipl = IPv6(src=src[0], dst=dst[0]) if v6(src[0]) else IP(src=src[0], dst=dst[0])
        mac = mac or (GW6_MAC if v6(src[0]) else GW4_MAC)
        return self.eth(mac, vlan=vlan) / ipl / UDP(sport=src[1], dport=dst[1]) / Raw(payload)

    def add(self, frame):
        self.frames.append(frame)

    def count(self, name, n=1):
        self.counters[name] = self.counters.get(name, 0) + n


def expect_udp(sc, tag, src, dst, payload, dst_mac):
    def check(p):
        ipl = p[IPv6] if IPv6 in p else p[IP]
        assert p[Ether].src == OUR_MAC, p[Ether].src
        assert p[Ether].dst == dst_mac, (p[Ether].dst, dst_mac)
        if sc.vlan is not None:
            assert Dot1Q in p and p[Dot1Q].vlan == sc.vlan, "missing VLAN tag"
        else:
            assert Dot1Q not in p, "unexpected VLAN tag"
        assert (ipl.src, p[UDP].sport) == src, ((ipl.src, p[UDP].sport), src)
        assert (ipl.dst, p[UDP].dport) == dst, ((ipl.dst, p[UDP].dport), dst)
        assert bytes(p[UDP].payload) == payload, (bytes(p[UDP].payload), payload)
        assert p[UDP].len == 8 + len(payload)
        if IP in p:
            assert p[IP].ttl == 64 and p[IP].len == 20 + 8 + len(payload)
            assert p[IP].flags == "DF"
        else:
            assert p[IPv6].hlim == 64 and p[IPv6].plen == 8 + len(payload)
        assert_checksums(p)
    sc.expect[tag] = check


def expect_data_indication(sc, tag, src, dst, peer, dst_mac):
    """A Data indication from `peer` carrying `tag`, to the client."""
    def check(p):
        ipl = p[IPv6] if IPv6 in p else p[IP]
        assert p[Ether].dst == dst_mac, (p[Ether].dst, dst_mac)
        assert (ipl.src, p[UDP].sport) == src, ((ipl.src, p[UDP].sport), src)
        assert (ipl.dst, p[UDP].dport) == dst, ((ipl.dst, p[UDP].dport), dst)
        got_peer, data = data_indication_parts(bytes(p[UDP].payload))
        assert got_peer == peer, (got_peer, peer)
        assert data == tag, (data, tag)
        assert_checksums(p)
    sc.expect[tag] = check


CHECKSUMMED = ((IP, "chksum"), (UDP, "chksum"), (ICMP, "chksum"), (ICMPv6EchoReply, "cksum"), (ICMPv6ND_NA, "cksum"),
               (TCP, "chksum"))


def assert_checksums(p):
    """Every checksum in the frame equals what Scapy computes from scratch."""
    q = Ether(bytes(p))
    for layer, field in CHECKSUMMED:
        if layer in q:
            delattr(q[layer], field)
    r = Ether(bytes(q))
    for layer, field in CHECKSUMMED:
        if layer in p:
            got, want = getattr(p[layer], field), getattr(r[layer], field)
            assert got == want, f"bad {layer.__name__} checksum {got:#06x}, expected {want:#06x}"
    if UDP in p:
        assert p[UDP].chksum != 0


def forwarding_rows(sc):
    """Every row of the packet-path table, all four family combinations."""
    def allocate(port, client, expiry=600000):
        sc.commands.append(f"create {port} {RELAY4}:{port} [{RELAY6}]:{port} {sock(client)} "
                           f"{sock(listen_for(client))} {expiry}")

    def bind(port, client, channel, peer, expiry=600000):
        sc.commands.append(f"install {sock(client)} {sock(listen_for(client))} {channel:x} {sock(peer)} "
                           f"{sock(relay_of(peer, port))} {expiry}")

    allocate(50000, A4)
    allocate(50001, A6)
    bind(50000, A4, 0x4001, P4)
    bind(50000, A4, 0x4002, P6)
    bind(50001, A6, 0x4001, P4)
    bind(50001, A6, 0x4002, P6)
    for client, port in ((A4, 50000), (A6, 50001)):
        for channel, peer in ((0x4001, P4), (0x4002, P6)):
            fam = ("6" if v6(client[0]) else "4") + ("6" if v6(peer[0]) else "4")
            # client -> peer, with padding after odd-length data
            tag = f"c2p-{fam}-data".encode()  # 11 bytes: one byte of ChannelData padding follows
            sc.add(sc.udp(client, listen_for(client), cd(channel, tag, pad=(4 - len(tag) % 4) % 4)))
            expect_udp(sc, tag, relay_of(peer, port), peer, tag, GW6_MAC if v6(peer[0]) else GW4_MAC)
            sc.count("client_to_peer")
            # peer -> client
            tag = f"p2c-{fam}-data".encode()
            sc.add(sc.udp(peer, relay_of(peer, port), tag))
            expect_udp(sc, tag, listen_for(client), client, cd(channel, tag), GW6_MAC if v6(client[0]) else GW4_MAC)
            sc.count("peer_to_client")

    # Both parties relayed here: C (IPv4) and D (IPv6) each bound to the other's relay address.
    allocate(50002, C4)
    allocate(50003, D6)
    bind(50002, C4, 0x4003, (RELAY4, 50003))
    bind(50003, D6, 0x4004, (RELAY4, 50002))
    tag = b"c2c-through-two-allocations"
    sc.add(sc.udp(C4, listen_for(C4), cd(0x4003, tag, pad=1)))
    expect_udp(sc, tag, listen_for(D6), D6, cd(0x4004, tag), GW6_MAC)
    sc.count("client_to_client")

    # STUN to the listen port: to_cp, echoed back by the driver through from_cp.
    for client in (A4, A6):
        tag = b"stun-" + client[0].encode()
        stun = struct.pack("!HHI12s", 0x0001, len(tag), 0x2112A442, b"T" * 12) + tag
        sc.add(sc.udp(client, listen_for(client), stun))
        expect_udp(sc, tag, listen_for(client), client, b"\x01" + stun[1:], GW6_MAC if v6(client[0]) else GW4_MAC)
        sc.count("to_control_plane")
        sc.count("from_control_plane")


def indication_rows(sc):
    """Send and Data indications (RFC 8656 §11): every family combination,
    client to client, and each drop reason."""
    def allocate(port, client, expiry=600000):
        sc.commands.append(f"create {port} {RELAY4}:{port} [{RELAY6}]:{port} {sock(client)} "
                           f"{sock(listen_for(client))} {expiry}")

    def permit(port, client, peer_ip, expiry=300000):
        relay = relay_of((peer_ip, 0), port)
        sc.commands.append(f"permit {sock(client)} {sock(listen_for(client))} {peer_ip} {sock(relay)} {expiry}")

    G4, G6 = ("198.51.100.70", 45000), ("2001:db8:2::70", 45000)
    Q4, Q6 = ("192.0.2.40", 7000), ("2001:db8:3::40", 7000)
    allocate(50010, G4)
    allocate(50011, G6)
    for client, port in ((G4, 50010), (G6, 50011)):
        for peer in (Q4, Q6):
            permit(port, client, peer[0])
            fam = ("6" if v6(client[0]) else "4") + ("6" if v6(peer[0]) else "4")
            tag = f"send-{fam}-odd".encode()  # odd length: DATA is padded
            sc.add(sc.udp(client, listen_for(client), send_indication(peer, tag, fingerprint=(fam == "46"))))
            expect_udp(sc, tag, relay_of(peer, port), peer, tag, GW6_MAC if v6(peer[0]) else GW4_MAC)
            sc.count("send_to_peer")
            # From another port of the permitted IP: a Data indication.
            tag = f"data-{fam}".encode()
            src = (peer[0], peer[1] + 1)
            sc.add(sc.udp(src, relay_of(peer, port), tag))
            expect_data_indication(sc, tag, listen_for(client), client, src, GW6_MAC if v6(client[0]) else GW4_MAC)
            sc.count("data_to_client")

    # Two browsers, relay only: each permits the other's relay address.
    H4, I6 = ("198.51.100.80", 46000), ("2001:db8:2::80", 46000)
    allocate(50012, H4)
    allocate(50013, I6)
    permit(50012, H4, RELAY4)
    permit(50013, I6, RELAY4)
    tag = b"send-client-to-client"
    sc.add(sc.udp(H4, listen_for(H4), send_indication((RELAY4, 50013), tag)))
    expect_data_indication(sc, tag, listen_for(I6), I6, (RELAY4, 50012), GW6_MAC)
    sc.count("client_to_client")

    # Drops, never answered.
    sc.add(sc.udp(G4, listen_for(G4), send_indication(("192.0.2.99", 7000), b"no permission")))
    sc.count("drop_no_permission")
    sc.add(sc.udp(("198.51.100.71", 1), listen_for(G4), send_indication(Q4, b"no allocation")))
    sc.count("drop_no_allocation")
    sc.add(sc.udp(G4, listen_for(G4), send_indication(Q4, b"lying length", length_delta=8)))
    two_peers = stun_attr(0x0012, xor_peer_address(("192.0.2.41", 1)))
    sc.add(sc.udp(G4, listen_for(G4), send_indication(Q4, b"two peers", extra=two_peers)))
    sc.add(sc.udp(G4, listen_for(G4), send_indication(Q4, b"unknown required", extra=stun_attr(0x0031, b"x"))))
    sc.count("drop_bad_indication", 3)
    bad_fp = bytearray(send_indication(Q4, b"bad fingerprint", fingerprint=True))
    bad_fp[-1] ^= 0xFF
    sc.add(sc.udp(G4, listen_for(G4), bytes(bad_fp)))
    sc.count("drop_indication_fingerprint")
    permit(50010, G4, "::ffff:192.0.2.40")
    sc.add(sc.udp(G4, listen_for(G4), send_indication(("::ffff:192.0.2.40", 7000), b"mapped")))
    sc.count("drop_denied_peer")


def drop_rows(sc):
    def allocate(port, client, expiry=600000):
        sc.commands.append(f"create {port} {RELAY4}:{port} - {sock(client)} {sock(listen_for(client))} {expiry}")

    def bind(port, client, channel, peer, expiry=600000):
        sc.commands.append(f"install {sock(client)} {sock(listen_for(client))} {channel:x} {sock(peer)} "
                           f"{sock(relay_of(peer, port))} {expiry}")

    # Lying ChannelData length.
    sc.add(sc.udp(A4, listen_for(A4), cd(0x4001, b"short", length=200)))
    sc.count("drop_channel_data_length")
    # Unknown channel and unknown peer.
    sc.add(sc.udp(A4, listen_for(A4), cd(0x4FFF, b"nobody")))
    sc.count("drop_unknown_channel")
    sc.add(sc.udp(("192.0.2.99", 7), (RELAY4, 50000), b"stranger"))
    sc.count("drop_unknown_peer")
    # Expired channel (expiry already past), both directions.
    allocate(50004, E4)
    bind(50004, E4, 0x4005, ("192.0.2.21", 5000), expiry=-1000)
    sc.add(sc.udp(E4, listen_for(E4), cd(0x4005, b"late")))
    sc.add(sc.udp(("192.0.2.21", 5000), (RELAY4, 50004), b"late"))
    sc.count("drop_expired", 2)
    # Freed allocation: its channel is retired without a remove.
    allocate(50005, F4)
    bind(50005, F4, 0x4001, ("192.0.2.23", 5000))
    sc.commands.append("free 50005")
    sc.add(sc.udp(F4, listen_for(F4), cd(0x4001, b"freed")))
    sc.count("drop_expired")
    # Removed channel.
    bind(50000, A4, 0x4006, ("192.0.2.22", 5000))
    sc.commands.append(f"remove {sock(A4)} {sock(listen_for(A4))} 4006 192.0.2.22:5000 {RELAY4}:50000")
    sc.add(sc.udp(A4, listen_for(A4), cd(0x4006, b"removed")))
    sc.count("drop_unknown_channel")
    # Fragments and extension headers.
    frag = sc.udp(A4, listen_for(A4), cd(0x4001, b"fragment"))
    frag[IP].flags = "MF"
    sc.add(frag)
    sc.count("drop_ip_fragment")
    sc.add(sc.eth(GW6_MAC) / IPv6(src=A6[0], dst=RELAY6) / IPv6ExtHdrFragment() /
           UDP(sport=A6[1], dport=LISTEN) / Raw(cd(0x4001, b"v6 fragment")))
    sc.count("drop_ipv6_extension_header")
    # Bad checksums.
    bad_ip = sc.udp(A4, listen_for(A4), cd(0x4001, b"bad ip checksum"))
    bad_ip[IP].chksum = 0x1234
    sc.add(bad_ip)
    sc.count("drop_bad_ip_checksum")
    for client in (A4, A6):
        bad_udp = sc.udp(client, listen_for(client), cd(0x4001, b"bad udp checksum"))
        bad_udp[UDP].chksum = 0x4321
        sc.add(bad_udp)
        sc.count("drop_bad_udp_checksum")
    # Truncated frames: cut inside the UDP payload, and a runt.
    whole = bytes(sc.udp(A4, listen_for(A4), cd(0x4001, b"truncated in flight")))
    sc.add(Ether(whole[:-6]))
    l2 = 18 if sc.vlan is not None else 14
    sc.add(Ether(whole[:l2 + 1]))
    sc.count("drop_truncated", 2)
    # Not for us: another MAC, another address. Not handled: closed port, TCP.
    sc.add(sc.eth(GW4_MAC, dst_mac="02:00:00:00:00:99") / IP(src=A4[0], dst=RELAY4) / UDP(sport=1, dport=LISTEN))
    sc.add(sc.eth(GW4_MAC) / IP(src=A4[0], dst="203.0.113.2") / UDP(sport=1, dport=LISTEN))
    sc.count("drop_not_for_us", 2)
    sc.add(sc.udp(A4, (RELAY4, 53), b"dns?"))
    sc.count("drop_closed_port")
    # TCP (streams are off here): a RST, RFC 9293 §3.10.7.1; a RST is never answered.
    sc.add(sc.eth(GW4_MAC) / IP(src=A4[0], dst=RELAY4) / TCP(sport=1234, dport=443, flags="S", seq=1000))
    sc.count("tcp_resets_sent")
    sc.add(sc.eth(GW4_MAC) / IP(src=A4[0], dst=RELAY4) / TCP(sport=1235, dport=443, flags="R", seq=1))
    sc.count("drop_tcp_reset")

    def rst(p):
        assert p[Ether].src == OUR_MAC and p[Ether].dst == GW4_MAC
        assert p[IP].src == RELAY4 and p[IP].dst == A4[0]
        assert p[TCP].sport == 443 and p[TCP].dport == 1234
        assert p[TCP].flags == "RA" and p[TCP].seq == 0 and p[TCP].ack == 1001, p[TCP].summary()
        assert_checksums(p)
    sc.expect["tcp-rst"] = rst
    sc.add(sc.eth(GW4_MAC) / IP(src=A4[0], dst=RELAY4, proto=47) / Raw(b"gre?"))
    sc.count("drop_unsupported_protocol")
    # From addresses nothing may send from (loopback, multicast, our own): never answered.
    sc.add(sc.udp(("127.0.0.1", 40000), listen_for(A4), cd(0x4001, b"loopback")))
    sc.add(sc.udp(("ff02::1", 40000), listen_for(A6), cd(0x4001, b"multicast")))
    sc.add(sc.udp((RELAY4, 40000), listen_for(A4), cd(0x4001, b"ourselves")))
    sc.count("drop_bogus_source", 3)
    # A frame with a VLAN tag this interface does not use.
    sc.add(sc.udp(A4, listen_for(A4), cd(0x4001, b"wrong vlan"), vlan=(200 if sc.vlan else 100)))
    sc.count("drop_wrong_vlan")
    # On-link peer nobody has resolved: the packet becomes an ARP request.
    bind(50000, A4, 0x4007, ON_LINK_PEER)
    sc.add(sc.udp(A4, listen_for(A4), cd(0x4007, b"needs arp")))
    sc.count("drop_neighbour_unresolved")
    sc.count("arp_requests_sent")

    def arp_request(p):
        assert ARP in p and p[ARP].op == 1 and p[ARP].pdst == ON_LINK_PEER[0] and p[ARP].psrc == RELAY4
        assert p[Ether].dst == "ff:ff:ff:ff:ff:ff" and p[ARP].hwsrc == OUR_MAC
    sc.expect["arp-request"] = arp_request


def host_rows(sc):
    """ARP, ND and echo for our own addresses."""
    sc.add(sc.eth(HOST_MAC, dst_mac="ff:ff:ff:ff:ff:ff") /
           ARP(op=1, hwsrc=HOST_MAC, psrc="203.0.113.7", pdst=RELAY4))
    sc.count("arp_replies")

    def arp_reply(p):
        assert p[ARP].op == 2 and p[ARP].hwsrc == OUR_MAC and p[ARP].psrc == RELAY4
        assert p[ARP].pdst == "203.0.113.7" and p[ARP].hwdst == HOST_MAC and p[Ether].dst == HOST_MAC
    sc.expect["arp-reply"] = arp_reply

    sc.add(sc.eth(HOST_MAC, dst_mac="33:33:ff:00:00:01") /
           IPv6(src="2001:db8:1::7", dst="ff02::1:ff00:1", hlim=255) /
           ICMPv6ND_NS(tgt=RELAY6) / ICMPv6NDOptSrcLLAddr(lladdr=HOST_MAC))
    sc.count("neighbor_advertisements")

    def na(p):
        assert p[ICMPv6ND_NA].tgt == RELAY6 and p[ICMPv6ND_NA].S == 1 and p[ICMPv6ND_NA].O == 1
        assert p[ICMPv6NDOptDstLLAddr].lladdr == OUR_MAC
        assert p[IPv6].src == RELAY6 and p[IPv6].dst == "2001:db8:1::7" and p[IPv6].hlim == 255
        assert p[Ether].dst == HOST_MAC
        assert_checksums(p)
    sc.expect["neighbor-advertisement"] = na

    sc.add(sc.eth(GW4_MAC) / IP(src=A4[0], dst=RELAY4) / ICMP(type=8, id=7, seq=1) / Raw(b"ping-v4"))
    sc.add(sc.eth(GW6_MAC) / IPv6(src=A6[0], dst=RELAY6) / ICMPv6EchoRequest(id=7, seq=1) / Raw(b"ping-v6"))
    sc.count("echo_replies", 2)

    def echo4(p):
        assert p[ICMP].type == 0 and p[IP].src == RELAY4 and p[IP].dst == A4[0] and p[Ether].dst == GW4_MAC
        assert_checksums(p)

    def echo6(p):
        assert ICMPv6EchoReply in p and p[IPv6].src == RELAY6 and p[IPv6].dst == A6[0]
        assert_checksums(p)
    sc.expect[b"ping-v4"] = echo4
    sc.expect[b"ping-v6"] = echo6


def build(vlan):
    sc = Scenario(vlan)
    # The gateways announce themselves first (unsolicited ARP reply / NA).
    sc.add(sc.eth(GW4_MAC) / ARP(op=2, hwsrc=GW4_MAC, psrc=GW4, hwdst=OUR_MAC, pdst=RELAY4))
    sc.add(sc.eth(GW6_MAC) / IPv6(src=GW6, dst=RELAY6, hlim=255) /
           ICMPv6ND_NA(tgt=GW6, R=1, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=GW6_MAC))
    sc.count("neighbour_updates_consumed", 2)
    forwarding_rows(sc)
    indication_rows(sc)
    drop_rows(sc)
    host_rows(sc)
    return sc


def tag_of(p, tags):
    if TCP in p:
        return "tcp-rst"
    if ARP in p:
        return "arp-request" if p[ARP].op == 1 else "arp-reply"
    if ICMPv6ND_NA in p:
        return "neighbor-advertisement"
    if ICMPv6EchoReply in p:
        return bytes(p[ICMPv6EchoReply].data)
    if ICMP in p:
        return bytes(p[Raw].load) if Raw in p else None
    if UDP in p:
        data = bytes(p[UDP].payload)
        for tag in tags:
            if isinstance(tag, bytes) and data.endswith(tag):
                return tag
        if data[:2] == b"\x00\x17":  # a Data indication: DATA may be padded
            try:
                return data_indication_parts(data)[1]
            except (AssertionError, struct.error, ValueError, IndexError):
                return None
    return None


def check(sc, out_pcap, counters_path):
    out = rdpcap(out_pcap) if os.path.getsize(out_pcap) > 24 else []
    counters = json.load(open(counters_path))
    problems = []
    seen = set()
    tags = [t for t in sc.expect if isinstance(t, bytes)]
    for i, raw in enumerate(out):
        p = Ether(bytes(raw))
        tag = tag_of(p, tags)
        if tag not in sc.expect:
            problems.append(f"output frame {i} matches no expectation: {p.summary()}")
            continue
        if tag in seen:
            problems.append(f"output frame {i} duplicates {tag!r}")
        seen.add(tag)
        try:
            sc.expect[tag](p)
        except AssertionError as e:
            problems.append(f"output frame {i} ({tag!r}): {e}")
    for tag in sc.expect:
        if tag not in seen:
            problems.append(f"no output for {tag!r}")
    want = dict(sc.counters)
    want["rx_packets"] = len(sc.frames)
    want["tx_packets"] = len(out)
    want["commands_applied"] = len(sc.commands)  # every command went through the cmd ring
    want["commands_rejected"] = 0
    for name, value in sorted(want.items()):
        if counters.get(name) != value:
            problems.append(f"counter {name} = {counters.get(name)}, expected {value}")
    for name, value in counters.items():
        if name.startswith("drop_") and value and name not in want:
            problems.append(f"unexpected counter {name} = {value}")
    return problems


def run(args):
    os.makedirs(args.workdir, exist_ok=True)
    failures = []
    for label, vlan in (("untagged", None), ("vlan100", 100)):
        sc = build(vlan)
        d = os.path.join(args.workdir, label)
        os.makedirs(d, exist_ok=True)
        paths = {k: os.path.join(d, f) for k, f in
                 (("in", "in.pcap"), ("out", "out.pcap"), ("commands", "commands.txt"), ("counters", "counters.json"))}
        wrpcap(paths["in"], sc.frames)
        with open(paths["commands"], "w") as f:
            f.write("\n".join(sc.commands) + "\n")
        if os.path.exists(paths["out"]):
            os.remove(paths["out"])
        cmd = [args.driver, "--in", paths["in"], "--out", paths["out"], "--commands", paths["commands"],
               "--counters", paths["counters"], "--expect-rx", str(len(sc.frames))]
        if vlan is not None:
            cmd += ["--vlan", str(vlan)]
        r = subprocess.run(cmd, timeout=60)
        if r.returncode != 0:
            failures.append(f"{label}: driver exited with {r.returncode}")
            continue
        for problem in check(sc, paths["out"], paths["counters"]):
            failures.append(f"{label}: {problem}")
        print(f"{label}: {len(sc.frames)} frames in, {len(sc.expect)} expected out")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--driver", required=True)
    r.add_argument("--workdir", required=True)
    args = ap.parse_args()
    sys.exit(run(args))


if __name__ == "__main__":
    main()
