// Every attribute the codec knows, built and parsed back, for both address
// families; and the accessors' "absent" versus "present but malformed".
#include <gtest/gtest.h>

#include "controlplane/core/stun/stun.hpp"
#include "controlplane/core/stun/wire.hpp"
#include "tests/unit/codec/vectors.hpp"

namespace relay::stun {
namespace {

using test::Bytes;
using test::hex;
using test::message;

constexpr TransactionId kTransaction{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
const SocketAddress kClientV4 = *SocketAddress::parse("198.51.100.7:49152");
const SocketAddress kClientV6 = *SocketAddress::parse("[2001:db8::7]:49152");
const SocketAddress kPeerV4 = *SocketAddress::parse("203.0.113.9:3478");
const SocketAddress kPeerV6 = *SocketAddress::parse("[2001:db8:ffff::9]:65535");
const SocketAddress kRelayV4 = *SocketAddress::parse("192.0.2.1:50000");
const SocketAddress kRelayV6 = *SocketAddress::parse("[2001:db8:1::1]:50000");

// Builds with `add`, parses the result and hands the message to `check`.
template <class Add, class Check>
void round_trip(Method method, MessageClass cls, Add add, Check check) {
  std::array<uint8_t, 1500> buffer{};
  Builder b(buffer, method, cls, kTransaction);
  add(b);
  auto size = b.finish();
  ASSERT_TRUE(size.ok()) << to_string(size.error());
  auto m = parse(std::span<const uint8_t>(buffer.data(), size.value()));
  ASSERT_TRUE(m.ok()) << to_string(m.error().error) << " at " << m.error().offset;
  EXPECT_EQ(m->method(), method);
  EXPECT_EQ(m->message_class(), cls);
  EXPECT_EQ(m->transaction_id(), kTransaction);
  check(*m);
}

TEST(AttributeRoundTrip, EveryMethodAndClassSurvivesTheTypeBitInterleaving) {
  for (const Method method : {Method::Binding, Method::Allocate, Method::Refresh, Method::Send, Method::Data,
                              Method::CreatePermission, Method::ChannelBind, static_cast<Method>(0xFFF)}) {
    for (const MessageClass cls : {MessageClass::Request, MessageClass::Indication, MessageClass::SuccessResponse,
                                   MessageClass::ErrorResponse}) {
      round_trip(method, cls, [](Builder&) {}, [](const Message& m) { EXPECT_EQ(m.attribute_count(), 0u); });
    }
  }
}

TEST(AttributeRoundTrip, AllocateSuccessCarriesRelayedAndMappedAddressesOfBothFamilies) {
  round_trip(
      Method::Allocate, MessageClass::SuccessResponse,
      [](Builder& b) {
        b.add_xor_relayed_address(kRelayV4)
            .add_xor_relayed_address(kRelayV6)
            .add_xor_mapped_address(kClientV6)
            .add_mapped_address(kClientV4)
            .add_lifetime(std::chrono::seconds(600))
            .add_reservation_token({1, 2, 3, 4, 5, 6, 7, 8})
            .add_software("relay test");
      },
      [](const Message& m) {
        const auto relayed = m.xor_relayed_addresses();
        ASSERT_TRUE(relayed.ok());
        ASSERT_EQ(relayed->size(), 2u);
        EXPECT_EQ((*relayed)[0], kRelayV4);
        EXPECT_EQ((*relayed)[1], kRelayV6);
        EXPECT_EQ(m.xor_mapped_address().value(), kClientV6);
        EXPECT_EQ(m.mapped_address().value(), kClientV4);
        EXPECT_EQ(m.lifetime().value(), std::chrono::seconds(600));
        EXPECT_EQ(m.reservation_token().value(), (ReservationToken{1, 2, 3, 4, 5, 6, 7, 8}));
        EXPECT_EQ(m.software().value(), "relay test");
      });
}

TEST(AttributeRoundTrip, AllocateRequestCarriesTransportFamiliesEvenPortAndDontFragment) {
  round_trip(
      Method::Allocate, MessageClass::Request,
      [](Builder& b) {
        b.add_requested_transport(kTransportUdp)
            .add_requested_address_family(Family::V6)
            .add_additional_address_family(Family::V6)
            .add_even_port(EvenPort{true})
            .add_dont_fragment()
            .add_username("1685984278:uvdgKvS9GXYZ_vmv")
            .add_realm("firezone")
            .add_nonce("n0nce");
      },
      [](const Message& m) {
        EXPECT_EQ(m.requested_transport().value(), kTransportUdp);
        EXPECT_EQ(m.requested_address_family().value(), Family::V6);
        EXPECT_EQ(m.additional_address_family().value(), Family::V6);
        EXPECT_EQ(m.even_port().value(), EvenPort{true});
        EXPECT_TRUE(m.dont_fragment().value());
        EXPECT_EQ(m.username().value(), "1685984278:uvdgKvS9GXYZ_vmv");
        EXPECT_EQ(m.realm().value(), "firezone");
        EXPECT_EQ(m.nonce().value(), "n0nce");
      });
}

TEST(AttributeRoundTrip, CreatePermissionListsEveryPeerAddressInOrder) {
  round_trip(
      Method::CreatePermission, MessageClass::Request,
      [](Builder& b) { b.add_xor_peer_address(kPeerV4).add_xor_peer_address(kPeerV6).add_xor_peer_address(kPeerV4); },
      [](const Message& m) {
        const auto peers = m.xor_peer_addresses();
        ASSERT_TRUE(peers.ok());
        ASSERT_EQ(peers->size(), 3u);
        EXPECT_EQ((*peers)[0], kPeerV4);
        EXPECT_EQ((*peers)[1], kPeerV6);
        EXPECT_EQ((*peers)[2], kPeerV4);
      });
}

TEST(AttributeRoundTrip, ChannelBindCarriesChannelNumberAndPeer) {
  round_trip(
      Method::ChannelBind, MessageClass::Request,
      [](Builder& b) { b.add_channel_number(ChannelNumber{0x4001}).add_xor_peer_address(kPeerV6); },
      [](const Message& m) {
        EXPECT_EQ(m.channel_number().value(), ChannelNumber{0x4001});
        EXPECT_EQ(m.xor_peer_addresses()->size(), 1u);
      });
}

TEST(AttributeRoundTrip, SendIndicationCarriesPeerAndUnpaddedData) {
  const Bytes payload = hex("01 02 03 04 05");
  round_trip(
      Method::Send, MessageClass::Indication,
      [&](Builder& b) { b.add_xor_peer_address(kPeerV4).add_data(payload); },
      [&](const Message& m) {
        const auto data = m.data().value();
        ASSERT_TRUE(data.has_value());
        EXPECT_EQ(Bytes(data->begin(), data->end()), payload);
      });
}

TEST(AttributeRoundTrip, ErrorResponseCarriesCodeReasonAndUnknownAttributes) {
  const std::array<uint16_t, 2> unknown{0x0031, 0x7FFF};
  round_trip(
      Method::Allocate, MessageClass::ErrorResponse,
      [&](Builder& b) {
        b.add_error_code(error_code::kUnknownAttribute).add_unknown_attributes(unknown).add_realm("firezone");
      },
      [&](const Message& m) {
        const auto error = m.error_code().value();
        ASSERT_TRUE(error.has_value());
        EXPECT_EQ(error->code, 420);
        EXPECT_EQ(error->error_class(), 4);
        EXPECT_EQ(error->number(), 20);
        EXPECT_EQ(error->reason, "Unknown Attribute");
        const auto list = m.unknown_attributes().value();
        ASSERT_TRUE(list.has_value());
        ASSERT_EQ(list->size(), 2u);
        EXPECT_EQ((*list)[0], 0x0031);
        EXPECT_EQ((*list)[1], 0x7FFF);
      });
}

TEST(AttributeRoundTrip, AddressErrorCodeNamesTheFamilyItIsAbout) {
  round_trip(
      Method::Allocate, MessageClass::SuccessResponse,
      [](Builder& b) {
        b.add_xor_relayed_address(kRelayV4).add_address_error_code(Family::V6, error_code::kInsufficientCapacity);
      },
      [](const Message& m) {
        const auto error = m.address_error_code().value();
        ASSERT_TRUE(error.has_value());
        EXPECT_EQ(error->family, Family::V6);
        EXPECT_EQ(error->code, 508);
        EXPECT_EQ(error->reason, "Insufficient Capacity");
      });
}

TEST(AttributeRoundTrip, ErrorCodeKeepsACustomReasonPhrase) {
  round_trip(
      Method::Refresh, MessageClass::ErrorResponse,
      [](Builder& b) { b.add_error_code(error_code::kStaleNonce, "Nonce expired"); },
      [](const Message& m) { EXPECT_EQ(m.error_code().value()->reason, "Nonce expired"); });
}

TEST(AttributeRoundTrip, AbsentAttributesReadAsNothingRatherThanErrors) {
  round_trip(Method::Binding, MessageClass::Request, [](Builder&) {}, [](const Message& m) {
    EXPECT_FALSE(m.mapped_address().value().has_value());
    EXPECT_FALSE(m.xor_mapped_address().value().has_value());
    EXPECT_TRUE(m.xor_peer_addresses()->empty());
    EXPECT_TRUE(m.xor_relayed_addresses()->empty());
    EXPECT_FALSE(m.username().value().has_value());
    EXPECT_FALSE(m.realm().value().has_value());
    EXPECT_FALSE(m.nonce().value().has_value());
    EXPECT_FALSE(m.software().value().has_value());
    EXPECT_FALSE(m.error_code().value().has_value());
    EXPECT_FALSE(m.unknown_attributes().value().has_value());
    EXPECT_FALSE(m.lifetime().value().has_value());
    EXPECT_FALSE(m.requested_transport().value().has_value());
    EXPECT_FALSE(m.channel_number().value().has_value());
    EXPECT_FALSE(m.requested_address_family().value().has_value());
    EXPECT_FALSE(m.additional_address_family().value().has_value());
    EXPECT_FALSE(m.address_error_code().value().has_value());
    EXPECT_FALSE(m.dont_fragment().value());
    EXPECT_FALSE(m.even_port().value().has_value());
    EXPECT_FALSE(m.reservation_token().value().has_value());
    EXPECT_FALSE(m.data().value().has_value());
    EXPECT_FALSE(m.has_message_integrity());
    EXPECT_FALSE(m.has_message_integrity_sha256());
    EXPECT_FALSE(m.has_fingerprint());
    EXPECT_FALSE(m.attribute(0x0006).has_value());
  });
}

// The view borrows `datagram`, which must outlive it.
Message parsed_with(const Bytes& datagram) {
  auto m = parse(datagram);
  EXPECT_TRUE(m.ok());
  return m.value();
}

template <class T>
AttributeError error_of(const Field<T>& f) {
  EXPECT_FALSE(f.ok());
  return f.ok() ? AttributeError::InvalidValue : f.error();
}

TEST(MalformedAttribute, PeerAddressWithFamilyThreeIsAnUnknownFamily) {
  const Bytes d = message(0x0008, hex("00120008 0003a147 e112a643"));
  const Message m = parsed_with(d);
  ASSERT_FALSE(m.xor_peer_addresses().ok());
  EXPECT_EQ(m.xor_peer_addresses().error(), AttributeError::UnknownFamily);
}

TEST(MalformedAttribute, OneBrokenPeerAddressAmongGoodOnesFailsTheList) {
  const Bytes d = message(0x0008, hex("00120008 0001a147 e112a643 00120008 0002a147 e112a643"));
  const Message m = parsed_with(d);
  ASSERT_FALSE(m.xor_peer_addresses().ok());
  EXPECT_EQ(m.xor_peer_addresses().error(), AttributeError::WrongLength);
}

TEST(MalformedAttribute, Ipv6FamilyWithAnIpv4SizedAddressHasTheWrongLength) {
  const Bytes d = message(0x0001, hex("00200008 0002a147 e112a643"));
  const Message m = parsed_with(d);
  EXPECT_EQ(error_of(m.xor_mapped_address()), AttributeError::WrongLength);
}

TEST(MalformedAttribute, AddressShorterThanItsHeaderHasTheWrongLength) {
  const Bytes d = message(0x0001, hex("00010002 0001 0000"));
  const Message m = parsed_with(d);
  EXPECT_EQ(error_of(m.mapped_address()), AttributeError::WrongLength);
}

TEST(MalformedAttribute, LifetimeOfThreeBytesHasTheWrongLength) {
  const Bytes d = message(0x0004, hex("000d0003 00025800"));
  const Message m = parsed_with(d);
  EXPECT_EQ(error_of(m.lifetime()), AttributeError::WrongLength);
}

TEST(MalformedAttribute, RequestedTransportOfOneByteHasTheWrongLength) {
  const Bytes d = message(0x0003, hex("00190001 11000000"));
  const Message m = parsed_with(d);
  EXPECT_EQ(error_of(m.requested_transport()), AttributeError::WrongLength);
}

TEST(MalformedAttribute, ChannelNumberOfTwoBytesHasTheWrongLength) {
  const Bytes d = message(0x0009, hex("000c0002 40010000"));
  const Message m = parsed_with(d);
  EXPECT_EQ(error_of(m.channel_number()), AttributeError::WrongLength);
}

TEST(MalformedAttribute, RequestedAddressFamilyThreeIsUnknownSoTheServerCanAnswer440) {
  const Bytes d = message(0x0003, hex("00170004 03000000"));
  const Message m = parsed_with(d);
  EXPECT_EQ(error_of(m.requested_address_family()), AttributeError::UnknownFamily);
}

TEST(MalformedAttribute, AdditionalAddressFamilyOfEightBytesHasTheWrongLength) {
  const Bytes d = message(0x0003, hex("80000008 02000000 00000000"));
  const Message m = parsed_with(d);
  EXPECT_EQ(error_of(m.additional_address_family()), AttributeError::WrongLength);
}

TEST(MalformedAttribute, ErrorCodeOfClassSevenIsInvalid) {
  const Bytes d = message(0x0113, hex("00090004 00000700"));
  const Message m = parsed_with(d);
  EXPECT_EQ(error_of(m.error_code()), AttributeError::InvalidValue);
}

TEST(MalformedAttribute, ErrorCodeNumberAboveNinetyNineIsInvalid) {
  const Bytes d = message(0x0113, hex("00090004 00000464"));
  const Message m = parsed_with(d);
  EXPECT_EQ(error_of(m.error_code()), AttributeError::InvalidValue);
}

TEST(MalformedAttribute, AddressErrorCodeForFamilyZeroIsAnUnknownFamily) {
  const Bytes d = message(0x0103, hex("80010004 00000508"));
  const Message m = parsed_with(d);
  EXPECT_EQ(error_of(m.address_error_code()), AttributeError::UnknownFamily);
}

TEST(MalformedAttribute, UnknownAttributesOfOddLengthHasTheWrongLength) {
  const Bytes d = message(0x0113, hex("000a0003 00310000"));
  const Message m = parsed_with(d);
  EXPECT_EQ(error_of(m.unknown_attributes()), AttributeError::WrongLength);
}

TEST(MalformedAttribute, DontFragmentWithAValueHasTheWrongLength) {
  const Bytes d = message(0x0003, hex("001a0004 00000000"));
  const Message m = parsed_with(d);
  ASSERT_FALSE(m.dont_fragment().ok());
  EXPECT_EQ(m.dont_fragment().error(), AttributeError::WrongLength);
}

TEST(MalformedAttribute, EvenPortOfFourBytesHasTheWrongLength) {
  const Bytes d = message(0x0003, hex("00180004 80000000"));
  const Message m = parsed_with(d);
  EXPECT_EQ(error_of(m.even_port()), AttributeError::WrongLength);
}

TEST(MalformedAttribute, ReservationTokenOfFourBytesHasTheWrongLength) {
  const Bytes d = message(0x0003, hex("00220004 01020304"));
  const Message m = parsed_with(d);
  EXPECT_EQ(error_of(m.reservation_token()), AttributeError::WrongLength);
}

TEST(MalformedAttribute, UsernameOf514BytesIsTooLong) {
  Bytes body = hex("00060204");
  body.resize(body.size() + 516, 'a');
  const Bytes d = message(0x0001, body);
  const Message m = parsed_with(d);
  EXPECT_EQ(error_of(m.username()), AttributeError::TooLong);
}

TEST(AttributeIndex, FirstOfDuplicateAttributesWins) {
  const Bytes d = message(0x0001, hex("00060004 61616161 00060004 62626262"));
  const Message m = parsed_with(d);
  EXPECT_EQ(m.username().value(), "aaaa");
  EXPECT_EQ(m.attribute_count(), 2u);
  EXPECT_EQ(m.attribute_at(1).offset, 28u);
}

TEST(AttributeIndex, UnknownComprehensionRequiredTypesAreCollectedInOrderForA420) {
  // 0x0031 and 0x7F00 unknown and required; 0x8031 unknown but optional.
  const Bytes d = message(0x0003, hex("00310000 80310000 7f000004 00000000 00190004 11000000"));
  const Message m = parsed_with(d);
  const UnknownTypes unknown = m.unknown_comprehension_required();
  ASSERT_EQ(unknown.count, 2u);
  EXPECT_EQ(unknown.types[0], 0x0031);
  EXPECT_EQ(unknown.types[1], 0x7F00);
  EXPECT_EQ(m.requested_transport().value(), kTransportUdp);
}

TEST(AttributeIndex, GenericLookupFindsUnknownTypesToo) {
  const Bytes d = message(0x0001, hex("80310002 abcd0000"));
  const Message m = parsed_with(d);
  const auto v = m.attribute(0x8031);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(Bytes(v->begin(), v->end()), hex("abcd"));
  EXPECT_TRUE(m.unknown_comprehension_required().empty());
}

}  // namespace
}  // namespace relay::stun

namespace relay::stun {
namespace {

TEST(AttributeIndex, KnownTypesAreExactlyTheListedOnes) {
  EXPECT_TRUE(is_known(0x0001));
  EXPECT_TRUE(is_known(0x8028));
  EXPECT_FALSE(is_known(0x0031));
  EXPECT_FALSE(is_known(0x8029));  // ICE-CONTROLLED: optional, skipped
  EXPECT_EQ(to_string(AttributeType::XorPeerAddress), "XOR-PEER-ADDRESS");
  EXPECT_EQ(reason_phrase(error_code::kAllocationMismatch), "Allocation Mismatch");
}

TEST(AttributeIndex, ParserSlotTableAgreesWithTheSlotSwitchForEveryType) {
  for (uint32_t t = 0; t <= 0xFFFF; ++t) {
    const auto type = static_cast<uint16_t>(t);
    const int slot = wire::slot_of(type);
    const size_t expected = slot == wire::kNoSlot ? wire::kUnknownSlot : static_cast<size_t>(slot);
    ASSERT_EQ(wire::parser_slot_of(type), expected) << "type " << t;
  }
}

}  // namespace
}  // namespace relay::stun
