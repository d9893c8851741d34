// PhoenixSession traces: each step feeds one input at an explicit time and
// checks the exact actions and events that come out, and that none are left.
#include <gtest/gtest.h>

#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "controlplane/portal/phoenix_session.hpp"

using namespace relay;
using namespace relay::portal;
using namespace std::chrono_literals;

namespace relay::portal {
void PrintTo(const Action& action, std::ostream* os) {
  if (auto* text = std::get_if<SendText>(&action)) *os << "SendText{" << text->json << "}";
  if (std::holds_alternative<Close>(action)) *os << "Close{}";
  if (auto* later = std::get_if<ConnectAfter>(&action)) *os << "ConnectAfter{" << later->delay.count() << "ns}";
}
void PrintTo(const SessionEvent& event, std::ostream* os) {
  if (std::holds_alternative<Joined>(event)) *os << "Joined{}";
  if (auto* failed = std::get_if<JoinFailed>(&event)) *os << "JoinFailed{" << failed->reason << "}";
  if (auto* init = std::get_if<Init>(&event)) *os << "Init{" << init->payload.dump() << "}";
  if (auto* gone = std::get_if<Disconnected>(&event)) *os << "Disconnected{" << gone->reason << "}";
}
}  // namespace relay::portal

namespace {

constexpr std::string_view kSecret = "stamp-s3cret";
const Instant t0 = Instant{1000s};

struct LogLine {
  LogLevel level;
  std::string message;
  std::string fields;  // "key=value " pairs
};

class Session : public ::testing::Test {
 protected:
  explicit Session(PhoenixSession::Random random = [] { return uint64_t{0}; })
      : session_(SessionTiming{}, std::string(kSecret), std::move(random),
                 [this](LogLevel level, std::string_view message, std::span<const LogField> fields) {
                   std::string all;
                   for (const auto& f : fields) all.append(f.key).append("=").append(f.value).append(" ");
                   logs_.push_back({level, std::string(message), all});
                 }) {}

  std::vector<Action> actions() {
    std::vector<Action> out;
    while (auto a = session_.next_action()) out.push_back(std::move(*a));
    return out;
  }
  std::vector<SessionEvent> events() {
    std::vector<SessionEvent> out;
    while (auto e = session_.next_event()) out.push_back(std::move(*e));
    return out;
  }
  void expect_nothing_left() {
    EXPECT_EQ(actions(), std::vector<Action>{});
    EXPECT_EQ(events(), std::vector<SessionEvent>{});
  }
  // start + connected + join reply ok, at t0; leaves nothing queued.
  void join(Instant at = t0) {
    session_.start(at);
    session_.connected(at);
    (void)actions();
    session_.text_frame(R"({"topic":"relay","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"1"})",
                        at);
    EXPECT_EQ(events(), std::vector<SessionEvent>{Joined{}});
    expect_nothing_left();
  }
  static std::string heartbeat(int ref) {
    return R"({"topic":"phoenix","event":"heartbeat","payload":{},"ref":")" + std::to_string(ref) + R"("})";
  }
  static std::string heartbeat_reply(int ref) {
    return R"({"topic":"phoenix","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":")" +
           std::to_string(ref) + R"("})";
  }
  size_t logs_containing(std::string_view needle) const {
    size_t n = 0;
    for (const auto& line : logs_) n += line.message.find(needle) != std::string::npos;
    return n;
  }
  // The ConnectAfter that must end a failure, after an optional Close.
  Duration reconnect_delay(bool expect_close) {
    auto out = actions();
    EXPECT_EQ(out.size(), expect_close ? 2u : 1u);
    if (expect_close && !out.empty()) {
      EXPECT_EQ(out.front(), Action{Close{}});
    }
    auto* later = out.empty() ? nullptr : std::get_if<ConnectAfter>(&out.back());
    EXPECT_NE(later, nullptr);
    auto evs = events();
    EXPECT_EQ(evs.size(), 1u);
    auto* gone = evs.empty() ? nullptr : std::get_if<Disconnected>(&evs.back());
    EXPECT_NE(gone, nullptr);
    if (later == nullptr || gone == nullptr) return -1s;
    EXPECT_EQ(gone->retry_in, later->delay);
    return later->delay;
  }

  PhoenixSession session_;
  std::vector<LogLine> logs_;
};

class SeededSession : public Session {
 protected:
  SeededSession() : Session([rng = std::mt19937_64{7}]() mutable { return rng(); }) {}
};

