// The smallest XDP program: every frame passes. test_dpprocess.py attaches
// it to the veth as another tool's program would be, and checks that the
// data plane leaves it there.
#include <linux/bpf.h>

__attribute__((section("xdp"), used)) int pass(struct xdp_md *ctx) {
  (void)ctx;
  return XDP_PASS;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
