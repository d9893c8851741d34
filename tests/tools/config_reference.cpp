// README.md's configuration table is config_reference_markdown(), the
// schema in common/config/schema.cpp rendered, pasted between two marker lines.
// This tool prints it, rewrites README's copy, or checks that the copy is
// exact (the `config-reference` unit test), so the table cannot drift from
// the schema:
//
//   config-reference                   print the table
//   config-reference --check README    exit 1, saying how to regenerate, when README differs
//   config-reference --write README    replace README's table (scripts/config-reference)
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "common/config.hpp"

namespace {

using relay::Err;
using relay::Result;

constexpr std::string_view kBegin = "<!-- config-reference:begin";
constexpr std::string_view kEnd = "<!-- config-reference:end -->";
constexpr std::string_view kRegenerate = "scripts/config-reference";

// The table's place in README: from the line after the begin marker to the
// start of the end marker's line. A blank line on either side of the table
// keeps markdown renderers from reading a marker as part of it.
struct Region {
  size_t begin = 0;
  size_t end = 0;
};

Result<std::string, std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Err{path + ": cannot read"};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t line_starting(std::string_view text, std::string_view marker, size_t from) {
  for (size_t at = text.find(marker, from); at != std::string_view::npos; at = text.find(marker, at + 1))
    if (at == 0 || text[at - 1] == '\n') return at;
  return std::string_view::npos;
}

Result<Region, std::string> find_region(std::string_view readme, const std::string& path) {
  const size_t begin_line = line_starting(readme, kBegin, 0);
  if (begin_line == std::string_view::npos)
    return Err{path + ": no line starting with \"" + std::string(kBegin) + "\" before the configuration table"};
  const size_t after_begin = readme.find('\n', begin_line);
  if (after_begin == std::string_view::npos) return Err{path + ": nothing follows the begin marker"};
  const size_t end_line = line_starting(readme, kEnd, after_begin + 1);
  if (end_line == std::string_view::npos)
    return Err{path + ": no line \"" + std::string(kEnd) + "\" after the begin marker"};
  return Region{after_begin + 1, end_line};
}

// "line N: expected ... / found ..." for the first line that differs,
// N counted in README.
std::string first_difference(std::string_view readme, const Region& region, std::string_view generated) {
  std::string_view found = readme.substr(region.begin, region.end - region.begin);
  size_t line = 1;
  for (char c : readme.substr(0, region.begin)) line += c == '\n';
  auto next_line = [](std::string_view& text) {
    const size_t nl = text.find('\n');
    std::string_view head = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    return head;
  };
  while (!found.empty() || !generated.empty()) {
    const std::string_view want = next_line(generated), have = next_line(found);
    if (want != have)
      return "line " + std::to_string(line) + ":\n  expected: " + std::string(want.empty() ? "(nothing)" : want) +
             "\n  found:    " + std::string(have.empty() ? "(nothing)" : have);
    ++line;
  }
  return "";
}

int usage() {
  std::fprintf(stderr, "usage: config-reference [--check FILE | --write FILE]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string table = relay::config_reference_markdown();
  if (argc == 1) {
    std::fputs(table.c_str(), stdout);
    return 0;
  }
  if (argc != 3) return usage();
  const std::string block = "\n" + table + "\n";
  const std::string_view mode = argv[1];
  const std::string path = argv[2];
  if (mode != "--check" && mode != "--write") return usage();
  auto readme = read_file(path);
  if (!readme) {
    std::fprintf(stderr, "%s\n", readme.error().c_str());
    return 2;
  }
  auto region = find_region(readme.value(), path);
  if (!region) {
    std::fprintf(stderr, "%s\n", region.error().c_str());
    return 2;
  }
  const std::string_view current = std::string_view(readme.value()).substr(
      region.value().begin, region.value().end - region.value().begin);
  if (current == block) {
    if (mode == "--write") std::printf("%s: the configuration table is up to date\n", path.c_str());
    return 0;
  }
  if (mode == "--check") {
    std::fprintf(stderr,
                 "%s: the configuration table differs from the schema in common/config/schema.cpp at %s\n"
                 "Regenerate it with %s (it rewrites the table between the config-reference markers).\n",
                 path.c_str(), first_difference(readme.value(), region.value(), block).c_str(),
                 kRegenerate.data());
    return 1;
  }
  std::string updated = readme.value();
  updated.replace(region.value().begin, region.value().end - region.value().begin, block);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << updated;
  out.close();
  if (!out) {
    std::fprintf(stderr, "%s: cannot write\n", path.c_str());
    return 2;
  }
  std::printf("%s: the configuration table was rewritten from the schema\n", path.c_str());
  return 0;
}