// 30 s as a raw random value: the delay stays below 1 s only while the
// backoff ceiling is 1 s, so it tells a reset ceiling from a grown one.
class ThirtySecondRandomSession : public Session {
 protected:
  ThirtySecondRandomSession() : Session([] { return uint64_t{30'000'000'000}; }) {}
};

}  // namespace

TEST_F(Session, StartAsksToConnectAtOnce) {
  session_.start(t0);
  EXPECT_EQ(actions(), std::vector<Action>{ConnectAfter{0s}});
  EXPECT_EQ(session_.poll_timeout(), std::nullopt);
  expect_nothing_left();
}

TEST_F(Session, ConnectedSendsJoinOnTopicRelayWithTheStampSecret) {
  session_.start(t0);
  (void)actions();
  session_.connected(t0);
  EXPECT_EQ(actions(), std::vector<Action>{SendText{
                           R"({"topic":"relay","event":"phx_join","payload":{"stamp_secret":"stamp-s3cret"},"ref":"1"})"}});
  EXPECT_EQ(session_.poll_timeout(), t0 + 5s);  // the join timeout comes before the first beat
  EXPECT_EQ(session_.state(), PhoenixSession::State::Open);
  expect_nothing_left();
}

TEST_F(Session, JoinReplyOkReportsJoinedAndInitReportsItsPayload) {
  join();
  EXPECT_EQ(session_.state(), PhoenixSession::State::Joined);
  session_.text_frame(R"({"topic":"relay","event":"init","payload":{"relays":[1,2]},"ref":null})", t0 + 1s);
  EXPECT_EQ(events(), std::vector<SessionEvent>{Init{nlohmann::json::parse(R"({"relays":[1,2]})")}});
  expect_nothing_left();
}

TEST_F(Session, JoinReplyWithNumericRefStillMatches) {
  session_.start(t0);
  session_.connected(t0);
  (void)actions();
  session_.text_frame(R"({"topic":"relay","event":"phx_reply","payload":{"status":"ok"},"ref":1})", t0);
  EXPECT_EQ(events(), std::vector<SessionEvent>{Joined{}});
}

TEST_F(Session, JoinReplyErrorReportsJoinFailedThenClosesAndReconnectsWithinOneSecond) {
  session_.start(t0);
  session_.connected(t0);
  (void)actions();
  session_.text_frame(
      R"({"topic":"relay","event":"phx_reply","payload":{"status":"error","response":{"reason":"unauthorized"}},"ref":"1"})",
      t0 + 1s);
  EXPECT_EQ(actions(), (std::vector<Action>{Close{}, ConnectAfter{0s}}));
  auto evs = events();
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[0], SessionEvent{JoinFailed{"unauthorized"}});
  ASSERT_TRUE(std::holds_alternative<Disconnected>(evs[1]));
  EXPECT_EQ(std::get<Disconnected>(evs[1]).reason, "join refused: unauthorized");
  EXPECT_EQ(session_.state(), PhoenixSession::State::Connecting);
  EXPECT_EQ(session_.poll_timeout(), std::nullopt);
  expect_nothing_left();
}

TEST_F(Session, HeartbeatGoesOutEveryTenSecondsWhileRepliesArrive) {
  join();
  session_.timeout(t0 + 9s);
  expect_nothing_left();
  int ref = 2;
  for (int beat = 1; beat <= 10; ++beat) {
    const auto at = t0 + beat * 10s;
    EXPECT_EQ(session_.poll_timeout(), at);
    session_.timeout(at);
    EXPECT_EQ(actions(), std::vector<Action>{SendText{heartbeat(ref)}});
    session_.text_frame(heartbeat_reply(ref), at + 50ms);
    ++ref;
    expect_nothing_left();
  }
  EXPECT_EQ(session_.state(), PhoenixSession::State::Joined);
}

TEST_F(Session, ThreeHeartbeatsInARowUnansweredCloseAndReconnectAtTheFourthBeat) {
  join();
  for (int beat = 1; beat <= 3; ++beat) {
    session_.timeout(t0 + beat * 10s);
    EXPECT_EQ(actions(), std::vector<Action>{SendText{heartbeat(beat + 1)}});
    expect_nothing_left();
  }
  session_.timeout(t0 + 39s);
  expect_nothing_left();
  session_.timeout(t0 + 40s);
  EXPECT_LE(reconnect_delay(/*expect_close=*/true), 1s);
  EXPECT_EQ(logs_containing("portal connection lost"), 1u);
  EXPECT_EQ(session_.poll_timeout(), std::nullopt);
  // A late reply for the dead connection changes nothing.
  session_.text_frame(heartbeat_reply(2), t0 + 41s);
  expect_nothing_left();
}

TEST_F(Session, ALateReplyToAnyOutstandingBeatKeepsTheConnection) {
  join();
  session_.timeout(t0 + 10s);
  session_.timeout(t0 + 20s);
  session_.timeout(t0 + 30s);
  EXPECT_EQ(actions(), (std::vector<Action>{SendText{heartbeat(2)}, SendText{heartbeat(3)}, SendText{heartbeat(4)}}));
  session_.text_frame(heartbeat_reply(2), t0 + 35s);
  session_.timeout(t0 + 40s);
  EXPECT_EQ(actions(), std::vector<Action>{SendText{heartbeat(5)}});
  expect_nothing_left();
  EXPECT_EQ(session_.state(), PhoenixSession::State::Joined);
}

TEST_F(Session, UnansweredJoinCountsAsADeadConnectionAfterTheJoinTimeout) {
  session_.start(t0);
  session_.connected(t0);
  (void)actions();
  session_.timeout(t0 + 4s);
  expect_nothing_left();
  session_.timeout(t0 + 5s);
  (void)reconnect_delay(/*expect_close=*/true);
  EXPECT_EQ(logs_containing("portal connection lost"), 1u);
  EXPECT_EQ(session_.state(), PhoenixSession::State::Connecting);
}

TEST_F(Session, RetryAfterOnARefusedUpgradeDelaysTheReconnectAtLeastThatLong) {
  session_.start(t0);
  (void)actions();
  session_.disconnected({DisconnectKind::UpgradeRefused, "HTTP 429", 42s}, t0);
  EXPECT_EQ(reconnect_delay(false), 42s);
  session_.disconnected({DisconnectKind::UpgradeRefused, "HTTP 503"}, t0 + 42s);
  EXPECT_LE(reconnect_delay(false), 2s);  // without the header, the backoff alone
}

TEST(RetryAfter, DeltaSecondsAreHonouredUpToAnHourAndAnythingElseIsIgnored) {
  EXPECT_EQ(parse_retry_after("120"), Duration{120s});
  EXPECT_EQ(parse_retry_after(" 0 "), Duration{0s});
  EXPECT_EQ(parse_retry_after("86400"), kMaxRetryAfter);
  EXPECT_EQ(parse_retry_after("99999999999999999999999"), kMaxRetryAfter);
  EXPECT_EQ(parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT"), std::nullopt);
  EXPECT_EQ(parse_retry_after("-5"), std::nullopt);
  EXPECT_EQ(parse_retry_after(""), std::nullopt);
  EXPECT_EQ(parse_retry_after("12s"), std::nullopt);
}

TEST_F(Session, ASecondInitOnOneConnectionIsIgnoredAndLoggedOnce) {
  join();
  for (int i = 0; i < 3; ++i) session_.text_frame(R"({"topic":"relay","event":"init","payload":{}})", t0 + 1s);
  EXPECT_EQ(events(), std::vector<SessionEvent>{Init{nlohmann::json::object()}});
  expect_nothing_left();
  EXPECT_EQ(logs_containing("repeated init"), 1u);
}

TEST_F(Session, PortalClosingOrErroringTheChannelClosesAndReconnects) {
  for (std::string_view event : {"phx_close", "phx_error"}) {
    join(t0);
    session_.text_frame(R"({"topic":"relay","event":")" + std::string(event) + R"(","payload":{},"ref":"1"})",
                        t0 + 1s);
    (void)reconnect_delay(/*expect_close=*/true);
    session_.connected(t0 + 2s);
    (void)actions();
    session_.disconnected({DisconnectKind::Transport, "eof"}, t0 + 3s);
    (void)reconnect_delay(false);
    session_ = PhoenixSession(SessionTiming{}, std::string(kSecret), [] { return uint64_t{0}; }, {});
  }
}

TEST_F(SeededSession, FailedAttemptsBackOffWithinFullJitterBoundsUpToTheCap) {
  session_.start(t0);
  (void)actions();
  auto now = t0;
  for (int n = 0; n < 12; ++n) {
    session_.disconnected({DisconnectKind::Connect, "connection refused"}, now);
    const auto delay = reconnect_delay(false);
    const Duration bound = std::min<Duration>(60s, Duration{1s} * (1LL << n));
    EXPECT_GE(delay, 0s) << "attempt " << n;
    EXPECT_LE(delay, bound) << "attempt " << n;
    now = now + delay;
  }
}

TEST_F(ThirtySecondRandomSession, HealthyConnectionResetsTheBackoffAndAShortOneDoesNot) {
  session_.start(t0);
  (void)actions();
  for (int n = 0; n < 6; ++n) {
    session_.disconnected({DisconnectKind::Connect, "refused"}, t0);
    (void)reconnect_delay(false);
  }
  // Joined but only 59 s up: not healthy, the ceiling stays at 60 s.
  session_.connected(t0);
  (void)actions();
  session_.text_frame(R"({"topic":"relay","event":"phx_reply","payload":{"status":"ok"},"ref":"1"})", t0);
  (void)events();
  session_.disconnected({DisconnectKind::Transport, "eof"}, t0 + 29s);
  EXPECT_EQ(reconnect_delay(false), 30s);
  // Joined and up for 60 s: healthy, the next delay is drawn from [0, 1 s].
  const auto later = t0 + 100s;
  session_.connected(later);
  (void)actions();
  session_.text_frame(R"({"topic":"relay","event":"phx_reply","payload":{"status":"ok"},"ref":"2"})", later);
  (void)events();
  session_.timeout(later + 10s);
  (void)actions();
  session_.text_frame(heartbeat_reply(3), later + 10s);
  session_.disconnected({DisconnectKind::ClosedByPortal, "close code 1001"}, later + 60s);
  EXPECT_LT(reconnect_delay(false), 1s);
}

TEST_F(ThirtySecondRandomSession, ConnectionThatNeverJoinedDoesNotResetTheBackoffHoweverLongItLasted) {
  session_.start(t0);
  (void)actions();
  for (int n = 0; n < 6; ++n) {
    session_.disconnected({DisconnectKind::Connect, "refused"}, t0);
    (void)reconnect_delay(false);
  }
  session_.connected(t0);
  (void)actions();
  session_.disconnected({DisconnectKind::Transport, "eof"}, t0 + 20s);
  EXPECT_EQ(reconnect_delay(false), 30s);
}

TEST_F(Session, UpgradeRefusedWith401IsLoggedAsALikelyBadTokenAndRetried) {
  session_.start(t0);
  (void)actions();
  session_.disconnected({DisconnectKind::Unauthorized, "HTTP 401"}, t0);
  EXPECT_EQ(reconnect_delay(false), 0s);
  EXPECT_EQ(logs_containing("token is likely wrong"), 1u);
  EXPECT_EQ(session_.state(), PhoenixSession::State::Connecting);
}

TEST_F(Session, UnknownEventsAreLoggedOncePerNameAndIgnored) {
  join();
  const auto before = logs_.size();
  for (int i = 0; i < 3; ++i) {
    session_.text_frame(R"({"topic":"relay","event":"presence_diff","payload":{},"ref":null})", t0 + 1s);
    session_.text_frame(R"({"topic":"other","event":"mystery","payload":{}})", t0 + 1s);
  }
  expect_nothing_left();
  ASSERT_EQ(logs_.size(), before + 2);
  EXPECT_EQ(logs_[before].fields, "event=presence_diff ");
  EXPECT_EQ(logs_[before + 1].fields, "event=mystery ");
  EXPECT_EQ(session_.state(), PhoenixSession::State::Joined);
}

TEST_F(Session, EndlessInventedEventNamesStopBeingRememberedAtTheCap) {
  join();
  const auto before = logs_.size();
  for (int i = 0; i < 1000; ++i) {
    session_.text_frame(R"({"topic":"relay","event":"e)" + std::to_string(i) + R"(","payload":{}})", t0);
  }
  EXPECT_EQ(logs_.size() - before, 64u);
  expect_nothing_left();
}

TEST_F(Session, MalformedMessagesAreLoggedAndIgnored) {
  join();
  const auto before = logs_.size();
  for (std::string_view junk : {"", "{not json", "[1,2,3]", "null", R"({"topic":1,"event":"init"})",
                                R"({"topic":"relay"})", "\xff\xfe", R"({"topic":"relay","event":"phx_reply"})"}) {
    session_.text_frame(junk, t0 + 1s);
  }
  expect_nothing_left();
  EXPECT_EQ(logs_containing("malformed"), 7u);  // the last one is well-formed: a reply without ref
  EXPECT_EQ(logs_.size(), before + 7);
  EXPECT_EQ(session_.state(), PhoenixSession::State::Joined);
}

TEST_F(Session, MessagesNestedDeeperThan32LevelsAreRefusedBeforeParsingAndCounted) {
  join();
  auto init_nested = [](size_t depth) {  // the payload is level 2, so `depth` levels in all
    return R"({"topic":"relay","event":"init","payload":)" + std::string(depth - 1, '[') +
           std::string(depth - 1, ']') + "}";
  };
  session_.text_frame(init_nested(32), t0 + 1s);
  auto evs = events();
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<Init>(evs[0]));
  EXPECT_EQ(logs_containing("nested too deeply"), 0u);

  session_.text_frame(init_nested(33), t0 + 2s);
  session_.text_frame(std::string(1 << 20, '['), t0 + 3s);  // the WebSocket's bound, all brackets
  expect_nothing_left();
  ASSERT_EQ(logs_containing("nested too deeply"), 2u);
  EXPECT_NE(logs_.back().fields.find("bytes=1048576 max_depth=32 too_deep_so_far=2"), std::string::npos)
      << logs_.back().fields;
  EXPECT_EQ(session_.state(), PhoenixSession::State::Joined);

  // Brackets inside strings (escaped quotes included) are text, not depth.
  session_.text_frame(R"({"topic":"relay","event":"presence_diff","payload":{"s":"\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}})",
                      t0 + 4s);
  expect_nothing_left();
  EXPECT_EQ(logs_containing("unknown event"), 1u);  // parsed, so its name was read
  EXPECT_EQ(logs_containing("nested too deeply"), 2u);
}

