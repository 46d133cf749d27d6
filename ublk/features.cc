#include "ublk/features.h"

#include <cstdio>

namespace lunkit::ublk {

std::string feature_list(uint64_t flags) {
  flags &= ~kFlagsOfEveryDevice;
  std::string out;
  for (const FeatureName& f : kFeatureNames) {
    if (!(flags & f.flag)) continue;
    if (!out.empty()) out += ',';
    out += f.name;
    flags &= ~f.flag;
  }
  if (flags) {
    char hex[24];
    std::snprintf(hex, sizeof hex, "%#llx", static_cast<unsigned long long>(flags));
    if (!out.empty()) out += ',';
    out += hex;
  }
  return out.empty() ? "-" : out;
}

}  // namespace lunkit::ublk
