// Log lines: the JSON envelope and fields, escaping of every class of
// character, the text format, and level filtering.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

#include "tests/unit/observability/log_test_support.hpp"

using namespace relay;
using namespace relay::test;
using json = nlohmann::json;

namespace {

std::string json_line(std::string_view message, log::Fields fields = {}) {
  auto line = log::format_json(pinned_time(), log::Level::Info, "test", message,
                               {fields.begin(), fields.size()});
  EXPECT_TRUE(line.ends_with("}\n"));
  line.pop_back();
  return line;
}

std::string escaped(std::string_view text) {
  std::string out;
  log::append_json_escaped(out, text);
  return out;
}

}  // namespace

using Log = CapturedLog;

TEST_F(Log, AJsonEventIsOneObjectWithEnvelopeAndTypedFields) {
  log::set_format(log::Format::Json);
  auto client = ClientSocket{*SocketAddress::parse("[2001:db8::7]:50000")};
  auto peer = *IpAddress::parse("203.0.113.9");
  log::info("alloc", "allocation created",
            {{"client", client},
             {"peer", peer},
             {"allocation", AllocationPort{49152}},
             {"channel", ChannelNumber{0x4000}},
             {"code", 401},
             {"delta", int64_t{-5}},
             {"ratio", 0.25},
             {"relayed", true},
             {"username", std::string("1700000000:alice")}});
  auto out = lines();
  ASSERT_EQ(out.size(), 1u);
  auto j = json::parse(out[0]);
  EXPECT_EQ(j["ts"], "2026-11-26T09:51:02.123456Z");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["target"], "alloc");
  EXPECT_EQ(j["message"], "allocation created");
  EXPECT_EQ(j["client"], "[2001:db8::7]:50000");
  EXPECT_EQ(j["peer"], "203.0.113.9");
  EXPECT_EQ(j["allocation"], 49152);
  EXPECT_EQ(j["channel"], 16384);
  EXPECT_EQ(j["code"], 401);
  EXPECT_EQ(j["delta"], -5);
  EXPECT_EQ(j["ratio"], 0.25);
  EXPECT_EQ(j["relayed"], true);
  EXPECT_EQ(j["username"], "1700000000:alice");
  EXPECT_EQ(j.size(), 13u);
}

TEST_F(Log, ExtremeNumbersSurviveAndNonFiniteBecomeNull) {
  auto j = json::parse(json_line("n", {{"max", UINT64_MAX},
                                       {"min", std::numeric_limits<int64_t>::min()},
                                       {"nan", std::nan("")},
                                       {"inf", std::numeric_limits<double>::infinity()}}));
  EXPECT_EQ(j["max"].get<uint64_t>(), UINT64_MAX);
  EXPECT_EQ(j["min"].get<int64_t>(), std::numeric_limits<int64_t>::min());
  EXPECT_TRUE(j["nan"].is_null());
  EXPECT_TRUE(j["inf"].is_null());
}

TEST_F(Log, AFieldNamedLikeTheEnvelopeDoesNotReplaceIt) {
  auto j = json::parse(json_line("real", {{"message", "fake"}, {"level", "error"}}));
  EXPECT_EQ(j["message"], "real");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["_message"], "fake");
  EXPECT_EQ(j["_level"], "error");
}

TEST(JsonEscaping, QuotesBackslashesAndEveryControlCharacterAreEscaped) {
  std::string all_controls;
  for (int c = 0; c < 0x20; ++c) all_controls += static_cast<char>(c);
  all_controls += '\x7f';
  auto text = "say \"hi\" \\ " + all_controls;
  auto out = escaped(text);
  EXPECT_TRUE(out.starts_with("say \\\"hi\\\" \\\\ \\u0000\\u0001"));
  EXPECT_TRUE(out.ends_with("\\u001e\\u001f\\u007f"));
  for (char c : out) EXPECT_GE(static_cast<unsigned char>(c), 0x20);
  // And a parser gives back exactly what went in, keys included.
  auto j = json::parse(json_line(text, {{text, text}}));
  EXPECT_EQ(j["message"], text);
  EXPECT_EQ(j[text], text);
}

TEST(JsonEscaping, ValidUtf8PassesThroughUnchanged) {
  const std::string text =
      "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xEF\xBF\xBF \xF4\x8F\xBF\xBF";
  EXPECT_EQ(escaped(text), text);
  EXPECT_EQ(json::parse(json_line(text))["message"], text);
}

