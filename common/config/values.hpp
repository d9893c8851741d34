// Values as they arrive from a TOML file, an environment variable or a
// flag, before a key's own checks; and the quoting every error line uses.
// Internal to the loader (common/config/): the public API is common/config.hpp.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.hpp"

namespace relay::config_detail {

enum class Kind : uint8_t { Bool, Int, String, StringList, IntList };

struct Integer {
  bool negative = false;
  uint64_t magnitude = 0;
  [[nodiscard]] std::string text() const;
};

// How --help labels a kind of value ("INT ...") and how an error line
// names it ("an array of integers").
struct KindWords {
  std::string_view label;
  std::string_view name;
};
KindWords kind_words(Kind kind);

// monostate: an empty environment variable or flag value for an integer key,
// which unsets an optional one.
using Input = std::variant<std::monostate, bool, Integer, std::string, std::vector<std::string>>;

// What is wrong with one value; `item` points into a list.
struct Problem {
  std::string what;
  std::optional<size_t> item;
};
using Check = std::optional<Problem>;

Check problem(std::string what);

// Space-separated, as lists show in --help and as the environment takes them.
void append_item(std::string& out, std::string_view item);

// A string as it appears in an error line: quoted, escaped, bounded.
std::string shown(std::string_view s);

// Keys and quoted TOML keys may hold anything; an error stays one line.
std::string printable(std::string_view s);

std::optional<uint64_t> parse_decimal(std::string_view s);
std::optional<Integer> parse_integer(std::string_view s);
std::optional<bool> parse_bool(std::string_view s);
std::vector<std::string> split_whitespace(std::string_view s);

// Environment variables and flags are text; `items` holds one string per
// flag occurrence (lists) or the single value (everything else).
Result<Input, std::string> input_from_text(Kind kind, const std::vector<std::string>& items,
                                           bool is_env);

std::string_view toml_type_name(toml::node_type t);

// A TOML value of the expected type, or what is wrong and which node says so.
struct TomlProblem {
  std::string what;
  const toml::node* where;
};

Result<Input, TomlProblem> input_from_toml(Kind kind, const toml::node& node);

}  // namespace relay::config_detail
