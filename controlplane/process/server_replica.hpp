// The Server as the truth a worker's replica is resynchronised from and
// compared with (command_fanout.hpp, "Reconciliation" in ARCHITECTURE.md).
#pragma once

#include <cstdint>
#include <vector>

#include "controlplane/core/server.hpp"
#include "controlplane/process/command_fanout.hpp"

namespace relay::process {

class ServerReplica final : public ReplicaSource {
 public:
  explicit ServerReplica(const core::Server& server) : server_(server) {}

  [[nodiscard]] uint16_t first_port() const override { return server_.config().allocation_ports.lowest; }
  [[nodiscard]] uint16_t last_port() const override { return server_.config().allocation_ports.highest; }
  std::vector<ring_abi::CommandMessage> replica_of(uint16_t port, Instant now) override;
  Digest digest() override;

 private:
  const core::Server& server_;
};

}  // namespace relay::process
