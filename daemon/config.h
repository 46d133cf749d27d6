// lunkitd's configuration file (libconfig syntax), see lunkit.conf(5).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "daemon/copy_groups.h"
#include "lunkit/result.h"

namespace lunkit::daemon {

struct Config {
  std::string log_level = "info";     // trace debug info warning error critical off
  std::string log_target = "stderr";  // stderr, syslog or file
  std::string log_file = "/var/log/lunkit/lunkitd.log";
  uint64_t log_file_max_size = 10u << 20;
  uint32_t log_file_max_files = 5;
  std::string handler_dir = LUNKIT_HANDLER_DIR;
  std::string lock_file = "/run/lunkit/lunkitd.lock";
  std::string tcmu_runner_lock_file = "/run/tcmu.lock";  // held too: tcmu-runner then refuses
  uint32_t worker_threads = 4;
  // Per handler: options appended to every device's cfgstring ("direct=1"); a device's own
  // options come first, and handlers take the first occurrence of an option.
  std::map<std::string, std::string> handler_options;
  // LUs that EXTENDED COPY may copy between (copy_groups.h); none: each LU only within itself.
  std::vector<CopyGroup> copy_groups;
};

// Reads `path`. Errors name the file and the line: "lunkit.conf:7: unknown setting 'x'".
Result<Config> load_config(const std::string& path);
// Parses text as if read from `name` (tests).
Result<Config> parse_config(const std::string& text, const std::string& name);

bool valid_log_level(const std::string& level);

}  // namespace lunkit::daemon