TEST_F(Session, InputsForNoConnectionAreIgnored) {
  session_.disconnected({DisconnectKind::Transport, "stale"}, t0);
  session_.connected(t0);
  session_.text_frame(R"({"topic":"relay","event":"init","payload":{}})", t0);
  session_.timeout(t0 + 1h);
  expect_nothing_left();
  EXPECT_EQ(session_.state(), PhoenixSession::State::Idle);
}

TEST_F(Session, TheStampSecretNeverAppearsInLogs) {
  join();
  session_.text_frame(R"({"topic":"relay","event":"phx_reply","payload":{"status":"ok"},"ref":"99"})", t0);
  session_.text_frame("{oops", t0);
  session_.disconnected({DisconnectKind::Unauthorized, "HTTP 403"}, t0 + 1s);
  ASSERT_FALSE(logs_.empty());
  for (const auto& line : logs_) {
    EXPECT_EQ(line.message.find(kSecret), std::string::npos);
    EXPECT_EQ(line.fields.find(kSecret), std::string::npos);
  }
}

TEST_F(Session, AfterADeadConnectionTheNextOneJoinsAgainWithAFreshRefAndItsOwnHeartbeatClock) {
  join();
  for (auto at : {10s, 20s, 30s}) session_.timeout(t0 + at);
  (void)actions();
  session_.timeout(t0 + 40s);
  const auto delay = reconnect_delay(/*expect_close=*/true);
  const auto again = t0 + 40s + delay + 200ms;
  session_.connected(again);
  EXPECT_EQ(actions(), std::vector<Action>{SendText{
                           R"({"topic":"relay","event":"phx_join","payload":{"stamp_secret":"stamp-s3cret"},"ref":"5"})"}});
  EXPECT_EQ(session_.poll_timeout(), again + 5s);
  session_.text_frame(R"({"topic":"relay","event":"phx_reply","payload":{"status":"ok"},"ref":"5"})", again);
  EXPECT_EQ(events(), std::vector<SessionEvent>{Joined{}});
  EXPECT_EQ(session_.poll_timeout(), again + 10s);
  session_.text_frame(R"({"topic":"relay","event":"init","payload":{"n":2}})", again);
  EXPECT_EQ(events(), std::vector<SessionEvent>{Init{nlohmann::json::parse(R"({"n":2})")}});
  expect_nothing_left();
}

TEST_F(Session, InitCountsOnlyOnTopicRelay) {
  join();
  session_.text_frame(R"({"topic":"phoenix","event":"init","payload":{}})", t0);
  expect_nothing_left();
  EXPECT_EQ(logs_containing("unknown event"), 1u);
}

TEST_F(Session, ReplyToTheOldJoinRefAfterReconnectingIsIgnored) {
  session_.start(t0);
  session_.connected(t0);
  (void)actions();
  session_.disconnected({DisconnectKind::Transport, "eof"}, t0 + 1s);
  (void)reconnect_delay(false);
  session_.connected(t0 + 2s);
  (void)actions();
  session_.text_frame(R"({"topic":"relay","event":"phx_reply","payload":{"status":"ok"},"ref":"1"})", t0 + 2s);
  expect_nothing_left();
  EXPECT_EQ(session_.state(), PhoenixSession::State::Open);
}
