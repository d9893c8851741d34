#include "common/channel_data.hpp"

namespace relay {

std::string_view to_string(ChannelDataError e) {
  switch (e) {
    case ChannelDataError::TooShort: return "too_short";
    case ChannelDataError::NotChannelData: return "not_channel_data";
    case ChannelDataError::LengthExceedsData: return "length_exceeds_data";
  }
  return "unknown";
}

}  // namespace relay
