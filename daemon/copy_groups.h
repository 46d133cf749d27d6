// lunkit.conf's `copy_groups`: which LUs an EXTENDED COPY may copy between (lunkitd hands each
// group to the library with lunkit_tcmu_add_copy_group(); see lunkit.conf(5)):
//
//   copy_groups = ( { name = "vmfs"; devices = [ "disk0", "user_3/disk1" ]; } );
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lunkit/result.h"

namespace libconfig {
class Setting;
}

namespace lunkit::daemon {

struct CopyGroup {
  std::string name;
  std::vector<std::string> devices;  // "disk0" or "user_<hba>/disk0"
};

// Parses the `copy_groups` setting (a list of groups); errors name the file and line.
std::optional<Error> parse_copy_groups(const libconfig::Setting& setting, const std::string& file,
                                       std::vector<CopyGroup>* out);

}  // namespace lunkit::daemon
