// The sans-IO TURN server (RFC 8489, RFC 8656): bytes, sender and time in;
// Commands out. It never reads a clock, a socket or the environment: the IO
// shell feeds it and performs what next_command() yields.
//
//   Server server(config, seed);
//   server.set_wall_clock(now, unix_seconds);   // for credential expiry
//   server.handle_portal_init();                // unless config.has_portal == false
//   server.handle_client_input(datagram, from, to, now);
//   while (auto c = server.next_command()) perform(*c);
//   sleep until server.poll_timeout(), then server.handle_timeout(now);
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/net_types.hpp"
#include "common/time.hpp"
#include "controlplane/core/allocation.hpp"
#include "controlplane/core/allocations.hpp"
#include "controlplane/core/command.hpp"
#include "controlplane/core/fast_hash.hpp"
#include "controlplane/core/key_cache.hpp"
#include "controlplane/core/nonce_store.hpp"
#include "controlplane/core/peer_policy.hpp"
#include "controlplane/core/responder.hpp"
#include "controlplane/core/rng.hpp"
#include "controlplane/core/server_config.hpp"
#include "controlplane/core/static_users.hpp"
#include "controlplane/core/stats.hpp"
#include "controlplane/core/stun/credentials.hpp"
#include "controlplane/core/stun/stun.hpp"
#include "controlplane/core/timer_queue.hpp"

namespace relay::core {

// Why the data plane's report of an installed entry was not adopted.
enum class RestoreError : uint8_t {
  Expired,
  PortOutOfRange,
  PortTaken,
  ClientHasAllocation,
  RelayMismatch,  // relay address not ours, or not the allocation's port
  NoAllocation,
  InvalidChannel,
  ChannelConflict,  // number or peer already bound to something else
  PeerDenied,       // the peer policy refuses the peer now
};
std::string_view to_string(RestoreError e);

// What relayctl shows of one allocation.
struct AllocationView {
  AllocationPort port;
  ClientFiveTuple client;
  std::optional<SocketAddress> relay_v4;
  std::optional<SocketAddress> relay_v6;
  Instant expiry;
  std::string user;  // the owner's (a salt, a REST or static user); "" restored and not yet claimed
  uint32_t channels = 0;  // bound
  uint32_t permissions = 0;
};

struct ReconfigureReport {
  bool quotas_changed = false;
  bool peer_policy_changed = false;
  bool secrets_changed = false;
  uint32_t channels_revoked = 0;  // peers the new policy denies
  uint32_t permissions_revoked = 0;
};

struct DrainState {
  bool draining = false;
  std::optional<Instant> deadline;
  TimerId timer = kNoTimer;
};

struct MintedCredential {
  std::string username;
  std::string password;
};

class Server {
 public:
  // `config` must pass validate(); `rng_seed` makes every random choice
  // reproducible (tests, fuzzing); without it randomness is OpenSSL's.
  explicit Server(ServerConfig config, std::optional<uint64_t> rng_seed = std::nullopt);
  // Allocations' indexes and Allocation::owner point into node-based
  // maps: a move keeps the nodes, a copy would not.
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  Server(Server&&) = default;
  Server& operator=(Server&&) = default;

  // Anchors credential expiry (unix seconds) to the monotonic clock; call at
  // start and whenever the wall clock may have stepped. Until then every
  // authenticated request fails closed (401, auth failure clock_unknown).
  void set_wall_clock(Instant now, std::chrono::seconds unix_time);
  // relay.auth.scheme static: the users file's users from now on (at start
  // and on SIGHUP); a user no longer listed fails its next request.
  void set_static_users(StaticUsers users) { static_users_ = std::move(users); }
  // On SIGHUP (or relayctl reload): `next` is config() with the live keys
  // changed - quotas, peer_allow/peer_deny/local_networks, auth_secrets;
  // every other field must be config()'s. What already exists beyond a
  // lowered quota stays until it ends; a channel or permission whose peer
  // the new policy denies is removed now (RemoveChannel, RemovePermission);
  // a key derived from a secret no longer configured is derived again, so
  // a removed secret verifies nothing from the next request on.
  ReconfigureReport reconfigure(const ServerConfig& next, Instant now);
  // The portal accepted us: start serving new clients (no-op without a
  // portal). Before it, only 5-tuples holding an allocation (adopted after
  // a restart) are served.
  void handle_portal_init();
  [[nodiscard]] bool ready() const { return ready_; }

