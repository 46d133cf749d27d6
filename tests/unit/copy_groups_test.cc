// Copy groups: lunkit.conf's syntax and its errors (file and line), the library's checks of a
// group, which devices a group entry names, and a copy between two LUs of a group while the
// target LU is removed.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "daemon/config.h"
#include "daemon/copy_groups.h"
#include "tcmu/copy_groups.h"
#include "tcmu/ring_emulator.h"
#include "tests/unit/fake_system.h"
#include "tests/unit/ram_device.h"

namespace lunkit::daemon {
namespace {

using tcmu::CopyGroupFactory;
using tcmu::CopyGroups;
using tcmu::names_device;

TEST(CopyGroups, Parsed) {
  auto c = parse_config(
      "copy_groups = (\n"
      "  { name = \"vmfs\"; devices = [ \"disk0\", \"user_3/disk1\" ]; },\n"
      "  { name = \"b\"; devices = [ \"x\", \"y\", \"z\" ]; }\n"
      ");\n",
      "g.conf");
  ASSERT_TRUE(c.ok()) << c.error();
  ASSERT_EQ(c->copy_groups.size(), 2u);
  EXPECT_EQ(c->copy_groups[0].name, "vmfs");
  EXPECT_EQ(c->copy_groups[0].devices, (std::vector<std::string>{"disk0", "user_3/disk1"}));
  EXPECT_EQ(c->copy_groups[1].devices.size(), 3u);
  EXPECT_TRUE(parse_config("", "e.conf")->copy_groups.empty());
}

TEST(CopyGroups, ErrorsNameTheFileAndLine) {
  EXPECT_EQ(parse_config("copy_groups = { name = \"a\"; };\n", "a.conf").error(),
            "a.conf:1: copy_groups must be a list: copy_groups = ( { name = \"g1\"; devices = [ "
            "\"disk0\", \"disk1\" ]; } );");
  EXPECT_EQ(
      parse_config("copy_groups = (\n { devices = [ \"a\", \"b\" ]; }\n);\n", "b.conf").error(),
      "b.conf:2: copy_groups: a group needs a name");
  EXPECT_EQ(
      parse_config("copy_groups = ( { name = \"g\"; devices = [ \"a\" ]; } );\n", "c.conf").error(),
      "c.conf:1: copy group 'g' needs two devices or more");
  EXPECT_EQ(
      parse_config("copy_groups = ( { name = \"g\";\n devices = \"a\"; } );\n", "d.conf").error(),
      "d.conf:2: copy_groups: devices must be a list of strings");
  EXPECT_EQ(
      parse_config("copy_groups = ( { name = \"g\"; devs = [ \"a\", \"b\" ]; } );\n", "e.conf")
          .error(),
      "e.conf:1: unknown setting 'copy_groups.devs' (known: name, devices)");
  EXPECT_EQ(
      parse_config("copy_groups = ( { name = \"g\"; devices = [ \"a/\", \"b\" ]; } );\n", "f.conf")
          .error(),
      "f.conf:1: copy_groups: 'a/' is not a device name (\"disk0\" or \"user_1/disk0\")");
  EXPECT_EQ(parse_config("copy_groups = ( { name = \"g\"; devices = [ \"a\", \"b\" ]; },\n"
                         "  { name = \"g\"; devices = [ \"c\", \"d\" ]; } );\n",
                         "g.conf")
                .error(),
            "g.conf:2: copy group 'g' is defined twice");
}

TEST(CopyGroups, EntriesNameDevices) {
  EXPECT_TRUE(names_device("disk0", "user_1/disk0"));
  EXPECT_TRUE(names_device("user_1/disk0", "user_1/disk0"));
  EXPECT_FALSE(names_device("user_2/disk0", "user_1/disk0"));
  EXPECT_FALSE(names_device("disk", "user_1/disk0"));
  EXPECT_FALSE(names_device("disk00", "user_1/disk0"));
}

TEST(CopyGroups, OnlyMembersOfOneGroupReachEachOther) {
  CopyGroups g({{"a", {"d0", "d1"}}, {"b", {"d1", "user_7/d2"}}});
  EXPECT_TRUE(g.share_a_group("user_1/d0", "user_2/d1"));
  EXPECT_TRUE(g.share_a_group("user_2/d1", "user_7/d2"));
  EXPECT_FALSE(g.share_a_group("user_1/d0", "user_7/d2"));  // d1 is in both; d0 and d2 are not
  EXPECT_FALSE(g.share_a_group("user_2/d1", "user_8/d2"));
  EXPECT_FALSE(g.share_a_group("user_1/d0", "user_1/d3"));
}

// ---- a copy into a LU that is removed while the copy writes to it ----

// Holds writes until the test opens the gate; records whether it was destroyed while holding one
// (the backend of a removed LU freed under a request another LU's copy still runs).
struct GateLog {
  std::mutex mu;
  std::condition_variable cv;
  bool held = false;
  bool destroyed_with_request_held = false;
  bool destroyed = false;
};

class GateDevice : public BlockDevice {
 public:
  GateDevice(DeviceInfo info, GateLog& log) : ram_(std::move(info)), log_(log) {}
  ~GateDevice() override {
    std::lock_guard lock(log_.mu);
    log_.destroyed = true;
    log_.destroyed_with_request_held = held_ != nullptr;
    log_.cv.notify_all();
  }
  const DeviceInfo& info() const override { return ram_.info(); }
  void read(BlockRequest& r) override { ram_.read(r); }
  void flush(BlockRequest& r) override { ram_.flush(r); }
  void unmap(BlockRequest& r) override { ram_.unmap(r); }
  void write_zeroes(BlockRequest& r) override { ram_.write_zeroes(r); }
  void write(BlockRequest& r) override {
    std::lock_guard lock(log_.mu);
    held_ = &r;
    log_.held = true;
    log_.cv.notify_all();
  }
  // From the test thread: the held write goes through (false if the device is gone).
  static bool release(GateLog& log, GateDevice* dev) {
    BlockRequest* r;
    {
      std::lock_guard lock(log.mu);
      if (log.destroyed || !dev->held_) return false;
      r = std::exchange(dev->held_, nullptr);
    }
    dev->ram_.write(*r);
    return true;
  }

