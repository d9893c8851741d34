#include "dataplane/process/stream_tap.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace relay::dpprocess {

namespace {

void plan_family(StreamKernelPlan& plan, const RelayConfig& config, const IpAddress& address, bool v6) {
  const std::string& dev = config.stream.interface;
  const std::string table = std::to_string(config.stream.routing_table);
  const std::string priority = std::to_string(kStreamRulePriority);
  const std::string flag = v6 ? "-6" : "-4";
  const std::string text = address.to_string();
  Argv add_address = {"ip", flag, "addr", "add", text + (v6 ? "/128" : "/32"), "dev", dev};
  if (v6) add_address.emplace_back("nodad");  // no DAD: nobody else is on this link
  const Argv rule = {"ip", flag, "rule", "del", "from", text, "lookup", table, "priority", priority};
  Argv add_rule = rule;
  add_rule[3] = "add";
  plan.setup.push_back(std::move(add_address));
  plan.setup.push_back(add_rule);
  plan.setup.push_back({"ip", flag, "route", "replace", "default", "dev", dev, "table", table});
  plan.stale.push_back(rule);
  plan.teardown.push_back(rule);
}

}  // namespace

StreamKernelPlan plan_stream_kernel(const RelayConfig& config, uint16_t mtu) {
  StreamKernelPlan plan;
  const std::string& dev = config.stream.interface;
  const std::string v6conf = "/proc/sys/net/ipv6/conf/" + dev + "/";
  if (config.relay.ipv6) {
    plan.sysctls.emplace_back(v6conf + "addr_gen_mode", "1");  // IN6_ADDR_GEN_MODE_NONE: no link-local
    plan.sysctls.emplace_back(v6conf + "accept_ra", "0");
    plan.sysctls.emplace_back(v6conf + "router_solicitations", "0");
  } else {
    plan.sysctls.emplace_back(v6conf + "disable_ipv6", "1");
  }
  plan.sysctls.emplace_back("/proc/sys/net/ipv4/conf/" + dev + "/rp_filter", "0");
  // NOARP: the kernel sends every frame to the TAP's own MAC without
  // asking; the data plane puts the real next hop's on it.
  plan.setup.push_back({"ip", "link", "set", "dev", dev, "mtu", std::to_string(mtu), "arp", "off", "up"});
  if (config.relay.ipv4) plan_family(plan, config, config.relay.ipv4->address, false);
  if (config.relay.ipv6) plan_family(plan, config, config.relay.ipv6->address, true);
  return plan;
}

std::string command_text(const Argv& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out;
}

Result<void, std::string> run_command(const Argv& argv) {
  if (argv.empty()) return Err{std::string("empty command")};
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int err[2];
  if (pipe2(err, O_CLOEXEC) != 0) return Err{"pipe: " + std::string(std::strerror(errno))};
  const pid_t pid = fork();
  if (pid < 0) {
    close(err[0]);
    close(err[1]);
    return Err{"fork: " + std::string(std::strerror(errno))};
  }
  if (pid == 0) {
    // The child of a multi-threaded process: only async-signal-safe calls.
    dup2(err[1], STDERR_FILENO);
    const int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, STDIN_FILENO);
      dup2(null, STDOUT_FILENO);
    }
    execvp(args[0], args.data());
    _exit(127);
  }
  close(err[1]);
  std::string stderr_text;
  std::array<char, 512> buf{};
  ssize_t n;
  while ((n = read(err[0], buf.data(), buf.size())) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (stderr_text.size() < 4096) stderr_text.append(buf.data(), static_cast<size_t>(n));
  }
  close(err[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Err{"waitpid: " + std::string(std::strerror(errno))};
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  while (!stderr_text.empty() && (stderr_text.back() == '\n' || stderr_text.back() == ' ')) stderr_text.pop_back();
  std::string why = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                      : "signal " + std::to_string(WTERMSIG(status));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && stderr_text.empty()) why += " (not found)";
  return Err{command_text(argv) + ": " + why + (stderr_text.empty() ? "" : ": " + stderr_text)};
}

}  // namespace relay::dpprocess
