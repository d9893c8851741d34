// relay.auth.scheme = "static": the users file, in the forms coturn's
// turnadmin and turnuserdb.conf use, one user a line:
//   user:realm:0x<32 hex digits>   the long-term key MD5("user:realm:password"),
//                                  as `turnadmin -k -u user -r realm -p password` prints it
//   user:password                  the key is derived with relay.realm
// Blank lines and lines starting with '#' are skipped; a password holds no
// ':'. Keys are derived once, here: a request costs one lookup.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/result.hpp"
#include "controlplane/core/stun/integrity_key.hpp"

namespace relay::core {

struct StaticUsers {
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, stun::IntegrityKey, Hash, std::equal_to<>> keys;
};

// The users of `text`, the contents of `file` (named in errors), for
// `realm`; or the first bad line as "FILE:LINE:COLUMN: relay.auth.users_file:
// what is wrong", which never quotes a password or a key.
Result<StaticUsers, std::string> parse_static_users(std::string_view text, std::string_view file,
                                                    std::string_view realm);

}  // namespace relay::core
