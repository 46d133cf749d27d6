// A block device that completes every request inline and moves no data: what remains of a
// measurement with it is lunkit's own cost.
#pragma once

#include "lunkit/block_device.h"

namespace lunkit::bench {

class NullDevice : public BlockDevice {
 public:
  explicit NullDevice(uint64_t blocks = 1ull << 30) {
    info_.num_blocks = blocks;
    info_.logical_block_size = 512;
    info_.physical_block_size = 4096;
    info_.write_cache = true;
  }
  const DeviceInfo& info() const override { return info_; }
  void read(BlockRequest& r) override { r.complete(0); }
  void write(BlockRequest& r) override { r.complete(0); }
  void flush(BlockRequest& r) override { r.complete(0); }
  void unmap(BlockRequest& r) override { r.complete(0); }
  void write_zeroes(BlockRequest& r) override { r.complete(0); }

 private:
  DeviceInfo info_;
};

}  // namespace lunkit::bench
