// tcmu::Manager on a fake sysfs/configfs tree, with the emulator standing in for /dev/uioN:
// restart attach, netlink events end to end, and shutdown.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>

#include <poll.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>

#include "tcmu/control_loop.h"
#include "tcmu/manager.h"
#include "tcmu/ring_emulator.h"
#include "tests/unit/fake_system.h"
#include "tests/unit/ram_device.h"

namespace lunkit::tcmu {
namespace {

using Dir = RingEmulator::Direction;

class RamBackends : public BackendFactory {
 public:
  Result<std::unique_ptr<BlockDevice>> open(const UioDevice& uio,
                                            const DeviceAttributes& a) override {
    if (uio.name.cfgstring == "fail") return Error{"cannot open 'fail'"};
    if (uio.name.cfgstring == "slow") {  // storage that takes until release_slow() to open
      std::unique_lock lock(slow_mu);
      slow_entered = true;
      slow_cv.notify_all();
      slow_cv.wait(lock, [this] { return slow_released; });
    }
    if (uio.name.cfgstring == "flaky" && flaky_failures > 0) {
      --flaky_failures;
      return Error{"cluster down"};
    }
    DeviceInfo info;
    info.num_blocks = a.size_bytes / a.block_size;
    info.logical_block_size = info.physical_block_size = a.block_size;
    info.write_cache = true;
    opened++;
    if (uio.name.cfgstring == "slow") slow_opened = true;
    return std::unique_ptr<BlockDevice>(new test::RamDevice(info));
  }
  int reconfigure(BlockDevice&, uint64_t new_size, const char*, int) override {
    if (refuse_resize && new_size) return -EINVAL;
    return 0;
  }
  void release_slow() {
    std::lock_guard lock(slow_mu);
    slow_released = true;
    slow_cv.notify_all();
  }
  bool wait_slow_entered() {
    std::unique_lock lock(slow_mu);
    return slow_cv.wait_for(lock, std::chrono::seconds(30), [this] { return slow_entered; });
  }
  std::atomic<int> opened = 0;
  std::mutex slow_mu;
  std::condition_variable slow_cv;
  bool slow_entered = false, slow_released = false;
  std::atomic<bool> slow_opened = false;
  int flaky_failures = 0;  // how many more opens of "ram/flaky" fail
  bool refuse_resize = false;
};

struct Reply {
  uint8_t cmd;
  int32_t status;
  uint32_t device_id;
};

class ManagerTest : public ::testing::Test {
 protected:
  ManagerTest() : cfs(sys.paths) {
    cfs.observe_writes(
        [](void* ctx, const std::string& path, std::string_view value) {
          auto* self = static_cast<ManagerTest*>(ctx);
          // Keep the last two path elements: "<device>/action/<name>" reads well in failures.
          size_t cut = path.rfind('/', path.rfind('/', path.rfind('/') - 1) - 1);
          std::lock_guard lock(self->writes_mu);  // the control thread and shutdown() both write
          self->writes.push_back(path.substr(cut + 1) + "=" + std::string(value));
          if (self->on_write) self->on_write(path);
        },
        this);
    manager = std::make_unique<Manager>(cfs, [this](const UioDevice& uio) -> Result<UioHandles> {
      auto it = emulators.find(uio.minor);
      if (it == emulators.end()) return Error{"no such device"};
      UioHandles h;
      h.doorbell.reset(dup(it->second->doorbell_fd()));
      h.map.reset(dup(it->second->map_fd()));
      return h;
    });
    manager->add_backend("ram", &backends);
  }

