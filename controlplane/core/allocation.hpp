// The state of one allocation (RFC 8656 §2.2): its relay addresses, lifetime,
// channels and permissions. Plain data; the Server keeps the invariants.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/net_types.hpp"
#include "common/time.hpp"
#include "controlplane/core/command.hpp"
#include "controlplane/core/fast_hash.hpp"
#include "controlplane/core/stun/credentials.hpp"
#include "controlplane/core/stun/integrity_key.hpp"
#include "controlplane/core/timer_queue.hpp"

namespace relay::core {

// RFC 8656 §12: after a binding expires, neither its number nor its peer may
// be bound to anything else for 5 minutes.
constexpr Duration kChannelCooldown = std::chrono::minutes(5);

struct Channel {
  ChannelNumber number;
  PeerSocket peer;
  // While bound: when the binding expires. While cooling: when the number
  // and the peer become free again.
  Instant deadline;
  TimerId timer = kNoTimer;
  bool bound = true;
};

struct Permission {
  IpAddress peer;  // RFC 8656 §9: permissions are per IP, the port is ignored
  Instant expiry;
};

// Who made an allocation (RFC 8656 §5): what its requests are held to.
// The portal's usernames are "<expiry>:<salt>" and it keeps the salt when
// it rotates a client's credentials (a new username with a later expiry, on
// the same socket), so the salt names the user: requests under any of its
// usernames are the owner's (Firezone's relay does the same).
struct Owner {
  // The key of Server::users_, kept in place by its node until released.
  const std::string* user;
  // The MESSAGE-INTEGRITY key of the username the owner authenticated with
  // last: its requests find it here rather than in the key cache, whose
  // lookup (~3 cache misses) was a sixth of a Refresh. Expiry and length
  // name that username exactly (with the salt; a leading zero changes the
  // length), in the padding a second std::string would have doubled.
  stun::IntegrityKey key;
  uint16_t username_size;  // RFC 8489 §14.3: < 513 bytes
  uint64_t username_expiry;

  [[nodiscard]] bool key_is_for(std::string_view username, const stun::Username& parts) const {
    return username_expiry == parts.expiry_unix_seconds && username_size == username.size() && *user == parts.user;
  }
};

// The OwnerId of the user a salt names.
OwnerId owner_id_of(std::string_view salt);

struct Allocation {
  AllocationPort port;
  ClientFiveTuple client;
  std::optional<SocketAddress> relay_v4;
  std::optional<SocketAddress> relay_v6;
  Instant expiry;
  TimerId timer = kNoTimer;
  // Null for an allocation restored from the data plane until its owner's
  // first authenticated request claims it.
  std::optional<Owner> owner;
  // Always known: from the owner's salt, or as the data plane recorded it
  // for a restored allocation, which only a salt of this id may claim.
  OwnerId owner_id;
  std::vector<Channel> channels;  // linear search: bounded by the channel quota
  std::vector<Permission> permissions;

  [[nodiscard]] const std::optional<SocketAddress>& relay_for(Family f) const {
    return f == Family::V4 ? relay_v4 : relay_v6;
  }
  Channel* channel_by_number(ChannelNumber n) {
    auto it = std::find_if(channels.begin(), channels.end(), [&](const Channel& c) { return c.number == n; });
    return it == channels.end() ? nullptr : &*it;
  }
  Channel* channel_by_peer(const PeerSocket& p) {
    auto it = std::find_if(channels.begin(), channels.end(),
                           [&](const Channel& c) { return same_socket(c.peer.value, p.value); });
    return it == channels.end() ? nullptr : &*it;
  }
};

}  // namespace relay::core
