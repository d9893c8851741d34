#include "controlplane/process/server_replica.hpp"

namespace relay::process {

std::vector<ring_abi::CommandMessage> ServerReplica::replica_of(uint16_t port, Instant now) {
  std::vector<ring_abi::CommandMessage> messages;
  for (const core::Command& c : server_.replica_of(AllocationPort{port}, now))
    if (auto m = to_command_message(c)) messages.push_back(*m);
  return messages;
}

uint64_t ServerReplica::digest() {
  uint64_t digest = 0;
  server_.visit_digest_entries([&](const core::Command& c) {
    if (auto m = to_command_message(c)) digest ^= ring_abi::entry_digest(*m);
  });
  return digest;
}

}  // namespace relay::process
