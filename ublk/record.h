// What `lunkit ublk add` remembers of a device so that `lunkit ublk recover` can serve it again
// after the server died: the handler and its configuration. One small file per device in
// /run/lunkit/ublk (LUNKIT_UBLK_STATE_DIR overrides it), "key=value" lines.
#pragma once

#include <cstdint>
#include <string>

#include "lunkit/result.h"
#include "ublk/params.h"

namespace lunkit::ublk {

struct DeviceRecord {
  std::string handler;
  std::string cfg;
  uint64_t size = 0;  // bytes asked for (0: the handler's own size)
  uint32_t block_size = 512;
  bool read_only = false;
  int64_t pid = 0;                                     // the process serving it
  uint32_t retry_timeout_ms = kDefaultRetryTimeoutMs;  // (records written before it: the default)
  uint16_t threads = 0;  // --threads (ServeOptions::threads); records written before it: 0
};

std::string format_record(const DeviceRecord& record);
// Fails with the line that is wrong.
Result<DeviceRecord> parse_record(const std::string& text);

std::string state_dir();
Result<bool> make_state_dir();  // mkdir -p state_dir()
std::string record_path(uint32_t dev_id);
Result<bool> save_record(uint32_t dev_id, const DeviceRecord& record);
Result<DeviceRecord> load_record(uint32_t dev_id);
void remove_record(uint32_t dev_id);

// "4096", "64K", "256M", "1G", "2T" (powers of 1024). Fails on anything else.
Result<uint64_t> parse_size(const std::string& text);

}  // namespace lunkit::ublk