  // One STUN message from a client: a UDP datagram, or one message a stream
  // client's framing delimited (`transport` TCP or TLS).
  void handle_client_input(std::span<const uint8_t> bytes, ClientSocket from, ListenSocket to, Instant now,
                           Transport transport = Transport::Udp);
  void handle_timeout(Instant now);
  std::optional<Command> next_command();
  [[nodiscard]] std::optional<Instant> poll_timeout() const { return timers_.earliest(); }

  // A restarted control plane adopts what the data plane still forwards.
  // No command is emitted; the entries expire and refresh as if created here.
  std::optional<RestoreError> restore_allocation(const CreateAllocation& installed, Instant now);
  std::optional<RestoreError> restore_channel(const InstallChannel& installed, Instant now);
  std::optional<RestoreError> restore_permission(const InstallPermission& installed, Instant now);
  // Reconciliation: what a data-plane replica must hold for `port` to agree
  // with this Server - CreateAllocation, then its bound channels and live
  // permissions as InstallChannel / InstallPermission (current expiries),
  // or a lone FreeAllocation when no allocation has the port.
  [[nodiscard]] std::vector<Command> replica_of(AllocationPort port, Instant now) const;
  // Calls f(const Command&) for every CreateAllocation and InstallChannel a
  // replica holds (what the replica digest covers).
  template <class F>
  void visit_digest_entries(F&& f) const {
    for (const auto& [client, a] : allocations_) {
      f(Command{creation_of(a)});
      for (const Channel& c : a.channels)
        if (c.bound) f(Command{installation_of(a, c)});
    }
  }
  // The data plane refused `install` (an InstallChannel or InstallPermission
  // this Server emitted) because a worker's table was full: it is forgotten
  // as if never granted and removed from the workers that took it; the
  // client is answered 508 (SendMessage::if_refused) instead.
  void undo_install(const Command& install);

  // Operations (server_admin.cpp), for relayctl.
  [[nodiscard]] std::vector<AllocationView> allocations() const;
  // Ends the allocation on `port` as a Refresh with LIFETIME 0 would (its
  // client's next request gets 437); false when no allocation has it.
  bool end_allocation(AllocationPort port, Instant now);
  // The client's stream closed (TCP/TLS, RFC 8656 §2: the allocation
  // belongs to the 5-tuple, which no longer exists): its allocation ends
  // now as end_allocation's does; false when it holds none.
  bool end_client(const ClientFiveTuple& client, Instant now);
  // Drain mode, for rolling upgrades: every new Allocate is answered 508
  // while existing allocations keep being served; at `deadline` (if any)
  // those still alive are ended. Calling it again moves the deadline.
  void drain(std::optional<Instant> deadline);
  void stop_draining();
  [[nodiscard]] const DrainState& drain_state() const { return drain_; }
  // A credential of the configured scheme for `user`, valid until
  // `expiry_unix_seconds`, minted with the first secret; nullopt for
  // static (its users come from the users file).
  [[nodiscard]] std::optional<MintedCredential> mint_credential(std::string_view user,
                                                                uint64_t expiry_unix_seconds) const;

  [[nodiscard]] Stats stats() const {
    Stats s = stats_;
    const Allocations::Counts& counts = allocations_.counts();
    s.active_allocations_v4 = counts.allocations_v4;
    s.active_allocations_v6 = counts.allocations_v6;
    s.held_ports = counts.held_ports;
    s.port_holds_cut_short = counts.holds_cut_short;
    s.free_ports = allocations_.free_ports();
    s.responses = responder_.responses();
    s.drops[static_cast<size_t>(DropReason::ResponseTooLarge)] = responder_.too_large();
    return s;
  }
  [[nodiscard]] size_t allocation_count() const { return allocations_.size(); }
  [[nodiscard]] bool holds_allocation(const ClientFiveTuple& client) const { return allocations_.contains(client); }
  [[nodiscard]] const ServerConfig& config() const { return config_; }

 private:
  // The commands that install `a`, its channel `c`, its permission `p`
  // (server.cpp).
  static CreateAllocation creation_of(const Allocation& a);
  static InstallChannel installation_of(const Allocation& a, const Channel& c);
  static InstallPermission permission_of(const Allocation& a, const Permission& p);

  // The peer policy `c` describes (server.cpp).
  static PeerPolicy policy_for(const ServerConfig& c);

  // Dispatch (server.cpp).
  void handle_request(const Request& r);
  void emit(Command c) { responder_.emit(std::move(c)); }
  void drop(DropReason reason) { ++stats_.drops[static_cast<size_t>(reason)]; }

