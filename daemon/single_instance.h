// One lunkitd per host: a lock file, and a look at tcmu-runner's.
#pragma once

#include <string>

#include "lunkit/result.h"
#include "common/fd.h"

namespace lunkit::daemon {

// Takes an exclusive lock on `path` (creating it and its directory). Fails with a message naming
// who holds it: another lunkitd, or tcmu-runner (its /run/tcmu.lock).
Result<UniqueFd> take_instance_lock(const std::string& path,
                                          const std::string& tcmu_runner_lock = "/run/tcmu.lock");

}  // namespace lunkit::daemon
