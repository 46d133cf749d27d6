// One TCMU daemon per host: lunkitd's own lock file, and tcmu-runner's.
#pragma once

#include <string>

#include "common/fd.h"
#include "lunkit/result.h"

namespace lunkit::daemon {

// Both locks, held for the daemon's life; closing the fds releases them.
struct InstanceLock {
  UniqueFd lunkitd;      // `lock_file`, holding our pid
  UniqueFd tcmu_runner;  // tcmu-runner's lock: a tcmu-runner started later refuses to run
};

// Takes an exclusive fcntl lock on `path` (creating it and its directory), then the one
// tcmu-runner takes at start (creat + F_SETLK F_WRLCK on /run/tcmu.lock), so neither daemon can
// start while the other serves the kernel. Fails with a message naming who holds which lock.
Result<InstanceLock> take_instance_lock(const std::string& path,
                                        const std::string& tcmu_runner_lock = "/run/tcmu.lock");

}  // namespace lunkit::daemon