  // Authentication (server_auth.cpp): the Auth, or nullopt once the error
  // response has been queued.
  std::optional<Auth> authenticate(const Request& r);
  // The username as relay.auth.scheme reads it, or nullopt if it is not
  // that scheme's canonical form.
  std::optional<stun::Username> parse_username(std::string_view username) const;
  // The key of a username that verified before, if still known; static:
  // the users file's.
  std::optional<stun::IntegrityKey> known_key(const Request& r, std::string_view username,
                                              const stun::Username& parts);
  // One key per secret, in their order (none for static).
  std::vector<stun::IntegrityKey> derive_keys(std::string_view username, const stun::Username& parsed) const;
  // What a 401/438 to this username is signed with: its known key, else
  // the derived one that verifies the request (a client of an older
  // secret during a rotation), else the first secret's; nullopt for a
  // static user nobody listed.
  std::optional<stun::IntegrityKey> signing_key(const Request& r, std::string_view username,
                                                const stun::Username& parts);
  // The caller's allocation after the RFC 8656 §5 checks (437, 441), or
  // null once the error response has been queued.
  Allocation* owned_allocation(const Request& r, const Auth& auth);

  // Allocate and Refresh (server_allocate.cpp).
  void handle_allocate(const Request& r, const Auth& auth);
  void handle_refresh(const Request& r, const Auth& auth);
  Duration granted_lifetime(std::optional<std::chrono::seconds> requested, bool for_refresh) const;
  std::optional<uint16_t> check_allocation_quota(const Request& r, std::string_view salt);
  // `owner` is null for an allocation restored from the data plane.
  Allocation& create_allocation(AllocationPort port, const ClientFiveTuple& client, bool v4, bool v6,
                                Instant expiry, const Auth* owner);
  void free_allocation(Allocation& a, Instant now);
  // Makes `auth`'s user the owner of `a` (Allocations::assign_owner).
  void assign_owner(Allocation& a, const Auth& auth);

  // ChannelBind and CreatePermission (server_channels.cpp).
  void handle_channel_bind(const Request& r, const Auth& auth);
  void handle_create_permission(const Request& r, const Auth& auth);
  std::optional<uint16_t> check_peer(const Allocation& a, const SocketAddress& peer) const;
  // Installs or refreshes until `expiry`; null when `enforce_quota` and the
  // allocation holds its maximum of permissions. The caller announces it
  // (or not, when restoring).
  const Permission* grant_permission(Allocation& a, const IpAddress& peer, Instant now, Instant expiry,
                                     bool enforce_quota);
  void forget_expired_permissions(Allocation& a, Instant now);
  // Whether `wanted` more permissions fit in the data plane's tables
  // (quotas.permissions_total); reclaims expired ones to make room.
  bool permission_room(size_t wanted, Instant now);
  void announce_permission(const Allocation& a, const Permission& p);
  // Binds or re-binds until `deadline`; the caller grants the implied
  // permission and announces both (or not, when restoring).
  Channel& bind_channel(Allocation& a, Channel* existing, ChannelNumber number, const PeerSocket& peer,
                        Instant deadline);

  // Timers (server_timers.cpp).
  void run_timers(Instant now);
  void on_allocation_expired(uint16_t port);
  void on_channel_deadline(uint16_t port, uint16_t number);
  void on_drain_deadline();

  // Reconfiguration (server_admin.cpp): removes what the policy denies now.
  void revoke_denied_peers(Instant now, ReconfigureReport& report);
  // Ends a bound channel at `ended`, as its expiry would: the RFC 8656
  // §12 cool-down runs from then.
  void unbind_channel(Allocation& a, Channel& c, Instant ended);

  ServerConfig config_;
  Rng rng_;
  bool ready_;
  std::optional<std::chrono::seconds> unix_offset_;  // unix time - monotonic time
  PeerPolicy policy_;
  NonceStore nonces_;
  KeyCache<stun::IntegrityKey> keys_;
  StaticUsers static_users_;
  TimerQueue timers_;
  Allocations allocations_{config_.allocation_ports};
  // Every allocation's permissions, expired ones until they are forgotten:
  // never fewer than the data plane's live permission entries.
  uint64_t permissions_counted_ = 0;
  std::optional<Instant> last_reclaim_;  // of expired permissions across all allocations
  DrainState drain_;
  Responder responder_{config_.software, config_.realm, config_.response_cache_capacity};
  Stats stats_;
};

}  // namespace relay::core