 private:
  test::RamDevice ram_;
  GateLog& log_;
  BlockRequest* held_ = nullptr;
};

class GatedBackends : public tcmu::BackendFactory {
 public:
  Result<std::unique_ptr<BlockDevice>> open(const tcmu::UioDevice& uio,
                                            const tcmu::DeviceAttributes& a) override {
    DeviceInfo info;
    info.num_blocks = a.size_bytes / a.block_size;
    info.logical_block_size = info.physical_block_size = a.block_size;
    auto dev = std::make_unique<GateDevice>(info, logs[uio.minor]);
    devices[uio.minor] = dev.get();
    return std::unique_ptr<BlockDevice>(std::move(dev));
  }
  std::map<uint32_t, GateLog> logs;
  std::map<uint32_t, GateDevice*> devices;
};

void put(std::vector<uint8_t>& v, size_t at, size_t width, uint64_t value) {
  for (size_t i = width; i-- > 0; value >>= 8) v[at + i] = static_cast<uint8_t>(value);
}

// EXTENDED COPY (LID1) of `blocks` from LBA 0 of the LU named `src` to LBA 0 of `dst`.
std::vector<uint8_t> copy_list(std::span<const uint8_t> src, std::span<const uint8_t> dst,
                               uint16_t blocks) {
  std::vector<uint8_t> p(16, 0);
  p[0] = 1;       // list id
  p[1] = 2 << 3;  // list id usage 10b
  put(p, 2, 2, 64);
  put(p, 8, 4, 28);
  for (auto naa : {src, dst}) {
    std::vector<uint8_t> d(32, 0);
    d[0] = 0xE4;  // identification descriptor
    d[4] = 0x01;
    d[5] = 0x03;  // logical unit, NAA
    d[7] = static_cast<uint8_t>(naa.size());
    std::copy(naa.begin(), naa.end(), d.begin() + 8);
    put(d, 29, 3, 512);
    p.insert(p.end(), d.begin(), d.end());
  }
  std::vector<uint8_t> seg(28, 0);
  seg[0] = 0x02;  // block to block
  put(seg, 2, 2, 0x18);
  put(seg, 4, 2, 0);  // source: descriptor 0
  put(seg, 6, 2, 1);  // destination: descriptor 1
  put(seg, 10, 2, blocks);
  p.insert(p.end(), seg.begin(), seg.end());
  return p;
}

// The target LU is removed (netlink REMOVED_DEVICE) while the copy's write to it is in flight:
// its removal waits for that write instead of freeing the backend under it, and the copy gets
// exactly one completion.
TEST(CopyGroups, ATargetRemovedMidCopyWaitsForTheCopysRequest) {
  test::FakeSystem sys;
  tcmu::Configfs cfs(sys.paths);
  std::map<uint32_t, std::unique_ptr<tcmu::RingEmulator>> emulators;
  std::map<uint64_t, uint8_t> statuses;
  std::mutex status_mu;
  auto on_done = [](void* ctx, const tcmu::EmulatedCompletion& c) {
    auto* st = static_cast<std::map<uint64_t, uint8_t>*>(ctx);
    (*st)[c.tag] = c.status;
  };
  for (uint32_t minor : {0u, 1u}) {
    tcmu::RingEmulator::Options o;
    o.cmdr_size = (1u << 20) - tcmu::kMailboxSize;
    o.data_size = 1u << 20;
    auto emu = std::make_unique<tcmu::RingEmulator>(o, on_done, &statuses);
    std::string dev = "d" + std::to_string(minor);
    sys.add_backstore(minor, dev, 1 << 20);
    sys.set_serial(minor, dev, "6001405000000" + std::to_string(minor));
    sys.add_uio(minor, "tcm-user/" + std::to_string(minor) + "/" + dev + "/ram/", emu->map_size());
    emulators[minor] = std::move(emu);
  }
  GatedBackends backends;
  CopyGroups groups({{"g", {"d0", "d1"}}});
  CopyGroupFactory factory(backends, groups);
  tcmu::Manager manager(cfs, [&](const tcmu::UioDevice& uio) -> Result<tcmu::UioHandles> {
    tcmu::UioHandles h;
    h.doorbell.reset(dup(emulators.at(uio.minor)->doorbell_fd()));
    h.map.reset(dup(emulators.at(uio.minor)->map_fd()));
    return h;
  });
  manager.add_backend("ram", &factory);
  manager.attach_existing();
  ASSERT_EQ(manager.size(), 2u);
  tcmu::RingEmulator& a = *emulators[0];
  auto service_until = [&](uint64_t tag) {
    for (int i = 0; i < 400 && !statuses.count(tag); ++i) a.wait_and_service(25);
    return statuses.count(tag) ? statuses[tag] : 0xFF;
  };
  using Dir = tcmu::RingEmulator::Direction;
  // The power-on unit attention first, so the copy itself is not refused with it.
  ASSERT_TRUE(a.submit(std::vector<uint8_t>{0, 0, 0, 0, 0, 0}, Dir::kNone, {}, 0, 1));
  EXPECT_EQ(service_until(1), 0x02);

  std::array<uint8_t, scsi::kMaxDesignatorLength> naa0{}, naa1{};
  size_t len0 = manager.device(0)->logical_unit().naa_designator(naa0);
  size_t len1 = manager.device(1)->logical_unit().naa_designator(naa1);
  ASSERT_GT(len0, 0u);
  ASSERT_GT(len1, 0u);
  auto list = copy_list(std::span(naa0.data(), len0), std::span(naa1.data(), len1), 1);
  std::vector<uint8_t> cdb(16, 0);
  cdb[0] = 0x83;
  put(cdb, 10, 4, list.size());
  ASSERT_TRUE(a.submit(cdb, Dir::kToDevice, list, 0, 2));
  GateLog& gate = backends.logs[1];
  {
    std::unique_lock lock(gate.mu);
    bool held = false;
    for (int i = 0; i < 400 && !held; ++i) {
      lock.unlock();
      a.wait_and_service(5);
      lock.lock();
      held = gate.cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return gate.held; });
    }
    ASSERT_TRUE(held) << "the copy never wrote to the second LU";
  }

