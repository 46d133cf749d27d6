// lunkitd's log: spdlog with the sink the configuration names. Log lines of a device start with
// its name ("user_0/disk0: ...").
#pragma once

#include "daemon/config.h"
#include "lunkit/result.h"

namespace lunkit::daemon {

// Installs the default logger for `config`; `level_override` (from --log-level) wins when set.
Result<bool> setup_logging(const Config& config, const std::string& level_override = "");
// Applies a new level to the running logger (SIGHUP).
void set_log_level(const std::string& level);

}  // namespace lunkit::daemon
