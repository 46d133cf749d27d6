#include "daemon/logging.h"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <syslog.h>

namespace lunkit::daemon {

void set_log_level(const std::string& level) {
  spdlog::set_level(spdlog::level::from_str(level == "warning" ? "warn" : level));
}

Result<bool> setup_logging(const Config& config, const std::string& level_override) {
  std::shared_ptr<spdlog::logger> logger;
  try {
    if (config.log_target == "file")
      logger = spdlog::rotating_logger_mt("lunkitd", config.log_file, config.log_file_max_size,
                                          config.log_file_max_files);
    else if (config.log_target == "syslog")
      logger = spdlog::syslog_logger_mt("lunkitd", "lunkitd", LOG_PID, LOG_DAEMON);
    else
      logger = spdlog::stderr_color_mt("lunkitd");
  } catch (const spdlog::spdlog_ex& e) {
    return Error{std::string("cannot open the log: ") + e.what()};
  }
  if (config.log_target != "syslog") logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  set_log_level(level_override.empty() ? config.log_level : level_override);
  return true;
}

}  // namespace lunkit::daemon