  // A backstore as targetcli creates it: configfs directory, UIO device, ring.
  RingEmulator& add(uint32_t minor, uint32_t hba, const std::string& dev, const std::string& cfg,
                    uint64_t size = 4 << 20) {
    RingEmulator::Options o;
    o.cmdr_size = (1u << 20) - kMailboxSize;
    o.data_size = size < (4u << 20) ? static_cast<uint32_t>(size) : 4u << 20;
    auto emu = std::make_unique<RingEmulator>(o, &ManagerTest::on_done, this);
    sys.add_backstore(hba, dev, size);
    sys.add_uio(minor, "tcm-user/" + std::to_string(hba) + "/" + dev + "/" + cfg, emu->map_size());
    return *(emulators[minor] = std::move(emu));
  }

  static void on_done(void* ctx, const EmulatedCompletion& c) {
    auto* self = static_cast<ManagerTest*>(ctx);
    self->results[c.tag] = {c.status, std::vector<uint8_t>(c.sense.begin(), c.sense.end()),
                            data_in_bytes(c)};
  }

  struct Result_ {
    uint8_t status;
    std::vector<uint8_t> sense;
    std::vector<uint8_t> data;
  };
  // Runs one command to completion through a device's loop thread.
  Result_ command(RingEmulator& emu, std::vector<uint8_t> cdb, size_t data_in, uint64_t tag) {
    EXPECT_TRUE(emu.submit(cdb, data_in ? Dir::kFromDevice : Dir::kNone, {}, data_in, tag));
    for (int i = 0; i < 200 && !results.count(tag); ++i) emu.wait_and_service(50);
    EXPECT_TRUE(results.count(tag)) << "command " << tag << " never completed";
    return results[tag];
  }

  void deliver(const NetlinkEvent& e) {
    MsgPtr msg = build_event(0x1D, e);
    manager->handle_message(parse_event(nlmsg_hdr(msg.get())),
                            [this](uint8_t cmd, int32_t status, uint32_t id) {
                              replies.push_back({cmd, status, id});
                            });
  }
  NetlinkEvent event(uint8_t cmd, uint32_t minor, const std::string& name) {
    NetlinkEvent e;
    e.cmd = cmd;
    e.version = 2;
    e.device = name;
    e.minor = minor;
    e.device_id = 100 + minor;
    return e;
  }

