// The STUN/TURN codec: include this one header.
//   parse(datagram)   -> Result<Message, ParseFailure>   (message.hpp)
//   Message accessors -> Field<T> (absent / value / malformed)
//   Builder(out, ...) -> add_*() ... finish() -> Result<size_t, BuildError>
#pragma once

#include "controlplane/core/stun/builder.hpp"
#include "controlplane/core/stun/message.hpp"
#include "controlplane/core/stun/protocol.hpp"
