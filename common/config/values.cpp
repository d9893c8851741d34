#include "common/config/values.hpp"

#include <charconv>
#include <sstream>

#include "common/log.hpp"

namespace relay::config_detail {

// Appended rather than `"-" + digits`, of which GCC 12 warns a false -Wrestrict.
std::string Integer::text() const {
  std::string out = negative ? "-" : "";
  out += std::to_string(magnitude);
  return out;
}

Check problem(std::string what) { return Problem{std::move(what), std::nullopt}; }

void append_item(std::string& out, std::string_view item) {
  if (!out.empty()) out += ' ';
  out += item;
}

// A string as it appears in an error line: quoted, escaped, bounded.
std::string shown(std::string_view s) {
  constexpr size_t kMax = 64;
  std::string out = "\"";
  log::append_json_escaped(out, s.substr(0, kMax));
  out += s.size() > kMax ? "...\"" : "\"";
  return out;
}

std::string printable(std::string_view s) {
  std::string out;
  log::append_json_escaped(out, s);
  return out;
}

std::optional<uint64_t> parse_decimal(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<Integer> parse_integer(std::string_view s) {
  bool negative = !s.empty() && s.front() == '-';
  auto magnitude = parse_decimal(negative ? s.substr(1) : s);
  if (!magnitude) return std::nullopt;
  return Integer{negative, *magnitude};
}

std::optional<bool> parse_bool(std::string_view s) {
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  return std::nullopt;
}

std::vector<std::string> split_whitespace(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

Result<Input, std::string> input_from_text(Kind kind, const std::vector<std::string>& items,
                                           bool is_env) {
  const std::string& last = items.back();
  switch (kind) {
    case Kind::Bool:
      if (auto b = parse_bool(last)) return Input{*b};
      return Err{shown(last) + " is not a boolean (true or false)"};
    case Kind::Int:
      if (last.empty()) return Input{std::monostate{}};
      if (auto i = parse_integer(last)) return Input{*i};
      return Err{shown(last) + " is not an integer"};
    case Kind::String:
      return Input{last};
    case Kind::StringList:
    case Kind::IntList:
      break;
  }
  std::vector<std::string> list;
  for (const auto& item : items) {
    auto words = is_env ? split_whitespace(item) : std::vector<std::string>{item};
    list.insert(list.end(), words.begin(), words.end());
  }
  return Input{std::move(list)};
}

std::string_view toml_type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

KindWords kind_words(Kind kind) {
  switch (kind) {
    case Kind::Bool:
      return {"BOOL", "a boolean"};
    case Kind::Int:
      return {"INT", "an integer"};
    case Kind::String:
      return {"TEXT", "a string"};
    case Kind::StringList:
      return {"TEXT ...", "an array of strings"};
    case Kind::IntList:
      return {"INT ...", "an array of integers"};
  }
  return {"", ""};
}

Result<Input, TomlProblem> input_from_toml(Kind kind, const toml::node& node) {
  auto wrong = [&](const toml::node& n, std::string_view expected) {
    return Err{TomlProblem{
        "expected " + std::string(expected) + ", got " + std::string(toml_type_name(n.type())),
        &n}};
  };
  switch (kind) {
    case Kind::Bool:
      if (auto b = node.value<bool>(); b && node.is_boolean()) return Input{*b};
      return wrong(node, kind_words(kind).name);
    case Kind::Int:
      if (const auto* i = node.as_integer()) {
        int64_t v = i->get();
        return Input{Integer{
            v < 0, v < 0 ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v)}};
      }
      return wrong(node, kind_words(kind).name);
    case Kind::String:
      if (const auto* s = node.as_string()) return Input{s->get()};
      return wrong(node, kind_words(kind).name);
    case Kind::StringList:
    case Kind::IntList:
      break;
  }
  const auto* array = node.as_array();
  if (array == nullptr) return wrong(node, kind_words(kind).name);
  std::vector<std::string> list;
  for (const auto& element : *array) {
    if (kind == Kind::StringList && element.is_string()) {
      list.push_back(element.as_string()->get());
    } else if (kind == Kind::IntList && element.is_integer()) {
      list.push_back(std::to_string(element.as_integer()->get()));
    } else {
      return wrong(element, kind == Kind::StringList ? "a string" : "an integer");
    }
  }
  return Input{std::move(list)};
}

}  // namespace relay::config_detail