  test::FakeSystem sys;
  Configfs cfs;
  RamBackends backends;
  std::map<uint32_t, std::unique_ptr<RingEmulator>> emulators;
  std::mutex writes_mu;
  std::vector<std::string> writes;
  std::function<void(const std::string& path)> on_write;  // stands in for the kernel's side
  std::vector<Reply> replies;
  std::map<uint64_t, Result_> results;
  std::unique_ptr<Manager> manager;  // last: its shutdown still writes to the members above
};

TEST_F(ManagerTest, RestartAttachesWithBlockAndResetInOrder) {
  RingEmulator& emu = add(0, 0, "disk0", "ram/");
  add(1, 1, "other", "file//tmp/x.img");  // no handler here: left alone
  manager->attach_existing();
  EXPECT_EQ(writes, (std::vector<std::string>{
                        "target_core_user/parameters/block_netlink=1",
                        "target_core_user/parameters/reset_netlink=1",
                        "disk0/action/block_dev=1",
                        "disk0/action/reset_ring=1",
                        "disk0/attrib/tmr_notification=1",
                        "disk0/attrib/nl_reply_supported=1",
                        "disk0/action/block_dev=0",
                        "target_core_user/parameters/block_netlink=0",
                    }));
  EXPECT_EQ(manager->size(), 1u);
  EXPECT_NE(manager->device(0), nullptr);
  EXPECT_EQ(manager->device(1), nullptr);
  EXPECT_EQ(command(emu, {0, 0, 0, 0, 0, 0}, 0, 1).status, 0x02) << "power-on unit attention";
  EXPECT_EQ(command(emu, {0, 0, 0, 0, 0, 0}, 0, 2).status, 0x00);
}

TEST_F(ManagerTest, SerialIsReadFromConfigfsOnceTargetcliWroteIt) {
  RingEmulator& emu = add(0, 0, "disk0", "ram/");
  manager->attach_existing();
  auto before = command(emu, {0x12, 1, 0x80, 0, 255, 0}, 255, 1);
  ASSERT_EQ(before.status, 0);
  EXPECT_EQ(before.data.size(), 4u) << "no serial yet";
  sys.set_serial(0, "disk0", "6001405abcdef");
  auto after = command(emu, {0x12, 1, 0x80, 0, 255, 0}, 255, 2);
  EXPECT_EQ(std::string(after.data.begin() + 4, after.data.end()), "6001405abcdef");
}

TEST_F(ManagerTest, AFailedAttachLeavesTheDeviceBlockedUntilShutdown) {
  add(0, 0, "bad", "ram/fail");
  manager->attach_existing();
  EXPECT_EQ(manager->size(), 0u);
  EXPECT_EQ(writes.size(), 6u);
  EXPECT_EQ(writes[3], "bad/action/reset_ring=1");
  EXPECT_EQ(writes[4], "bad/attrib/tmr_notification=1");
  EXPECT_EQ(writes[5], "target_core_user/parameters/block_netlink=0") << "bad stays blocked";
  manager->shutdown();
  EXPECT_EQ(writes.back(), "bad/action/block_dev=0");
}

// Storage that cannot be opened at start (a cluster down) is retried with back-off while the
// device stays blocked, and served once it opens. Time is passed in: no test sleeps.
TEST_F(ManagerTest, StorageThatCannotBeOpenedAtStartIsRetriedWithBackOff) {
  using namespace std::chrono_literals;
  RingEmulator& emu = add(0, 0, "disk0", "ram/flaky");
  backends.flaky_failures = 2;
  manager->attach_existing();
  auto t0 = Manager::Clock::now();  // the first retry is due by t0 + 1 s
  EXPECT_EQ(manager->size(), 0u);
  EXPECT_EQ(std::count(writes.begin(), writes.end(), "disk0/action/block_dev=0"), 0);
  auto first = manager->next_retry(t0);
  ASSERT_TRUE(first);
  EXPECT_GT(*first, 500ms);
  EXPECT_LE(*first, 1s);

  manager->retry_due(t0 + 500ms);  // not due yet
  EXPECT_EQ(backends.flaky_failures, 1);
  manager->retry_due(t0 + 1s);  // fails again: the next one waits twice as long
  EXPECT_EQ(backends.flaky_failures, 0);
  EXPECT_EQ(manager->size(), 0u);
  EXPECT_EQ(manager->next_retry(t0 + 1s), std::optional<Manager::Clock::duration>(2s));
  EXPECT_EQ(std::count(writes.begin(), writes.end(), "disk0/action/block_dev=0"), 0);

  manager->retry_due(t0 + 3s);
  ASSERT_EQ(manager->size(), 1u);
  EXPECT_FALSE(manager->next_retry(t0 + 3s)) << "nothing left to retry";
  EXPECT_EQ(writes.back(), "disk0/action/block_dev=0");
  EXPECT_EQ(command(emu, {0, 0, 0, 0, 0, 0}, 0, 1).status, 0x02) << "power-on unit attention";
  EXPECT_EQ(command(emu, {0, 0, 0, 0, 0, 0}, 0, 2).status, 0x00);
}

// Another lunkitd serving /dev/uio0 holds a flock on its fd: this one must not block or reset it,
// nor open its storage. Regular files stand in for /dev/uio0 (flock works the same on them).
TEST_F(ManagerTest, ADeviceAnotherProcessHoldsIsLeftAlone) {
  RingEmulator& emu = add(0, 0, "disk0", "ram/");
  std::string uio0 = sys.paths.dev + "/uio0";
  test::FakeSystem::write(uio0, "");
  std::filesystem::resize_file(uio0, emu.map_size());  // zeros: not a mailbox
  Manager real_opener(cfs);                            // opens <dev>/uio<minor>, as lunkitd does
  real_opener.add_backend("ram", &backends);

  UniqueFd other(open(uio0.c_str(), O_RDWR | O_CLOEXEC));  // the other daemon's open file
  ASSERT_EQ(flock(other.get(), LOCK_EX | LOCK_NB), 0);
  real_opener.attach_existing();
  EXPECT_EQ(writes, (std::vector<std::string>{
                        "target_core_user/parameters/block_netlink=1",
                        "target_core_user/parameters/reset_netlink=1",
                        "target_core_user/parameters/block_netlink=0",
                    }));
  EXPECT_EQ(backends.opened, 0);
  EXPECT_EQ(real_opener.size(), 0u);

  // Once the other holder is gone the device is ours to reset (the fake uio0, all zeros, is then
  // refused as a mailbox, which shows that the attach went on).
  other.reset();
  writes.clear();
  real_opener.attach_existing();
  EXPECT_EQ(writes[2], "disk0/action/block_dev=1");
  EXPECT_EQ(writes[3], "disk0/action/reset_ring=1");
  EXPECT_EQ(backends.opened, 1);
}

// Devices enabled before lunkitd told the kernel to wait for replies keep nl_reply_supported=0
// and the kernel would ignore lunkit's answers for them; an admin's -1 (never wait) stays.
TEST_F(ManagerTest, EachDeviceIsToldToWaitForLunkitsAnswers) {
  add(0, 0, "early", "ram/");
  add(1, 0, "never", "ram/");
  add(2, 0, "later", "ram/");
  std::string attrib = sys.paths.configfs_core + "/user_0/";
  test::FakeSystem::write(attrib + "never/attrib/nl_reply_supported", "-1\n");
  test::FakeSystem::write(attrib + "later/attrib/nl_reply_supported", "1\n");
  manager->attach_existing();
  ASSERT_EQ(manager->size(), 3u);
  EXPECT_EQ(test::FakeSystem::read(attrib + "early/attrib/nl_reply_supported"), "1\n");
  EXPECT_EQ(test::FakeSystem::read(attrib + "never/attrib/nl_reply_supported"), "-1\n");
  EXPECT_EQ(test::FakeSystem::read(attrib + "later/attrib/nl_reply_supported"), "1\n");
  EXPECT_EQ(std::count(writes.begin(), writes.end(), "early/attrib/nl_reply_supported=1"), 1);
  for (const auto& w : writes) EXPECT_EQ(w.find("never/attrib/nl_reply"), std::string::npos) << w;
  for (const auto& w : writes) EXPECT_EQ(w.find("later/attrib/nl_reply"), std::string::npos) << w;
}

// Captures lunkit's log lines for one test.
class LogCapture {
 public:
  LogCapture() : saved_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>(
        "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(text_)));
  }
  ~LogCapture() { spdlog::set_default_logger(saved_); }
  size_t count(const std::string& what) const {
    std::string t = text_.str();
    size_t n = 0;
    for (size_t at = t.find(what); at != std::string::npos; at = t.find(what, at + 1)) ++n;
    return n;
  }
  std::string text() const { return text_.str(); }

