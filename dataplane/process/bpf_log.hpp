// net_af_xdp loads its XDP program through libxdp and libbpf, which print
// to stderr in their own words ("libbpf: elf: skipping unrecognized data
// section ..."). route_bpf_logs() sends both through the process's logger
// instead, so every line of relay-dataplane stays in log.format: their
// warnings as warn, the rest (loading chatter) as debug.
#pragma once

namespace relay::dpprocess {

// Before anything may load a BPF program (rte_eal_init probes eal.vdevs).
void route_bpf_logs();

}  // namespace relay::dpprocess