  GateDevice* target = backends.devices[1];
  std::thread removal([&] {
    tcmu::NetlinkEvent e;
    e.cmd = tcmu::genl::kRemovedDevice;
    e.version = 2;
    e.device = "tcm-user/1/d1/ram/";
    e.minor = 1;
    e.device_id = 101;
    tcmu::ParsedEvent parsed;
    parsed.event = e;
    manager.handle_message(parsed, [](uint8_t, int32_t, uint32_t) {});
  });
  // The removal has begun once the manager no longer lists the device.
  for (int i = 0; i < 500 && manager.device(1); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(manager.device(1), nullptr);
  {
    // Give a wrong removal the chance to free the backend under the held write: it must not.
    std::unique_lock lock(gate.mu);
    EXPECT_FALSE(gate.cv.wait_for(lock, std::chrono::milliseconds(300), [&] {
      return gate.destroyed;
    })) << "the removed LU's backend was destroyed while the copy's write was in flight";
  }
  bool released = GateDevice::release(gate, target);
  removal.join();
  EXPECT_TRUE(released) << "the removed LU's backend was destroyed under the copy's write";
  EXPECT_FALSE(gate.destroyed_with_request_held);
  EXPECT_EQ(service_until(2), 0x00) << "the copy completes once, with GOOD";
  manager.shutdown();
}

}  // namespace
}  // namespace lunkit::daemon