 private:
  std::ostringstream text_;
  std::shared_ptr<spdlog::logger> saved_;
};

// A hostile entry (length 0) breaks the ring: one log line however many doorbells follow, then
// the device is reattached with block_dev/reset_ring and serves commands again.
TEST_F(ManagerTest, ABrokenRingIsLoggedOnceAndTheDeviceReattachedWithResetRing) {
  LogCapture log;
  RingEmulator& emu = add(0, 0, "disk0", "ram/");
  on_write = [&](const std::string& path) {
    if (path.ends_with("/disk0/action/reset_ring")) emu.reset_ring(0x08);  // BUSY, as the kernel
  };
  manager->attach_existing();
  EXPECT_EQ(command(emu, {0, 0, 0, 0, 0, 0}, 0, 1).status, 0x02) << "power-on unit attention";
  writes.clear();

  std::vector<uint8_t> zero(16, 0);
  uint32_t len_op = make_len_op(0, kOpCmd);
  std::memcpy(zero.data(), &len_op, sizeof len_op);
  ASSERT_TRUE(emu.submit_raw(zero, 16, false));
  pollfd repair{manager->repair_fd(), POLLIN, 0};
  ASSERT_EQ(poll(&repair, 1, 10000), 1) << "the device never reported its broken ring";
  for (int i = 0; i < 5; ++i) emu.notify();  // more doorbells on the broken ring
  manager->repair_broken();
  EXPECT_EQ(writes, (std::vector<std::string>{
                        "disk0/action/block_dev=1",
                        "disk0/action/block_dev=1",
                        "disk0/action/reset_ring=1",
                        "disk0/attrib/tmr_notification=1",
                        "disk0/action/block_dev=0",
                    }));
  ASSERT_NE(manager->device(0), nullptr);
  EXPECT_EQ(command(emu, {0, 0, 0, 0, 0, 0}, 0, 2).status, 0x02) << "a new unit: unit attention";
  EXPECT_EQ(command(emu, {0, 0, 0, 0, 0, 0}, 0, 3).status, 0x00) << "the device serves again";
  manager->shutdown();
  EXPECT_EQ(log.count("command ring is broken"), 1u) << log.text();
  EXPECT_EQ(log.count("reattaching with reset_ring"), 1u) << log.text();
}

TEST_F(ManagerTest, NetlinkAddReconfigRemove) {
  RingEmulator& emu = add(5, 2, "lun5", "ram/");
  // Enabled while lunkitd runs: the kernel copied its "wait for replies" into the device.
  test::FakeSystem::write(sys.paths.configfs_core + "/user_2/lun5/attrib/nl_reply_supported",
                          "1\n");
  deliver(event(genl::kAddedDevice, 5, "tcm-user/2/lun5/ram/"));
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].cmd, genl::kAddedDeviceDone);
  EXPECT_EQ(replies[0].status, 0);
  EXPECT_EQ(replies[0].device_id, 105u);
  EXPECT_EQ(writes, (std::vector<std::string>{"lun5/attrib/tmr_notification=1"}))
      << "a new device needs no block/reset, nor nl_reply_supported: only TMR notification";
  command(emu, {0, 0, 0, 0, 0, 0}, 0, 1);

