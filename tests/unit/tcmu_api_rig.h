// The kernel's side for the tests of the public TCMU APIs (c_api_test, cxx_api_test): a fake
// sysfs/configfs tree, a ring emulator per device handed to the library through the options'
// open_uio hook, and commands run through those rings.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lunkit/tcmu.h"
#include "tcmu/ring_emulator.h"
#include "tests/unit/fake_system.h"

namespace lunkit::test {

struct RingAnswer {
  uint8_t status = 0xff;
  std::vector<uint8_t> sense;
  std::vector<uint8_t> data;  // the Data-In the kernel copies back
};

class EmulatedKernel {
 public:
  // Options that point the library at this kernel (valid while it lives).
  lunkit_tcmu_options options() {
    lunkit_tcmu_options o{};
    o.size = sizeof o;
    o.sysfs_dir = sys.paths.sysfs.c_str();
    o.target_core_dir = sys.paths.configfs_core.c_str();
    o.module_params_dir = sys.paths.module_params.c_str();
    o.dev_dir = sys.paths.dev.c_str();
    o.open_uio = &EmulatedKernel::open_uio;
    o.open_uio_context = this;
    return o;
  }

  // A backstore as targetcli creates it: configfs directory, UIO device, ring.
  tcmu::RingEmulator& add(uint32_t minor, const std::string& device, const std::string& dev_config,
                          uint64_t size = 4 << 20) {
    tcmu::RingEmulator::Options ro;
    ro.cmdr_size = (1u << 20) - tcmu::kMailboxSize;
    ro.data_size = 4u << 20;
    auto emu = std::make_unique<tcmu::RingEmulator>(ro, &EmulatedKernel::on_done, this);
    sys.add_backstore(minor, device, size);
    sys.add_uio(minor, uio_name(minor, device, dev_config), emu->map_size());
    return *(emulators_[minor] = std::move(emu));
  }
  static std::string uio_name(uint32_t hba, const std::string& device, const std::string& cfg) {
    return "tcm-user/" + std::to_string(hba) + "/" + device + "/" + cfg;
  }

  // Submits a command and services the ring until it completes (or fails the test). `serve`,
  // if given, runs before each wait: the test's own device loop.
  RingAnswer command(tcmu::RingEmulator& emu, std::vector<uint8_t> cdb, size_t data_in,
                     std::vector<uint8_t> data_out = {}, const std::function<void()>& serve = {}) {
    using Dir = tcmu::RingEmulator::Direction;
    uint64_t tag = ++next_tag_;
    Dir dir = data_in ? Dir::kFromDevice : data_out.empty() ? Dir::kNone : Dir::kToDevice;
    EXPECT_TRUE(emu.submit(cdb, dir, data_out, data_in, tag));
    for (int i = 0; i < 200 && !results_.count(tag); ++i) {
      if (serve) serve();
      emu.wait_and_service(serve ? 0 : 50);
    }
    EXPECT_TRUE(results_.count(tag)) << "command " << tag << " never completed";
    return results_[tag];
  }
  // WRITE(10) of 4 blocks at LBA 8 and READ(10) back through the device's handler; block 0 stays
  // zeros (a fresh LU).
  void write_read_round_trip(tcmu::RingEmulator& emu) {
    std::vector<uint8_t> pattern(4 * 512);
    for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = uint8_t(i * 7 + 3);
    EXPECT_EQ(command(emu, rw10(0x2A, 8, 4), 0, pattern).status, 0x00);
    RingAnswer r = command(emu, rw10(0x28, 8, 4), pattern.size());
    EXPECT_EQ(r.status, 0x00);
    EXPECT_EQ(r.data, pattern);
    RingAnswer other = command(emu, rw10(0x28, 0, 1), 512);
    EXPECT_EQ(other.data, std::vector<uint8_t>(512, 0)) << "only blocks 8..11 were written";
  }

  // Submits without waiting; the answer is taken with answer(tag) once it came back.
  uint64_t submit(tcmu::RingEmulator& emu, std::vector<uint8_t> cdb, size_t data_in) {
    uint64_t tag = ++next_tag_;
    EXPECT_TRUE(emu.submit(
        cdb,
        data_in ? tcmu::RingEmulator::Direction::kFromDevice : tcmu::RingEmulator::Direction::kNone,
        {}, data_in, tag));
    return tag;
  }
  bool answered(uint64_t tag) const { return results_.count(tag) != 0; }
  static std::vector<uint8_t> rw10(uint8_t op, uint32_t lba, uint16_t blocks) {
    return {op,           0, uint8_t(lba >> 24),   uint8_t(lba >> 16), uint8_t(lba >> 8),
            uint8_t(lba), 0, uint8_t(blocks >> 8), uint8_t(blocks),    0};
  }

  FakeSystem sys;

 private:
  static int open_uio(void* context, uint32_t minor, int* doorbell, int* map) {
    auto* self = static_cast<EmulatedKernel*>(context);
    auto it = self->emulators_.find(minor);
    if (it == self->emulators_.end()) return -ENOENT;
    *doorbell = dup(it->second->doorbell_fd());
    *map = dup(it->second->map_fd());
    return 0;
  }
  static void on_done(void* ctx, const tcmu::EmulatedCompletion& c) {
    static_cast<EmulatedKernel*>(ctx)->results_[c.tag] = {
        c.status, std::vector<uint8_t>(c.sense.begin(), c.sense.end()), tcmu::data_in_bytes(c)};
  }

  std::map<uint32_t, std::unique_ptr<tcmu::RingEmulator>> emulators_;
  std::map<uint64_t, RingAnswer> results_;
  uint64_t next_tag_ = 0;
};

}  // namespace lunkit::test
