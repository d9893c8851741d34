#!/usr/bin/python3
"""Writes the seed corpus of fuzz_dataplane (tests/fuzz/corpus/fuzz_dataplane/).

Input format: see fuzz_dataplane.cpp. Run from the repository root with
Debian's /usr/bin/python3 (Scapy)."""
import os
import socket
import struct

from scapy.all import (ARP, ICMP, IP, UDP, Dot1Q, Ether, ICMPv6EchoRequest, ICMPv6ND_NS,
                       ICMPv6NDOptSrcLLAddr, IPv6, IPv6ExtHdrFragment, Raw)

OUT = "tests/fuzz/corpus/fuzz_dataplane"
US = "02:00:00:00:00:01"
GW = "02:00:00:00:00:fe"


def cmd(kind, client, peer, channel_low, port_low, expiry):
    return bytes([kind, client, peer, channel_low, port_low, expiry, 0, 0])


def frame(p, flags=0):
    b = bytes(p)
    return struct.pack("!HB", len(b), flags) + b


def cd(channel, data, pad=0):
    return struct.pack("!HH", channel, len(data)) + data + b"\0" * pad


def send_indication(peer_ip, peer_port, data, extra=b""):
    """RFC 8656 §11.1: XOR-PEER-ADDRESS and DATA, then `extra` attributes."""
    txid = b"\x07" * 12
    cookie = struct.pack("!I", 0x2112A442)
    addr = socket.inet_pton(socket.AF_INET6 if ":" in peer_ip else socket.AF_INET, peer_ip)
    key = cookie + txid
    xaddr = bytes(a ^ k for a, k in zip(addr, key))
    family = 2 if len(addr) == 16 else 1
    xpa = struct.pack("!HHBBH", 0x0012, 4 + len(addr), 0, family, peer_port ^ 0x2112) + xaddr
    pad = b"\0" * (-len(data) % 4)
    attrs = xpa + struct.pack("!HH", 0x0013, len(data)) + data + pad + extra
    return struct.pack("!HH", 0x0016, len(attrs)) + cookie + txid + attrs


def udp4(src, sport, dst, dport, payload):
    return Ether(src=GW, dst=US) / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / Raw(payload)


def udp6(src, sport, dst, dport, payload):
    return Ether(src=GW, dst=US) / IPv6(src=src, dst=dst) / UDP(sport=sport, dport=dport) / Raw(payload)