TEST(JsonEscaping, InvalidUtf8BecomesOneReplacementPerMaximalBadSubpart) {
  const std::string r = "\xEF\xBF\xBD";  // U+FFFD
  struct Case {
    std::string in, out;
  };
  for (const auto& c : std::vector<Case>{
           {"a\x80"
            "b",
            "a" + r + "b"},                      // lone continuation byte
           {"\xC0\xAF", r + r},                  // overlong '/': C0 is never valid
           {"\xE0\x80\xAF", r + r + r},          // overlong 3-byte
           {"\xED\xA0\x80", r + r + r},          // UTF-16 surrogate D800
           {"\xF4\x90\x80\x80", r + r + r + r},  // above U+10FFFF
           {"\xF5\x80", r + r},                  // lead byte that never occurs
           {"\xE2\x82", r},                      // truncated at the end
           {"\xE2\x82"
            "x",
            r + "x"},  // truncated before ASCII
           {"\xF0\x9F\x98"
            "\xC3\xA9",
            r + "\xC3\xA9"},  // truncated before a valid char
           {"\xFF\xFE", r + r},
       }) {
    EXPECT_EQ(escaped(c.in), c.out) << json(c.out).dump();
    EXPECT_TRUE(json::accept(json_line(c.in))) << c.out;
  }
}

TEST(Timestamp, IsRfc3339InUtcWithMicroseconds) {
  EXPECT_EQ(log::format_timestamp(pinned_time()), "2026-11-26T09:51:02.123456Z");
  EXPECT_EQ(log::format_timestamp(std::chrono::system_clock::time_point{}),
            "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(
      log::format_timestamp(std::chrono::system_clock::time_point{std::chrono::microseconds{-1}}),
      "1969-12-31T23:59:59.999999Z");
}

TEST_F(Log, TheTextFormatIsOneReadableLineWithKeyValueFields) {
  auto client = *SocketAddress::parse("198.51.100.7:40000");
  log::warn("auth", "stale nonce",
            {{"client", client},
             {"code", 438},
             {"reason", "nonce expired"},
             {"empty", ""},
             {"ok", false}});
  log::error("portal", "line\nbreak\x1b[31m", {{"url", "wss://x/?a=b"}});
  auto out = lines();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0],
            "2026-11-26T09:51:02.123456Z WARN  auth: stale nonce client=198.51.100.7:40000 "
            "code=438 reason=\"nonce expired\" empty=\"\" ok=false");
  EXPECT_EQ(out[1],
            "2026-11-26T09:51:02.123456Z ERROR portal: line\\u000abreak\\u001b[31m "
            "url=\"wss://x/?a=b\"");
}

TEST_F(Log, EventsBelowTheLevelAreDroppedAndTheRestKept) {
  log::set_level(log::Level::Warn);
  EXPECT_FALSE(log::enabled(log::Level::Info));
  EXPECT_TRUE(log::enabled(log::Level::Error));
  log::trace("t", "trace");
  log::debug("t", "debug");
  log::info("t", "info");
  log::warn("t", "warn");
  log::error("t", "error");
  auto out = lines();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].ends_with("WARN  t: warn"));
  EXPECT_TRUE(out[1].ends_with("ERROR t: error"));
}

TEST_F(Log, SecretFieldsPrintRedactedInBothFormats) {
  log::info("portal", "joined", {{"token", log::Secret{"hunter2"}}});
  log::set_format(log::Format::Json);
  log::info("portal", "joined", {{"token", log::Secret{"hunter2"}}});
  EXPECT_EQ(lines_.find("hunter2"), std::string::npos);
  auto out = lines();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].ends_with("token=<redacted>"));
  EXPECT_EQ(json::parse(out[1])["token"], "<redacted>");
}

TEST(LogNames, LevelsAndFormatsParseFromTheirNames) {
  for (auto l : {log::Level::Trace, log::Level::Debug, log::Level::Info, log::Level::Warn,
                 log::Level::Error})
    EXPECT_EQ(log::parse_level(log::to_string(l)), l);
  EXPECT_FALSE(log::parse_level("warning"));
  EXPECT_EQ(log::parse_format("json"), log::Format::Json);
  EXPECT_FALSE(log::parse_format("JSON"));
}

TEST(LogOutput, AFileReceivesCompleteLines) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  log::set_output(f);
  log::set_wall_clock(&pinned_time);
  log::error("t", "to a file", {{"n", 1}});
  log::set_output(stderr);
  log::set_wall_clock(nullptr);
  std::rewind(f);
  char buf[256] = {};
  auto n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  EXPECT_EQ(std::string(buf, n), "2026-11-26T09:51:02.123456Z ERROR t: to a file n=1\n");
}
