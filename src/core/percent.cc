#include "core/percent.h"

#include <boost/url/encoding_opts.hpp>
#include <boost/url/pct_string_view.hpp>

namespace medalliance::core {

std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  auto checked = boost::urls::make_pct_string_view(text);
  if (!checked)
    return std::nullopt;
  boost::urls::encoding_opts options;
  options.space_as_plus = plus_is_space;
  return checked->decode(options);
}

}  // namespace medalliance::core
