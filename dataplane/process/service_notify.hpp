// Tells systemd (Type=notify) that the data plane is ready, without
// libsystemd: the protocol is one datagram ("READY=1") on the unix socket
// named by $NOTIFY_SOCKET (sd_notify(3)), and linking a library for it
// would add a dependency to every non-systemd host.
#pragma once

#include <string>
#include <string_view>

#include "common/result.hpp"

namespace relay::dpprocess {

// Sends `state` (e.g. "READY=1") to $NOTIFY_SOCKET; nothing when it is
// unset (not started by systemd). An "@" name is in the abstract namespace.
// The error, if the socket cannot be reached.
Result<void, std::string> notify_service_manager(std::string_view state);

}  // namespace relay::dpprocess
