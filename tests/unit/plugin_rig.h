// Plugin handlers driven end to end the way lunkitd drives them: a ring emulator (the kernel's
// side), the transport's device loop, libscsi and the plugin, with helpers for CDBs and data.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "handlers/host/plugin.h"
#include "handlers/host/plugin_device.h"
#include "handlers/host/plugin_factory.h"
#include "tcmu/device.h"
#include "tcmu/ring_emulator.h"
#include "tests/unit/plugin_dir.h"

namespace lunkit::plugins {

using tcmu::RingEmulator;
using Dir = RingEmulator::Direction;
using Bytes = std::vector<uint8_t>;

struct Outcome {
  uint8_t status = 0xFF;
  Bytes sense;
  Bytes data;
  int key() const { return sense.empty() ? -1 : sense[2] & 0x0F; }
  int asc() const { return sense.empty() ? -1 : sense[12]; }
  int ascq() const { return sense.empty() ? -1 : sense[13]; }
};

inline Bytes cdb10(uint8_t op, uint32_t lba, uint16_t blocks, uint8_t flags = 0) {
  return {op,           flags, uint8_t(lba >> 24),   uint8_t(lba >> 16), uint8_t(lba >> 8),
          uint8_t(lba), 0,     uint8_t(blocks >> 8), uint8_t(blocks),    0};
}
inline Bytes cdb16(uint8_t op, uint64_t lba, uint32_t blocks, uint8_t flags = 0) {
  Bytes cdb(16, 0);
  cdb[0] = op;
  cdb[1] = flags;
  for (int i = 0; i < 8; ++i) cdb[2 + i] = uint8_t(lba >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) cdb[10 + i] = uint8_t(blocks >> (24 - 8 * i));
  return cdb;
}
inline Bytes pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 13 + (i >> 8));
  return b;
}

// One plugin device served through the emulator by a device loop thread.
class Rig {
 public:
  Rig(const std::string& so_dir, const std::string& so, OpenParams params,
      Result<std::unique_ptr<PluginBlockDevice>>* open_result = nullptr)
      : pool_(4), emu_(options(), &Rig::on_done, this) {
    auto p = Plugin::load(so_dir + "/" + so, false);
    EXPECT_TRUE(p.ok()) << p.error();
    plugin_ = std::move(*p);
    params.name = "test/" + so;
    auto dev = PluginBlockDevice::open(*plugin_, params, &pool_);
    if (!dev) {
      error_ = dev.error();
      return;
    }
    backend_ = std::move(*dev);
    tcmu::DeviceOptions options{.name = params.name, .lu = {}};
    backend_->install_raw_hook(options.lu);
    auto d = tcmu::Device::attach(emu_.doorbell_fd(), emu_.map_fd(), emu_.map_size(), *backend_,
                                  std::move(options));
    EXPECT_TRUE(d.ok()) << d.error();
    device_ = std::move(*d);
    attach_to_loop(*backend_, *device_);  // as lunkitd's PluginFactory does
    device_->start();
    run({0, 0, 0, 0, 0, 0});  // power-on unit attention
    (void)open_result;
  }
  ~Rig() {
    if (device_) device_->stop();
    if (backend_) backend_->on_resized(nullptr);
    if (backend_) backend_->stop_posting();
  }
  const std::string& error() const { return error_; }
  bool ok() const { return device_ != nullptr; }
  PluginBlockDevice& backend() { return *backend_; }
  tcmu::Device& device() { return *device_; }

  uint64_t submit(Bytes cdb, Bytes out = {}, size_t in = 0) {
    uint64_t tag = ++next_tag_;
    Dir dir = !out.empty() ? Dir::kToDevice : in ? Dir::kFromDevice : Dir::kNone;
    EXPECT_TRUE(emu_.submit(cdb, dir, out, in, tag));
    return tag;
  }
  // Waits up to `seconds` for the command's completion.
  Outcome wait(uint64_t tag, int seconds = 10) {
    for (int i = 0; i < seconds * 40 && !results_.count(tag); ++i) emu_.wait_and_service(25);
    EXPECT_TRUE(results_.count(tag)) << "command " << tag << " did not complete";
    return results_[tag];
  }
  Outcome run(Bytes cdb, Bytes out = {}, size_t in = 0) { return wait(submit(cdb, out, in)); }

 private:
  static RingEmulator::Options options() {
    RingEmulator::Options o;
    o.cmdr_size = (1u << 20) - tcmu::kMailboxSize;
    o.data_size = 8u << 20;
    return o;
  }
  static void on_done(void* ctx, const tcmu::EmulatedCompletion& c) {
    auto* self = static_cast<Rig*>(ctx);
    Outcome o;
    o.status = c.status;
    o.sense.assign(c.sense.begin(), c.sense.end());
    o.data = data_in_bytes(c);
    self->results_[c.tag] = o;
  }

  std::unique_ptr<Plugin> plugin_;  // unloaded last, after the pool's threads are gone
  WorkerPool pool_;
  RingEmulator emu_;
  std::unique_ptr<PluginBlockDevice> backend_;
  std::unique_ptr<tcmu::Device> device_;
  std::map<uint64_t, Outcome> results_;
  uint64_t next_tag_ = 0;
  std::string error_;
};

inline OpenParams params(const std::string& cfg, uint64_t size = 4 << 20) {
  OpenParams p;
  p.cfgstring = cfg;
  p.size = size;
  p.block_size = 512;
  p.max_sectors = 2048;
  return p;
}

// UNMAP of one descriptor.
inline Bytes unmap_list(uint32_t lba, uint32_t blocks) {
  return {0,
          22,
          0,
          16,
          0,
          0,
          0,
          0,
          0,
          0,
          0,
          0,
          uint8_t(lba >> 24),
          uint8_t(lba >> 16),
          uint8_t(lba >> 8),
          uint8_t(lba),
          uint8_t(blocks >> 24),
          uint8_t(blocks >> 16),
          uint8_t(blocks >> 8),
          uint8_t(blocks),
          0,
          0,
          0,
          0};
}

}  // namespace lunkit::plugins
