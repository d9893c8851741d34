#include "controlplane/process/server_replica.hpp"

#include "controlplane/process/ring_codec.hpp"

namespace relay::process {

std::vector<ring_abi::CommandMessage> ServerReplica::replica_of(uint16_t port, Instant now) {
  std::vector<ring_abi::CommandMessage> messages;
  for (const core::Command& c : server_.replica_of(AllocationPort{port}, now))
    if (auto m = to_command_message(c)) messages.push_back(*m);
  return messages;
}

ReplicaSource::Digest ServerReplica::digest() {
  Digest digest;
  server_.visit_digest_entries([&](const core::Command& c) {
    if (auto m = to_command_message(c)) digest.value ^= ring_abi::entry_digest(*m);
    ++digest.entries;
  });
  return digest;
}

}  // namespace relay::process