  NetlinkEvent grow = event(genl::kReconfigDevice, 5, "tcm-user/2/lun5/ram/");
  grow.dev_size = 8 << 20;
  deliver(grow);
  EXPECT_EQ(replies.back().cmd, genl::kReconfigDeviceDone);
  EXPECT_EQ(replies.back().status, 0);
  auto ua = command(emu, {0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 8, 2);
  ASSERT_EQ(ua.sense.size(), 96u);
  EXPECT_EQ(ua.sense[12], 0x2A);
  EXPECT_EQ(ua.sense[13], 0x09);
  auto cap = command(emu, {0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 8, 3);
  EXPECT_EQ(cap.data, (std::vector<uint8_t>{0, 0, 0x3F, 0xFF, 0, 0, 2, 0}));

  NetlinkEvent wc = event(genl::kReconfigDevice, 5, "tcm-user/2/lun5/ram/");
  wc.write_cache = 0;
  deliver(wc);
  auto mode_ua = command(emu, {0, 0, 0, 0, 0, 0}, 0, 4);
  ASSERT_EQ(mode_ua.sense.size(), 96u);
  EXPECT_EQ(mode_ua.sense[12], 0x2A);
  EXPECT_EQ(mode_ua.sense[13], 0x01);

  NetlinkEvent cfg = event(genl::kReconfigDevice, 5, "tcm-user/2/lun5/ram/");
  cfg.dev_cfg = "ram/other";
  deliver(cfg);
  EXPECT_EQ(replies.back().status, 0) << "this test backend accepts everything";

  deliver(event(genl::kRemovedDevice, 5, "tcm-user/2/lun5/ram/"));
  EXPECT_EQ(replies.back().cmd, genl::kRemovedDeviceDone);
  EXPECT_EQ(replies.back().status, 0);
  EXPECT_EQ(manager->size(), 0u);
}

TEST_F(ManagerTest, AResizeTheHandlerRefusesChangesNothing) {
  RingEmulator& emu = add(5, 2, "lun5", "ram/");
  // Enabled while lunkitd runs: the kernel copied its "wait for replies" into the device.
  test::FakeSystem::write(sys.paths.configfs_core + "/user_2/lun5/attrib/nl_reply_supported",
                          "1\n");
  deliver(event(genl::kAddedDevice, 5, "tcm-user/2/lun5/ram/"));
  command(emu, {0, 0, 0, 0, 0, 0}, 0, 1);
  backends.refuse_resize = true;
  NetlinkEvent grow = event(genl::kReconfigDevice, 5, "tcm-user/2/lun5/ram/");
  grow.dev_size = 8 << 20;
  deliver(grow);
  EXPECT_EQ(replies.back().status, -EINVAL) << "the configfs write fails";
  auto cap = command(emu, {0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 8, 2);
  EXPECT_EQ(cap.status, 0) << "no unit attention";
  EXPECT_EQ(cap.data, (std::vector<uint8_t>{0, 0, 0x1F, 0xFF, 0, 0, 2, 0})) << "still 4 MiB";
}

TEST_F(ManagerTest, EventsLunkitCannotServeAreAnsweredWithErrors) {
  add(1, 0, "f", "file//x.img");
  deliver(event(genl::kAddedDevice, 1, "tcm-user/0/f/file//x.img"));
  EXPECT_EQ(replies.back().status, -ENOENT);
  deliver(event(genl::kAddedDevice, 9, "tcm-user/0/ghost/ram/"));  // no sysfs entry
  EXPECT_EQ(replies.back().status, -ENODEV);
  deliver(event(genl::kAddedDevice, 9, "garbage"));
  EXPECT_EQ(replies.back().status, -EINVAL);
  NetlinkEvent missing = event(genl::kAddedDevice, 1, "tcm-user/0/f/file//x.img");
  missing.minor.reset();
  deliver(missing);
  EXPECT_EQ(replies.back().status, -EINVAL);
  EXPECT_EQ(replies.back().device_id, 101u) << "answered with the id it carried";
  NetlinkEvent reconf = event(genl::kReconfigDevice, 7, "tcm-user/0/x/ram/");
  reconf.dev_size = 1;
  deliver(reconf);
  EXPECT_EQ(replies.back().status, -ENODEV);
  deliver(event(genl::kRemovedDevice, 7, "tcm-user/0/x/ram/"));
  EXPECT_EQ(replies.back().status, 0) << "removal is never held up";
  EXPECT_EQ(replies.size(), 6u) << "every event answered";
}

TEST_F(ManagerTest, ShutdownBlocksDrainsAndUnblocksEachDevice) {
  RingEmulator& emu = add(0, 0, "disk0", "ram/");
  manager->attach_existing();
  command(emu, {0, 0, 0, 0, 0, 0}, 0, 1);
  writes.clear();
  manager->shutdown();
  EXPECT_EQ(writes,
            (std::vector<std::string>{"disk0/action/block_dev=1", "disk0/action/block_dev=0"}));
  EXPECT_EQ(manager->size(), 0u);
}

// SIGTERM with 50 LUNs, one of them stuck opening its storage: the control thread (which
// attaches at start) is stuck with it, yet stop() gives up after its grace and shutdown() on the
// signal thread releases the 49 others and unblocks the stuck one at once. When the slow open
// returns at last, its device is closed on the spot instead of being served by a stopped daemon.
TEST_F(ManagerTest, StopsWithFiftyLunsWhileOneIsStuckOpeningItsStorage) {
  using namespace std::chrono_literals;
  for (uint32_t i = 0; i < 50; ++i)
    add(i, 0, "disk" + std::to_string(i), i == 17 ? "ram/slow" : "ram/", 1 << 20);
  auto control = std::make_unique<ControlLoop>(*manager, nullptr);
  control->start();
  ASSERT_TRUE(backends.wait_slow_entered());
  // The start-up scan goes in minor order: 0-16 are served, the rest wait behind disk17.
  EXPECT_EQ(manager->size(), 17u);
  EXPECT_EQ(manager->attaching(), 1u);
  EXPECT_FALSE(control->started_up());

  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(control->stop(200ms)) << "the control thread is inside the slow open";
  manager->shutdown();
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 10s) << "systemd's stop timeout is 90 s; the stop must not depend on the open";
  EXPECT_EQ(manager->size(), 0u);
  {
    std::lock_guard lock(writes_mu);
    EXPECT_EQ(std::count(writes.begin(), writes.end(), "disk17/action/block_dev=0"), 1)
        << "the stuck device is not left blocked";
    for (uint32_t i = 0; i < 17; ++i)
      EXPECT_EQ(std::count(writes.begin(), writes.end(),
                           "disk" + std::to_string(i) + "/action/block_dev=0"),
                2)
          << "disk" << i << ": unblocked after its reset at start, and after its drain";
    EXPECT_EQ(std::count(writes.begin(), writes.end(), "disk18/action/block_dev=1"), 0)
        << "nothing is attached once shutdown() began";
  }

  backends.release_slow();
  control.reset();  // joins: the slow open returns, and its device is closed again
  EXPECT_TRUE(backends.slow_opened);
  EXPECT_EQ(manager->size(), 0u) << "not served after the stop";
  EXPECT_EQ(manager->attaching(), 0u);
  EXPECT_EQ(backends.opened, 18);
}

// REPORT SUPPORTED OPERATION CODES names what the kernel answers for the LU itself: REPORT LUNS
// always, PR and RESERVE/RELEASE while attrib/pgr_support is 1.
TEST_F(ManagerTest, OperationCodesIncludeWhatTheKernelServes) {
  RingEmulator& emu = add(0, 0, "disk0", "ram/");
  RingEmulator& passthrough = add(1, 1, "disk1", "ram/");
  test::FakeSystem::write(sys.paths.configfs_core + "/user_1/disk1/attrib/pgr_support", "0\n");
  manager->attach_existing();
  auto rsoc = [](uint8_t options, uint8_t opcode, uint8_t sa) {
    return std::vector<uint8_t>{0xA3, 0x0C, options, opcode, 0, sa, 0, 0, 0, 64, 0, 0};
  };
  const std::vector<uint8_t> unsupported = {0, 0x01, 0, 0};
  command(emu, {0, 0, 0, 0, 0, 0}, 0, 1);  // the power-on unit attention
  EXPECT_EQ(
      command(emu, rsoc(1, 0xA0, 0), 64, 2).data,
      (std::vector<uint8_t>{0, 0x03, 0, 12, 0xA0, 0, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0}));
  EXPECT_EQ(command(emu, rsoc(2, 0x5E, 0), 64, 3).data,
            (std::vector<uint8_t>{0, 0x03, 0, 10, 0x5E, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0}));
  command(passthrough, {0, 0, 0, 0, 0, 0}, 0, 4);
  EXPECT_EQ(command(passthrough, rsoc(1, 0xA0, 0), 64, 5).data.size(), 16u);
  EXPECT_EQ(command(passthrough, rsoc(3, 0x5E, 0), 64, 6).data, unsupported);
  EXPECT_EQ(command(passthrough, rsoc(1, 0x16, 0), 64, 7).data, unsupported);
}

}  // namespace
}  // namespace lunkit::tcmu
