#include "common/config/command_line.hpp"

#include <CLI/CLI.hpp>

namespace relay::config_detail {
namespace {

std::string option_text(const Key& key) {
  std::string text = " " + std::string(kind_words(key.behaviour.kind).label);
  auto def = default_text(key);
  if (!def.empty()) text += " [" + def + "]";
  return text + " (env: " + env_names(key) + ")";
}

void add_options(CLI::App& app, std::map<const Key*, CLI::Option*>& options) {
  for (const auto& key : schema()) {
    std::string section(key.path.substr(0, key.path.find('.')));
    CLI::Option* opt = nullptr;
    if (key.behaviour.kind == Kind::Bool) {
      opt = app.add_flag(std::string(key.flag));
    } else {
      opt = app.add_option(std::string(key.flag));
    }
    opt->description(std::string(key.help));
    bool list = key.behaviour.kind == Kind::StringList || key.behaviour.kind == Kind::IntList;
    opt->multi_option_policy(list ? CLI::MultiOptionPolicy::TakeAll
                                  : CLI::MultiOptionPolicy::TakeLast);
    opt->type_name(std::string(kind_words(key.behaviour.kind).label));
    opt->group("[" + section + "]")->option_text(option_text(key));
    options[&key] = opt;
  }
}

// The first thing CLI11 did not consume, as an error line. A value glued
// to an unknown flag is cut off: it may be a mistyped secret.
std::string unexpected(const std::string& arg) {
  if (arg.starts_with("-")) return printable(arg.substr(0, arg.find('='))) + ": unknown flag";
  return shown(arg) + ": unexpected argument (every setting is a --flag)";
}

}  // namespace

Result<CommandLine, ConfigError> parse_command_line(int argc, const char* const* argv,
                                                    std::string_view program) {
  CLI::App app{
      "A STUN/TURN relay on DPDK. Every setting comes from, in order of precedence, a "
      "--flag, an environment variable, the TOML file named by --config, or its default.",
      std::string(program)};
  app.allow_extras();
  app.get_formatter()->column_width(46);
  auto* config = app.add_option("--config")
                     ->description("The TOML configuration file.")
                     ->option_text(" FILE (env: CONFIG)");
  auto* version = app.add_flag("--version")->description("Print the version, git revision and DPDK version; exit.");
  auto* check = app.add_flag("--check")->description(
      "Check the configuration as a start would (every key, the secret and users files), print \"ok\" and "
      "exit 0, or the error and exit 2; starts nothing.");
  std::map<const Key*, CLI::Option*> options;
  add_options(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return Err{ConfigError{ConfigError::Kind::HelpRequested, app.help()}};
  } catch (const CLI::ParseError& e) {
    return Err{ConfigError{ConfigError::Kind::Invalid, printable(e.what())}};
  }
  if (!app.remaining().empty())
    return Err{ConfigError{ConfigError::Kind::Invalid, unexpected(app.remaining().front())}};
  CommandLine line;
  line.version = version->count() > 0;
  line.check = check->count() > 0;
  if (config->count() > 0) line.config = config->results().back();
  for (auto [key, opt] : options) {
    if (opt->count() > 0) line.values[key] = opt->results();
  }
  return line;
}

}  // namespace relay::config_detail
