// Feeds arbitrary datagrams to the STUN parser, every accessor and both
// integrity checks, then rebuilds whatever parsed and checks the rebuilt
// message parses to the same attributes. Must never crash, leak or read
// out of bounds.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "controlplane/core/stun/credentials.hpp"
#include "controlplane/core/stun/stun.hpp"

namespace {

using namespace relay;
using namespace relay::stun;

// The key of the seed corpus's TURN requests (long_term_key of user
// "1685984278:salt", realm "firezone", password "secret").
const LongTermKey& fixed_key() {
  static const LongTermKey key = long_term_key("1685984278:salt", kRealm, "secret");
  return key;
}

void check(bool invariant) {
  if (!invariant) __builtin_trap();
}

// Touch every typed accessor; results only need to be well-defined.
size_t read_everything(const Message& m) {
  size_t seen = 0;
  seen += m.mapped_address().ok() + m.xor_mapped_address().ok();
  if (auto peers = m.xor_peer_addresses(); peers.ok()) seen += peers->size();
  if (auto relayed = m.xor_relayed_addresses(); relayed.ok()) seen += relayed->size();
  if (auto u = m.username(); u.ok() && *u) seen += (*u)->size() + parse_username(**u).ok();
  seen += m.realm().ok() + m.nonce().ok() + m.software().ok();
  if (auto e = m.error_code(); e.ok() && *e) seen += (*e)->reason.size();
  if (auto list = m.unknown_attributes(); list.ok() && *list) {
    for (size_t i = 0; i < (*list)->size(); ++i) seen += (**list)[i];
  }
  seen += m.lifetime().ok() + m.requested_transport().ok() + m.channel_number().ok();
  seen += m.requested_address_family().ok() + m.additional_address_family().ok();
  if (auto e = m.address_error_code(); e.ok() && *e) seen += (*e)->reason.size();
  seen += m.dont_fragment().ok() + m.even_port().ok() + m.reservation_token().ok();
  if (auto d = m.data(); d.ok() && *d) seen += (*d)->size();
  seen += m.unknown_comprehension_required().count;
  seen += static_cast<size_t>(m.verify_message_integrity(fixed_key()));
  seen += static_cast<size_t>(m.verify_message_integrity_sha256(fixed_key()));
  return seen;
}

// The same attributes in the same order; integrity attributes are signed
// again with the fixed key.
void rebuild(const Message& m) {
  static std::array<uint8_t, 70000> out;
  Builder b(out, m.method(), m.message_class(), m.transaction_id());
  for (size_t i = 0; i < m.attribute_count(); ++i) {
    const RawAttribute a = m.attribute_at(i);
    switch (static_cast<AttributeType>(a.type)) {
      case AttributeType::MessageIntegrity: b.add_message_integrity(fixed_key()); break;
      case AttributeType::MessageIntegritySha256: b.add_message_integrity_sha256(fixed_key(), a.value.size()); break;
      case AttributeType::Fingerprint: b.add_fingerprint(); break;
      default: b.add_attribute(a.type, a.value); break;
    }
  }
  auto size = b.finish();
  check(size.ok() && size.value() == m.bytes().size());
  auto again = parse(std::span<const uint8_t>(out.data(), size.value()));
  check(again.ok());
  check(again->attribute_count() == m.attribute_count());
  check(again->method() == m.method() && again->message_class() == m.message_class());
  if (m.has_message_integrity()) check(again->verify_message_integrity(fixed_key()) == Integrity::Valid);
  if (m.has_message_integrity_sha256())
    check(again->verify_message_integrity_sha256(fixed_key()) == Integrity::Valid);
  for (size_t i = 0; i < m.attribute_count(); ++i) check(again->attribute_at(i).type == m.attribute_at(i).type);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m = parse(std::span<const uint8_t>(data, size));
  if (!m.ok()) {
    check(m.error().offset <= size);
    return 0;
  }
  // Any value will do; the comparison keeps the reads from being elided.
  check(read_everything(*m) != static_cast<size_t>(-1));
  rebuild(*m);
  return 0;
}
