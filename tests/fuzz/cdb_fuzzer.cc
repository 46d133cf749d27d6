// libFuzzer target: arbitrary CDBs and parameter data against a logical unit over a RAM device.
// Input: records of [cdb length][cdb bytes][data length (2 bytes)][data], up to 8 commands; the
// first byte picks whether the device holds requests and in which order it releases them.
// Every command must complete exactly once; sanitizers catch everything else.
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <vector>

#include "lunkit/scsi/logical_unit.h"
#include "tests/unit/ram_device.h"

namespace {

using lunkit::scsi::Command;

struct Slot {
  Command cmd;
  std::vector<uint8_t> buf;
  iovec iov[2];
  int completions = 0;
};

// Two groups, the unit's own port in the first.
bool two_port_groups(void*, lunkit::scsi::AluaDescription& out) {
  out.relative_port_id = 2;
  out.port_group_id = 5;
  out.group_count = 2;
  out.groups[0].id = 5;
  out.groups[0].port_count = 1;
  out.groups[0].ports[0] = 2;
  out.groups[1].id = 6;
  out.groups[1].state = lunkit::scsi::kAluaStandby;
  out.groups[1].port_count = 1;
  out.groups[1].ports[0] = 3;
  return true;
}

void on_complete(void*, Command& cmd) {
  auto* slot = static_cast<Slot*>(cmd.transport_context);
  if (++slot->completions != 1) __builtin_trap();
  if (cmd.data_in_len > slot->buf.size() || cmd.sense_len > 96) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  size_t pos = 1;

  lunkit::DeviceInfo info;
  info.num_blocks = 64;
  info.logical_block_size = 512;
  info.physical_block_size = (mode & 0x08) ? 4096 : 512;
  info.thin_provisioning = mode & 0x10;
  info.unmap_reads_zero = mode & 0x20;
  info.write_cache = mode & 0x40;
  info.native_compare_and_write = mode & 0x80;
  info.native_block_status = mode & 0x04;
  info.max_transfer_blocks = 32;
  info.unit_serial = "fuzz-serial-0001";
  lunkit::test::RamDevice dev(info);
  dev.hold = mode & 0x01;

  lunkit::scsi::LogicalUnitOptions options;
  if (mode & 0x02) options.alua_source = two_port_groups;
  lunkit::scsi::LogicalUnit lu(dev, on_complete, nullptr, options);

  std::deque<std::unique_ptr<Slot>> slots;
  for (int n = 0; n < 8 && pos < size; ++n) {
    size_t cdb_len = data[pos++] % 33;
    auto slot = std::make_unique<Slot>();
    for (size_t i = 0; i < cdb_len && pos < size; ++i) slot->cmd.cdb[i] = data[pos++];
    slot->cmd.cdb_len = static_cast<uint8_t>(cdb_len);
    size_t len = 0;
    if (pos + 2 <= size) {
      len = static_cast<size_t>(data[pos] << 8 | data[pos + 1]) % 40000;
      pos += 2;
    }
    slot->buf.assign(len, 0);
    for (size_t i = 0; i < len && pos < size; ++i) slot->buf[i] = data[pos++];
    // Two segments, split unevenly.
    size_t split = len / 3;
    slot->iov[0] = {slot->buf.data(), split};
    slot->iov[1] = {slot->buf.data() + split, len - split};
    slot->cmd.iov = std::span(slot->iov, 2);
    slot->cmd.data_len = len;
    slot->cmd.transport_context = slot.get();
    lu.submit(slot->cmd);
    if (dev.hold && (n & 1)) dev.release_one_if_any();
    slots.push_back(std::move(slot));
  }
  while (dev.pending()) dev.release_one();
  for (auto& s : slots)
    if (s->completions != 1) __builtin_trap();
  return 0;
}
