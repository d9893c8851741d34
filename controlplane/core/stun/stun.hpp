// The STUN/TURN codec: include this one header.
//   parse(datagram)   -> Result<Message, ParseFailure>   (message.hpp)
//   Message accessors -> Field<T> (absent / value / malformed)
//   Builder(out, ...) -> add_*() ... finish() -> Result<size_t, BuildError>
//   IntegrityKey(key) -> a MESSAGE-INTEGRITY key prepared once (integrity_key.hpp)
#pragma once

#include "controlplane/core/stun/builder.hpp"
#include "controlplane/core/stun/integrity_key.hpp"
#include "controlplane/core/stun/message.hpp"
#include "controlplane/core/stun/protocol.hpp"