# Allocation 49152 for client 0 (IPv4) and 49153 for client 1 (IPv6), each
# bound to peers 0 (IPv4) and 1 (IPv6); 49153 also bound to peer 2, our own
# relay address (client to client).
tables = bytes([8]) + b"".join([
    cmd(0, 0, 0, 0, 0, 10), cmd(0, 1, 0, 0, 1, 10),
    cmd(3, 0, 0, 0x01, 0, 10), cmd(3, 0, 1, 0x02, 0, 10),
    cmd(3, 1, 0, 0x01, 1, 10), cmd(3, 1, 1, 0x02, 1, 10),
    cmd(3, 0, 2, 0x03, 0, 10), cmd(3, 1, 3, 0x04, 1, 10),
])
seeds = {
    "c2p_v4": [frame(udp4("198.51.100.10", 40000, "203.0.113.1", 3478, cd(0x4001, b"hello", 3)))],
    "c2p_v4_to_v6": [frame(udp4("198.51.100.10", 40000, "203.0.113.1", 3478, cd(0x4002, b"hello v6")))],
    "c2p_v6": [frame(udp6("2001:db8:2::10", 40000, "2001:db8:1::1", 3478, cd(0x4002, b"hi")))],
    "p2c_v4": [frame(udp4("192.0.2.20", 5000, "203.0.113.1", 49152, b"from the peer"))],
    "p2c_v6": [frame(udp6("2001:db8:3::20", 5000, "2001:db8:1::1", 49153, b"from the v6 peer"))],
    "c2c": [frame(udp4("198.51.100.10", 40000, "203.0.113.1", 3478, cd(0x4003, b"to client b")))],
    "offloaded": [frame(udp4("198.51.100.10", 40000, "203.0.113.1", 3478, cd(0x4001, b"nic checked")), 0x03)],
    "stun": [frame(udp4("198.51.100.10", 40000, "203.0.113.1", 3478,
                        struct.pack("!HHI12s", 1, 0, 0x2112A442, b"x" * 12)))],
    "arp": [frame(Ether(src=GW, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=GW, psrc="203.0.113.254", pdst="203.0.113.1"))],
    "ns": [frame(Ether(src=GW, dst="33:33:ff:00:00:01") / IPv6(src="2001:db8:1::fe", dst="ff02::1:ff00:1", hlim=255) /
                 ICMPv6ND_NS(tgt="2001:db8:1::1") / ICMPv6NDOptSrcLLAddr(lladdr=GW))],
    "ping": [frame(Ether(src=GW, dst=US) / IP(src="198.51.100.10", dst="203.0.113.1") / ICMP() / Raw(b"ping")),
             frame(Ether(src=GW, dst=US) / IPv6(src="2001:db8:2::10", dst="2001:db8:1::1") / ICMPv6EchoRequest())],
    "vlan_and_fragments": [
        frame(Ether(src=GW, dst=US) / Dot1Q(vlan=5) / IP(src="198.51.100.10", dst="203.0.113.1") / UDP(dport=3478)),
        frame(Ether(src=GW, dst=US) / IP(src="198.51.100.10", dst="203.0.113.1", flags="MF") / UDP(dport=3478)),
        frame(Ether(src=GW, dst=US) / IPv6(src="2001:db8:2::10", dst="2001:db8:1::1") / IPv6ExtHdrFragment() /
              UDP(dport=3478))],
    "on_link_peer": [frame(udp4("203.0.113.77", 7000, "203.0.113.1", 49152, b"who are you"))],
}
# Permissions: client 0 for peer 0 on 49152 and for our own IPv4 address
# (client to client), client 1 for peer 1 on 49153 and for our IPv6 address;
# no channels, so peers' datagrams become Data indications.
permissions = bytes([10]) + b"".join([
    cmd(0, 0, 0, 0, 0, 10), cmd(0, 1, 0, 0, 1, 10),
    cmd(4, 0, 0, 0, 0, 10), cmd(4, 0, 2, 0, 0, 10), cmd(4, 0, 1, 0, 0, 10),
    cmd(4, 1, 1, 0, 1, 10), cmd(4, 1, 3, 0, 1, 10), cmd(4, 1, 0, 0, 1, 10),
    cmd(4, 0, 4, 0, 0, 10), cmd(4, 1, 2, 0, 1, 10),
])
indication_seeds = {
    "send_v4": [frame(udp4("198.51.100.10", 40000, "203.0.113.1", 3478, send_indication("192.0.2.20", 5000, b"ice")))],
    "send_v6_peer": [frame(udp4("198.51.100.10", 40000, "203.0.113.1", 3478,
                                send_indication("2001:db8:3::20", 5000, b"odd", struct.pack("!HHI", 0x8028, 4, 0))))],
    "send_c2c": [frame(udp4("198.51.100.10", 40000, "203.0.113.1", 3478,
                            send_indication("203.0.113.1", 49153, b"to client b")))],
    "send_v6_client": [frame(udp6("2001:db8:2::10", 40000, "2001:db8:1::1", 3478,
                                  send_indication("2001:db8:3::20", 5000, b"v6 to v6")))],
    "data_v4": [frame(udp4("192.0.2.20", 5001, "203.0.113.1", 49152, b"to be a data indication"))],
    "data_v6": [frame(udp6("2001:db8:3::20", 5000, "2001:db8:1::1", 49153, b"v6 data"))],
}
os.makedirs(OUT, exist_ok=True)
for name, frames in indication_seeds.items():
    head = permissions if name != "data_v6" else bytes([permissions[0] | 0x10]) + permissions[1:]
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(head + b"".join(frames))
for name, frames in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(tables + b"".join(frames))
print(f"{len(seeds) + len(indication_seeds)} seeds in {OUT}")
