// The rbd handler against a live single-node Ceph cluster (tests/ceph/run-rbd-tests.sh starts one
// on 127.0.0.1 and names it in LUNKIT_CEPH_DIR): ring emulator -> transport -> libscsi -> rbd
// handler -> librbd -> the cluster's daemons. Outages are real: the OSD is paused, stopped and
// restarted, the monitor stopped, this client blocklisted.
#include <gtest/gtest.h>
#include <signal.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/plugin_rig.h"

namespace lunkit::plugins {
namespace {

using Clock = std::chrono::steady_clock;

std::string ceph_dir() {
  const char* d = std::getenv("LUNKIT_CEPH_DIR");
  return d ? d : "";
}
std::string conf() {
  return ceph_dir() + "/ceph.conf";
}

// Runs a shell command; returns its exit status and (with `out`) its standard output.
int sh(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[512];
  std::string text;
  while (fgets(buf, sizeof buf, p)) text += buf;
  int st = pclose(p);
  if (out) *out = text;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
int cluster(const std::string& what) {
  std::string src = std::getenv("LUNKIT_SRC_DIR") ? std::getenv("LUNKIT_SRC_DIR") : "../..";
  return sh(src + "/tests/ceph/ceph-cluster.sh " + what + " " + ceph_dir());
}
int rbd(const std::string& args, std::string* out = nullptr) {
  return sh("timeout 120 rbd -c " + conf() + " " + args, out);
}
int ceph(const std::string& args, std::string* out = nullptr) {
  return sh("timeout 120 ceph -c " + conf() + " " + args, out);
}

// A fresh image for each test; 64 KiB objects so that requests cross object boundaries.
class RbdImage {
 public:
  explicit RbdImage(const std::string& name, const std::string& size = "16M",
                    const std::string& extra = "--object-size 64K")
      : name_(name) {
    rbd("rm rbd/" + name_);
    EXPECT_EQ(rbd("create --size " + size + " " + extra + " rbd/" + name_), 0);
  }
  ~RbdImage() { rbd("rm --no-progress rbd/" + name_); }
  std::string cfg(const std::string& more = "") const {
    return "rbd/" + name_ + ";conf=" + conf() + ";osd_op_timeout=5" + more;
  }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

class Rbd : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(ceph_dir().empty()) << "run through tests/ceph/run-rbd-tests.sh";
    // Whatever a failed test did to the cluster, it starts whole.
    cluster("resume-osd");
    cluster("start-osd");
    cluster("start-mon");
  }
  std::unique_ptr<Rig> open(const RbdImage& image, uint64_t size = 16 << 20,
                            const std::string& more = "") {
    auto rig =
        std::make_unique<Rig>(test::handler_build_dir(), "rbd.so", params(image.cfg(more), size));
    EXPECT_TRUE(rig->ok()) << rig->error();
    return rig;
  }
};

Bytes read_capacity16() {
  return {0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0};
}
uint64_t last_lba(const Outcome& o) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | o.data[i];
  return v;
}

TEST_F(Rbd, PatternsAcrossObjectsReadBack) {
  RbdImage img("patterns");
  auto rig = open(img);
  ASSERT_TRUE(rig->ok());
  // 64 KiB objects: LBA 120 + 16 blocks crosses the first boundary (LBA 128).
  struct {
    uint32_t lba;
    uint16_t blocks;
  } spots[] = {{0, 8}, {120, 16}, {1000, 256}, {32760, 8}};
  uint8_t seed = 1;
  for (auto s : spots)
    EXPECT_EQ(rig->run(cdb10(0x2A, s.lba, s.blocks), pattern(s.blocks * 512u, seed++)).status, 0);
  seed = 1;
  for (auto s : spots) {
    Outcome o = rig->run(cdb10(0x28, s.lba, s.blocks), {}, s.blocks * 512u);
    EXPECT_EQ(o.status, 0);
    EXPECT_EQ(o.data, pattern(s.blocks * 512u, seed++)) << "LBA " << s.lba;
  }
  EXPECT_EQ(rig->run(cdb10(0x2A, 50, 8, 0x08), pattern(4096, 77)).status, 0) << "FUA write";
  EXPECT_EQ(rig->run(cdb10(0x35, 0, 0)).status, 0) << "SYNCHRONIZE CACHE";
  // Another client sees what lunkit wrote: the data is in the cluster.
  std::string path = "/tmp/lunkit-rbd-export-" + std::to_string(getpid());
  ASSERT_EQ(rbd("export --no-progress rbd/patterns " + path), 0);
  FILE* f = fopen(path.c_str(), "rb");
  ASSERT_NE(f, nullptr);
  Bytes got(4096);
  fseek(f, 50 * 512, SEEK_SET);
  ASSERT_EQ(fread(got.data(), 1, got.size(), f), got.size());
  fclose(f);
  unlink(path.c_str());
  EXPECT_EQ(got, pattern(4096, 77));
}

TEST_F(Rbd, CapabilitiesComeFromTheImage) {
  RbdImage img("caps");
  auto rig = open(img);
  ASSERT_TRUE(rig->ok());
  Outcome cap = rig->run(read_capacity16(), {}, 32);
  ASSERT_EQ(cap.status, 0);
  EXPECT_EQ(last_lba(cap), (16u << 20) / 512 - 1);
  EXPECT_EQ(cap.data[14] & 0xC0, 0xC0)
      << "thin provisioned (LBPME) and unmapped reads zero (LBPRZ)";
  Outcome bl = rig->run({0x12, 0x01, 0xB0, 0, 64, 0}, {}, 64);  // VPD Block Limits
  ASSERT_EQ(bl.status, 0);
  uint32_t granularity = uint32_t(bl.data[6]) << 8 | bl.data[7];
  EXPECT_EQ(granularity, 65536u / 512) << "optimal transfer granularity = one object";
  // OPTIMAL UNMAP GRANULARITY (bytes 28-31): an unmap frees whole objects.
  uint32_t unmap_granularity = uint32_t(bl.data[28]) << 24 | uint32_t(bl.data[29]) << 16 |
                               uint32_t(bl.data[30]) << 8 | bl.data[31];
  EXPECT_EQ(unmap_granularity, 65536u / 512) << "unmap granularity = one object";
  EXPECT_TRUE(rig->backend().info().native_compare_and_write);
  // librbd's cache is off unless asked for: no volatile cache, and writes are durable (FUA).
  EXPECT_FALSE(rig->backend().info().write_cache);
  EXPECT_TRUE(rig->backend().info().fua);
  rig.reset();
  auto cached = open(img, 16 << 20, ";cache=1");
  ASSERT_TRUE(cached->ok());
  EXPECT_TRUE(cached->backend().info().write_cache) << "cache=1: reported as a write cache";
  EXPECT_FALSE(cached->backend().info().fua) << "FUA then means write + flush";
  Outcome caching = cached->run({0x1A, 0x08, 0x08, 0, 64, 0}, {}, 64);  // MODE SENSE caching page
  ASSERT_EQ(caching.status, 0);
  EXPECT_TRUE(caching.data[4 + 2] & 0x04) << "WCE";
}

TEST_F(Rbd, UnmapAndWriteSameReadBackZeros) {
  RbdImage img("zeros");
  auto rig = open(img);
  ASSERT_TRUE(rig->ok());
  for (uint32_t lba : {64u, 200u})
    EXPECT_EQ(rig->run(cdb10(0x2A, lba, 64), pattern(32768, 3)).status, 0);
  // UNMAP of a range that starts and ends inside objects: zeros all the same.
  EXPECT_EQ(rig->run({0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0}, unmap_list(70, 40)).status, 0);
  Outcome o = rig->run(cdb10(0x28, 64, 64), {}, 32768);
  Bytes want = pattern(32768, 3);
  std::fill(want.begin() + 6 * 512, want.begin() + 46 * 512, 0);
  EXPECT_EQ(o.data, want);
  // WRITE SAME (16) of zeros without UNMAP, then with it.
  Bytes ws = {0x93, 0, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0, 0, 32, 0, 0};
  EXPECT_EQ(rig->run(ws, Bytes(512, 0)).status, 0);
  ws[1] = 0x08;  // UNMAP
  ws[9] = 232;
  EXPECT_EQ(rig->run(ws, Bytes(512, 0)).status, 0);
  EXPECT_EQ(rig->run(cdb10(0x28, 200, 64), {}, 32768).data, Bytes(32768, 0));
}

TEST_F(Rbd, CompareAndWriteNative) {
  RbdImage img("caw");
  auto rig = open(img);
  ASSERT_TRUE(rig->ok());
  // librbd compares and writes one 512-byte sector: the LUN says so in VPD B0.
  Outcome bl = rig->run({0x12, 0x01, 0xB0, 0, 64, 0}, {}, 64);
  EXPECT_EQ(bl.data[5], 1) << "MAXIMUM COMPARE AND WRITE LENGTH";
  Bytes old_data = pattern(512, 5), new_data = pattern(512, 9);
  new_data[0] = old_data[0];  // the first difference is at byte 1
  ASSERT_EQ(rig->run(cdb10(0x2A, 10, 1), old_data).status, 0);
  Bytes caw = {0x89, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0};
  Bytes out = old_data;
  out.insert(out.end(), new_data.begin(), new_data.end());
  EXPECT_EQ(rig->run(caw, out).status, 0) << "the compare matched: written";
  EXPECT_EQ(rig->run(cdb10(0x28, 10, 1), {}, 512).data, new_data);
  // Stale compare data: MISCOMPARE, the offset of the first difference in INFORMATION.
  Outcome miss = rig->run(caw, out);
  EXPECT_EQ(miss.status, 2);
  EXPECT_EQ(miss.key(), 0x0E);
  EXPECT_EQ(miss.asc(), 0x1D);
  uint32_t info =
      uint32_t(miss.sense[3]) << 24 | miss.sense[4] << 16 | miss.sense[5] << 8 | miss.sense[6];
  EXPECT_EQ(info, 1u);
  EXPECT_EQ(rig->run(cdb10(0x28, 10, 1), {}, 512).data, new_data) << "nothing written";
  // Two blocks are more than the LUN reported: refused, nothing touched.
  Bytes caw2 = {0x89, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 2, 0, 0};
  Outcome big = rig->run(caw2, Bytes(2048, 0));
  EXPECT_EQ(big.status, 2);
  EXPECT_EQ(big.key(), 0x05);
  EXPECT_EQ(big.asc(), 0x24);
}

TEST_F(Rbd, ResizeWithRbdIsSeenAsAUnitAttention) {
  RbdImage img("grow");
  auto rig = open(img);
  ASSERT_TRUE(rig->ok());
  EXPECT_EQ(rig->run({0, 0, 0, 0, 0, 0}).status, 0);
  ASSERT_EQ(rbd("resize --no-progress --size 32M rbd/grow"), 0);
  // The header watch fires; the next command reports CAPACITY DATA HAS CHANGED.
  Outcome ua;
  for (int i = 0; i < 100; ++i) {
    ua = rig->run({0, 0, 0, 0, 0, 0});
    if (ua.status == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(ua.status, 2);
  EXPECT_EQ(ua.key(), 0x06);
  EXPECT_EQ(ua.asc(), 0x2A);
  EXPECT_EQ(ua.ascq(), 0x09);
  Outcome cap = rig->run(read_capacity16(), {}, 32);
  EXPECT_EQ(last_lba(cap), (32u << 20) / 512 - 1);
  Outcome tail = rig->run(cdb16(0x88, (32u << 20) / 512 - 8, 8), {}, 4096);
  EXPECT_EQ(tail.status, 0) << "the new end is readable";
}

TEST_F(Rbd, ResizeAskedForThroughConfigfsGrowsTheImage) {
  RbdImage img("reconfig");
  auto rig = open(img);
  ASSERT_TRUE(rig->ok());
  EXPECT_EQ(rig->backend().reconfigure(24 << 20, nullptr, -1), 0);
  std::string info;
  ASSERT_EQ(rbd("info --format json rbd/reconfig", &info), 0);
  EXPECT_NE(info.find("\"size\":25165824"), std::string::npos) << info;
  EXPECT_EQ(rig->backend().reconfigure(8 << 20, nullptr, -1), -EINVAL) << "never shrinks";
}

TEST_F(Rbd, OpenAndCheckConfigErrorsSayWhy) {
  auto plugin = Plugin::load(test::handler_build_dir() + "/rbd.so", false);
  ASSERT_TRUE(plugin) << plugin.error();
  struct Case {
    std::string cfg, says;
  } cases[] = {
      {"rbd/nope;conf=" + conf() + ";osd_op_timeout=5", "image 'rbd/nope' does not exist"},
      {"nopool/img;conf=" + conf() + ";osd_op_timeout=5", "pool 'nopool' does not exist"},
      {"justone", "rbd needs <pool>/<image>"},
      {"rbd/x;osd_op_timeout=0", "osd_op_timeout takes seconds"},
      {"rbd/x;colour=blue", "unknown rbd option 'colour'"},
      {"rbd/x;cache=yes", "cache takes 0 or 1"},
      {"rbd/x;conf=relative.conf", "absolute path"},
      {"rbd/x;conf=/nonexistent/ceph.conf", "/nonexistent/ceph.conf"},
  };
  for (const Case& c : cases) {
    auto r = plugin->get()->check_config(c.cfg);
    ASSERT_FALSE(r) << c.cfg;
    EXPECT_NE(r.error().find(c.says), std::string::npos) << c.cfg << ": " << r.error();
    auto dev = PluginBlockDevice::open(**plugin, params(c.cfg), nullptr);
    ASSERT_FALSE(dev) << c.cfg;
    EXPECT_NE(dev.error().find(c.says), std::string::npos) << c.cfg << ": " << dev.error();
  }
  std::string ls;
  rbd("ls rbd", &ls);
  EXPECT_EQ(ls.find("nope"), std::string::npos) << "checking created nothing";
  RbdImage img("checked");
  EXPECT_TRUE(plugin->get()->check_config(img.cfg())) << "an image that exists";
  // The LUN and the image must agree on the size.
  auto wrong = PluginBlockDevice::open(**plugin, params(img.cfg(), 8 << 20), nullptr);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().find("is 16777216 bytes but the LUN is 8388608"), std::string::npos)
      << wrong.error();
}

TEST_F(Rbd, TheDevicesOwnOptionWinsOverAppendedDefaults) {
  // lunkit.conf's per-handler defaults are appended after the device's cfgstring: the first
  // occurrence of a key is the device's own and must be the one used.
  auto plugin = Plugin::load(test::handler_build_dir() + "/rbd.so", false);
  ASSERT_TRUE(plugin) << plugin.error();
  struct Case {
    std::string cfg, says;
  } cases[] = {
      // The device's conf= reaches the cluster, the appended one would not be readable.
      {"rbd/nope;conf=" + conf() + ";osd_op_timeout=5;conf=/nonexistent/ceph.conf",
       "image 'rbd/nope' does not exist"},
      // The device's own (invalid) value is the one judged, not the appended valid default.
      {"rbd/x;osd_op_timeout=0;osd_op_timeout=5", "osd_op_timeout takes seconds"},
  };
  for (const Case& c : cases) {
    auto r = plugin->get()->check_config(c.cfg);
    ASSERT_FALSE(r) << c.cfg;
    EXPECT_NE(r.error().find(c.says), std::string::npos) << c.cfg << ": " << r.error();
  }
}

TEST_F(Rbd, AnUnreachableClusterIsReportedWithinTheTimeout) {
  // A configuration whose monitor address nobody listens on.
  std::string bad = "/tmp/lunkit-rbd-bad-" + std::to_string(getpid()) + ".conf";
  ASSERT_EQ(sh("sed 's/^mon_host = .*/mon_host = v2:127.0.0.1:9/' " + conf() + " > " + bad), 0);
  auto plugin = Plugin::load(test::handler_build_dir() + "/rbd.so", false);
  ASSERT_TRUE(plugin);
  auto t0 = Clock::now();
  auto r = plugin->get()->check_config("rbd/x;conf=" + bad + ";osd_op_timeout=3");
  double took = std::chrono::duration<double>(Clock::now() - t0).count();
  unlink(bad.c_str());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("cannot reach the Ceph cluster"), std::string::npos) << r.error();
  EXPECT_LT(took, 20.0) << "check_config answered within its timeout";
}

// Writes `blocks` blocks at `lba` until one completes GOOD; every other answer must be BUSY.
// Returns how many BUSY answers came first.
// FUA writes reach the cluster even when librbd caches.
int write_until_good(Rig& rig, uint32_t lba, const Bytes& data, int seconds, bool fua = false) {
  int busy = 0;
  auto deadline = Clock::now() + std::chrono::seconds(seconds);
  while (Clock::now() < deadline) {
    Bytes cdb = cdb10(0x2A, lba, static_cast<uint16_t>(data.size() / 512), fua ? 0x08 : 0);
    Outcome o = rig.wait(rig.submit(cdb, data), 30);
    if (o.status == 0) return busy;
    EXPECT_EQ(o.status, 0x08) << "an outage is BUSY, never a medium error (sense key " << o.key()
                              << ")";
    if (o.status != 0x08) return -1;
    ++busy;
  }
  ADD_FAILURE() << "no write succeeded within " << seconds << " s";
  return -1;
}

TEST_F(Rbd, AnOsdThatStopsAnsweringGivesBusyThenRecovers) {
  RbdImage img("pause");
  auto rig = open(img);
  ASSERT_TRUE(rig->ok());
  Bytes before = pattern(8192, 21);
  ASSERT_EQ(rig->run(cdb10(0x2A, 0, 16), before).status, 0);
  ASSERT_EQ(cluster("pause-osd"), 0);
  auto t0 = Clock::now();
  Outcome o = rig->wait(rig->submit(cdb10(0x2A, 100, 8), pattern(4096, 22)), 30);
  double took = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_EQ(o.status, 0x08) << "BUSY once osd_op_timeout passed";
  EXPECT_GE(took, 4.0);
  EXPECT_LT(took, 20.0) << "not a hang";
  o = rig->wait(rig->submit(cdb10(0x28, 0, 16), {}, 8192), 30);
  EXPECT_EQ(o.status, 0x08) << "reads too";
  ASSERT_EQ(cluster("resume-osd"), 0);
  EXPECT_GE(write_until_good(*rig, 100, pattern(4096, 22), 60), 0);
  EXPECT_EQ(rig->run(cdb10(0x28, 0, 16), {}, 8192).data, before) << "nothing lost";
  EXPECT_EQ(rig->run(cdb10(0x28, 100, 8), {}, 4096).data, pattern(4096, 22));
}

TEST_F(Rbd, AnOsdRestartLosesNothing) {
  RbdImage img("restart");
  auto rig = open(img);
  ASSERT_TRUE(rig->ok());
  Bytes before = pattern(65536, 31);
  ASSERT_EQ(rig->run(cdb10(0x2A, 256, 128), before).status, 0);
  ASSERT_EQ(rig->run(cdb10(0x35, 0, 0)).status, 0);
  ASSERT_EQ(cluster("stop-osd"), 0);
  // FUA: the write must be on the OSD when it completes, cache or not.
  Outcome o = rig->wait(rig->submit(cdb10(0x2A, 512, 8, 0x08), pattern(4096, 32)), 30);
  EXPECT_EQ(o.status, 0x08) << "BUSY while the OSD is down";
  ASSERT_EQ(cluster("start-osd"), 0);
  EXPECT_GE(write_until_good(*rig, 512, pattern(4096, 32), 120, true), 0);
  EXPECT_EQ(rig->run(cdb10(0x28, 256, 128), {}, 65536).data, before)
      << "data from before the restart";
  EXPECT_EQ(rig->run(cdb10(0x28, 512, 8), {}, 4096).data, pattern(4096, 32));
}

TEST_F(Rbd, IoGoesOnWithoutTheMonitor) {
  RbdImage img("nomon");
  auto rig = open(img);
  ASSERT_TRUE(rig->ok());
  ASSERT_EQ(cluster("stop-mon"), 0);
  // The OSD map is cached: data I/O needs no monitor. Whatever happens, never a medium error.
  EXPECT_GE(write_until_good(*rig, 8, pattern(4096, 41), 60), 0);
  Outcome o = rig->wait(rig->submit(cdb10(0x28, 8, 8), {}, 4096), 30);
  EXPECT_TRUE(o.status == 0 || o.status == 0x08);
  ASSERT_EQ(cluster("start-mon"), 0);
  EXPECT_GE(write_until_good(*rig, 16, pattern(4096, 42), 60), 0);
  EXPECT_EQ(rig->run(cdb10(0x28, 8, 8), {}, 4096).data, pattern(4096, 41));
}

// The address this process's client has on the image (rbd status lists watchers).
std::string watcher_address(const std::string& image) {
  std::string out;
  rbd("status --format json rbd/" + image, &out);
  size_t at = out.find("\"address\":\"");
  if (at == std::string::npos) return "";
  at += 11;
  return out.substr(at, out.find('"', at) - at);
}

// What the handler logs (lunkit_log goes to spdlog's default logger), for the test to wait on:
// the handler's own word that something happened is an event, a sleep is a guess.
class LogWatch {
 public:
  LogWatch() : sink_(std::make_shared<Sink>(this)) {
    spdlog::default_logger()->sinks().push_back(sink_);
  }
  ~LogWatch() {
    auto& sinks = spdlog::default_logger()->sinks();
    std::erase(sinks, sink_);
  }
  // Waits until a line containing `text` was logged; returns that line ("" after `seconds`).
  std::string wait_for(const std::string& text, int seconds) {
    std::unique_lock lock(mu_);
    std::string found;
    cv_.wait_for(lock, std::chrono::seconds(seconds), [&] {
      for (const auto& l : lines_)
        if (l.find(text) != std::string::npos) return !(found = l).empty();
      return false;
    });
    return found;
  }
  // Waits until `n` lines containing `text` were logged; returns how many there are then.
  int wait_count(const std::string& text, int n, int seconds) {
    std::unique_lock lock(mu_);
    int have = 0;
    cv_.wait_for(lock, std::chrono::seconds(seconds), [&] {
      have = 0;
      for (const auto& l : lines_) have += l.find(text) != std::string::npos;
      return have >= n;
    });
    return have;
  }
  int count(const std::string& text) {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& l : lines_) n += l.find(text) != std::string::npos;
    return n;
  }

 private:
  struct Sink : spdlog::sinks::base_sink<std::mutex> {
    explicit Sink(LogWatch* w) : watch(w) {}
    void sink_it_(const spdlog::details::log_msg& msg) override {
      std::lock_guard lock(watch->mu_);
      watch->lines_.emplace_back(msg.payload.data(), msg.payload.size());
      watch->cv_.notify_all();
    }
    void flush_() override {}
    LogWatch* watch;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  std::shared_ptr<spdlog::sinks::sink> sink_;
};

// The handler is blocklisted while writes are in flight, as on a busy LUN: every one
// of them fails with ESHUTDOWN and asks for a reconnect. Exactly one reconnect must follow (a
// second new instance breaks the first new instance's lock, librbd blocklists that one too,
// and the handler forgets the original entry); the new instance removes the original entry,
// which librbd adds once more when it breaks the old instance's lock at the first write.
TEST_F(Rbd, BlocklistingIsRecoveredWithoutReopening) {
  RbdImage img("fenced");
  LogWatch log;
  auto rig = open(img);
  ASSERT_TRUE(rig->ok());
  Bytes before = pattern(4096, 51);
  ASSERT_EQ(rig->run(cdb10(0x2A, 0, 8), before).status, 0);  // this instance takes the lock
  std::string addr = watcher_address("fenced");
  ASSERT_FALSE(addr.empty());
  ASSERT_EQ(ceph("osd blocklist add " + addr), 0);
  // Until the OSD has the new map the fenced instance's writes still succeed. 8 writes stay in
  // flight (one goes out as one comes back) until the handler has reconnected, so commands of
  // the old instance are in flight while it does, as on a busy LUN. Each wait is for a
  // command's own answer: nothing sleeps.
  constexpr int kWindow = 8;
  bool refused = false;
  int sent = 0;
  std::deque<uint64_t> window;
  auto send = [&] {
    window.push_back(
        rig->submit(cdb10(0x2A, 64 + 8 * (sent++ % kWindow), 8, 0x08), pattern(4096, 53)));
  };
  for (int i = 0; i < kWindow; ++i) send();
  auto deadline = Clock::now() + std::chrono::seconds(120);
  while (!window.empty()) {
    Outcome o = rig->wait(window.front(), 30);
    window.pop_front();
    if (o.status == 0x08)
      refused = true;
    else
      EXPECT_EQ(o.status, 0) << "GOOD or BUSY, never a medium error (sense key " << o.key() << ")";
    bool reconnected = !log.wait_for("reconnected to image", 0).empty();
    if (!(refused && reconnected) && Clock::now() < deadline) send();
  }
  ASSERT_TRUE(refused) << "the fenced instance's writes were never refused";
  // BUSY while the handler reconnects as a new client instance; then they work.
  EXPECT_GE(write_until_good(*rig, 8, pattern(4096, 52), 120, true), 0);
  EXPECT_EQ(rig->run(cdb10(0x28, 0, 8), {}, 4096).data, before);
  EXPECT_EQ(rig->run(cdb10(0x28, 8, 8), {}, 4096).data, pattern(4096, 52));
  std::string now = watcher_address("fenced");
  EXPECT_FALSE(now.empty());
  EXPECT_NE(now, addr) << "a new client instance";
  // The handler says when it removed the entry (after the first GOOD write); then the list
  // is read once.
  std::string removed = log.wait_for("removing the old blocklist entry", 60);
  ASSERT_FALSE(removed.empty()) << "the handler never removed the stale entry";
  EXPECT_NE(removed.find(": done"), std::string::npos) << removed;
  EXPECT_EQ(log.count("the cluster blocklisted this client"), 1)
      << "one reconnect per blocklisting";
  EXPECT_EQ(log.count("reconnected to image"), 1) << "one new client instance";
  std::string list;
  ASSERT_EQ(ceph("osd blocklist ls", &list), 0);
  EXPECT_EQ(list.find(addr), std::string::npos) << "the stale entry stayed: " << list;
  EXPECT_EQ(list.find(now), std::string::npos) << "the new instance is blocklisted: " << list;
}

// The threads of this process (/proc/self/task).
int thread_count() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

// Every image of the process with the same cluster options is on one cluster connection: one
// client instance (one watcher address for all), opened with the first image and shut down with
// the last. Other options that change the connection get one of their own.
TEST_F(Rbd, ImagesWithTheSameOptionsShareOneClusterConnection) {
  RbdImage i1("share1"), i2("share2"), i3("share3");
  LogWatch log;
  auto a = open(i1);
  auto b = open(i2);
  auto c = open(i3);
  ASSERT_TRUE(a->ok() && b->ok() && c->ok());
  EXPECT_EQ(log.count(" connected ("), 1) << "one connection for three images";
  EXPECT_NE(log.wait_for(" connected (", 0).find("1 cluster connection open"), std::string::npos);
  for (auto* rig : {a.get(), b.get(), c.get()})
    EXPECT_EQ(rig->run(cdb10(0x2A, 0, 8), pattern(4096, 81)).status, 0);
  std::string addr = watcher_address("share1");
  ASSERT_FALSE(addr.empty());
  EXPECT_EQ(watcher_address("share2"), addr) << "the same client instance";
  EXPECT_EQ(watcher_address("share3"), addr);
  // The same image with librbd's cache on: a connection of its own (rbd_cache is the client's).
  RbdImage i4("share4");
  auto d = open(i4, 16 << 20, ";cache=1");
  ASSERT_TRUE(d->ok());
  EXPECT_EQ(log.count(" connected ("), 2);
  EXPECT_NE(watcher_address("share4"), addr);
  d.reset();
  EXPECT_EQ(log.count("shut down: no image uses it; 1 cluster connection open"), 1);
  a.reset();
  b.reset();
  EXPECT_EQ(log.count("shut down"), 1) << "the shared connection outlives its first images";
  EXPECT_EQ(c->run(cdb10(0x28, 0, 8), {}, 4096).data, pattern(4096, 81)) << "and serves the rest";
  c.reset();
  EXPECT_EQ(log.count("shut down: no image uses it; 0 cluster connections open"), 1)
      << "the last image shuts it down";
  // A new image after that connects again.
  auto e = open(i1);
  ASSERT_TRUE(e->ok());
  EXPECT_EQ(log.count(" connected ("), 3);
}

// check_config runs on up to four D-Bus threads at once while images open and close on the
// attaching thread: checks use the shared connection when one is up (and may be the last to let
// go of it), nothing deadlocks, every answer is right.
TEST_F(Rbd, ChecksOnFourThreadsWhileImagesOpenAndClose) {
  RbdImage img("checked4");
  auto plugin = Plugin::load(test::handler_build_dir() + "/rbd.so", false);
  ASSERT_TRUE(plugin) << plugin.error();
  std::atomic<int> good{0}, bad{0};
  std::vector<std::thread> checkers;
  for (int t = 0; t < 4; ++t)
    checkers.emplace_back([&] {
      for (int i = 0; i < 6; ++i) (plugin->get()->check_config(img.cfg()) ? good : bad)++;
    });
  for (int i = 0; i < 4; ++i) {
    auto dev = PluginBlockDevice::open(**plugin, params(img.cfg(), 16 << 20), nullptr);
    EXPECT_TRUE(dev) << dev.error();
  }
  for (auto& t : checkers) t.join();
  EXPECT_EQ(good.load(), 24);
  EXPECT_EQ(bad.load(), 0);
}

// Three images on one connection; the cluster blocklists it (as when another gateway breaks one
// image's lock: librbd blocklists the whole client). Every image on it is fenced, the busy one
// and the idle ones: the first to see it moves to a new connection and tells the others, who move
// onto the same one without waiting for an I/O of their own to fail. What the others' initiators
// see is what a failover shows: BUSY, never an error, and the data stays.
TEST_F(Rbd, OneImagesBlocklistRecoveryLeavesTheOthersWorking) {
  RbdImage i1("fence1"), i2("fence2"), i3("fence3");
  LogWatch log;
  auto a = open(i1);
  auto b = open(i2);
  auto c = open(i3);
  ASSERT_TRUE(a->ok() && b->ok() && c->ok());
  std::vector<Rig*> rigs{a.get(), b.get(), c.get()};
  for (size_t i = 0; i < rigs.size(); ++i)  // each instance takes its image's lock
    ASSERT_EQ(rigs[i]->run(cdb10(0x2A, 0, 8), pattern(4096, 90 + i)).status, 0);
  std::string addr = watcher_address("fence1");
  ASSERT_FALSE(addr.empty());
  ASSERT_EQ(watcher_address("fence2"), addr);
  ASSERT_EQ(ceph("osd blocklist add " + addr), 0);
  // Only a writes; b and c are idle. Until the OSD has the new map a's writes may still succeed:
  // write until one is refused (each wait is for a command's own answer), then until it works.
  bool refused = false;
  for (auto deadline = Clock::now() + std::chrono::seconds(60);
       !refused && Clock::now() < deadline;) {
    Outcome o = a->run(cdb10(0x2A, 8, 8, 0x08), pattern(4096, 99));
    refused = o.status == 0x08;
    if (!refused) {
      ASSERT_EQ(o.status, 0) << "GOOD or BUSY, never an error";
    }
  }
  ASSERT_TRUE(refused) << "the fenced client's writes were never refused";
  EXPECT_GE(write_until_good(*a, 8, pattern(4096, 99), 120, true), 0);
  // b and c move without an I/O of theirs: the log says so three times in all.
  EXPECT_EQ(log.wait_count("reconnected to image", 3, 120), 3)
      << "every image on the fenced connection moved";
  EXPECT_EQ(log.count("the cluster blocklisted this client") +
                log.count("another image found ceph client"),
            3)
      << "one reconnect per image";
  // b and c: BUSY at most while their new instance takes the lock, then GOOD; nothing lost.
  for (size_t i = 1; i < rigs.size(); ++i) {
    EXPECT_GE(write_until_good(*rigs[i], 8, pattern(4096, 99), 120), 0) << "image " << i;
    EXPECT_EQ(rigs[i]->run(cdb10(0x28, 0, 8), {}, 4096).data, pattern(4096, 90 + i));
  }
  EXPECT_EQ(a->run(cdb10(0x28, 0, 8), {}, 4096).data, pattern(4096, 90));
  std::string now = watcher_address("fence1");
  EXPECT_FALSE(now.empty());
  EXPECT_NE(now, addr) << "a new client instance";
  EXPECT_EQ(watcher_address("fence2"), now) << "all three on the one new connection";
  EXPECT_EQ(watcher_address("fence3"), now);
  EXPECT_EQ(log.count(" connected ("), 2) << "the first and the new one";
  std::string first = log.wait_for(" connected (", 0);
  size_t at = first.find("ceph client ");
  ASSERT_NE(at, std::string::npos) << first;
  std::string old_client = first.substr(at, first.find(" connected") - at);
  EXPECT_FALSE(log.wait_for(old_client + " shut down", 10).empty())
      << "the fenced connection ends when its last image left it";
  // The stale entry goes once every image that was on it has written (each write broke an old
  // lock, and librbd blocklisted the old address again each time).
  std::string removed = log.wait_for("removing the old blocklist entry", 60);
  ASSERT_FALSE(removed.empty()) << "the handler never removed the stale entry";
  EXPECT_NE(removed.find(": done"), std::string::npos) << removed;
  EXPECT_EQ(log.count("removing the old blocklist entry"), 1);
  std::string list;
  ASSERT_EQ(ceph("osd blocklist ls", &list), 0);
  EXPECT_EQ(list.find(addr), std::string::npos) << "the stale entry stayed: " << list;
  EXPECT_EQ(list.find(now), std::string::npos) << "the new instance is blocklisted: " << list;
}

// The threads one process runs for 16 open images (the handler's share: no device loops or
// worker pools, which lunkitd has anyway). Reported on stdout for bench/results.
TEST_F(Rbd, SixteenImagesRunOneClientsThreads) {
  constexpr int kImages = 16;
  std::vector<std::unique_ptr<RbdImage>> images;
  for (int i = 0; i < kImages; ++i)
    images.push_back(std::make_unique<RbdImage>("threads" + std::to_string(i)));
  auto plugin = Plugin::load(test::handler_build_dir() + "/rbd.so", false);
  ASSERT_TRUE(plugin) << plugin.error();
  int before = thread_count();
  std::vector<std::unique_ptr<PluginBlockDevice>> devs;
  int with_one = 0;
  for (auto& img : images) {
    auto dev = PluginBlockDevice::open(**plugin, params(img->cfg(), 16 << 20), nullptr);
    ASSERT_TRUE(dev) << dev.error();
    devs.push_back(std::move(*dev));
    if (devs.size() == 1) with_one = thread_count();
  }
  int with_all = thread_count();
  std::printf("rbd threads: %d before, %d with 1 image (+%d), %d with %d images (+%d)\n", before,
              with_one, with_one - before, with_all, kImages, with_all - before);
  RecordProperty("threads_1_image", with_one - before);
  RecordProperty("threads_16_images", with_all - before);
  // Each image beyond the first adds its maintenance thread, not a client's threads.
  EXPECT_LE(with_all - with_one, 2 * (kImages - 1));
  devs.clear();
  EXPECT_LE(thread_count(), before + 1) << "closing the last image ends the client's threads";
}

TEST_F(Rbd, AnImageHeldExclusivelyRefusesWritesAtOnce) {
  RbdImage img("held");
  std::string holder =
      std::string(std::getenv("LUNKIT_BUILD_DIR") ? std::getenv("LUNKIT_BUILD_DIR") : ".") +
      "/tests/ceph/hold_lock";
  // Whatever an assertion below does, the holder goes when this does (it would keep the lock and
  // outlive the cluster otherwise).
  struct Holder {
    std::string kill;
    FILE* pipe;
    void stop() {
      if (!pipe) return;
      // pkill's status says little (it may match the shell running it); the write after says more.
      sh(kill);
      pclose(pipe);
      pipe = nullptr;
    }
    ~Holder() { stop(); }
  } held{"pkill -f 'hold_lock " + conf() + "'",
         popen((holder + " " + conf() + " rbd held").c_str(), "r")};
  ASSERT_NE(held.pipe, nullptr);
  char line[64] = {};
  ASSERT_NE(fgets(line, sizeof line, held.pipe), nullptr);
  ASSERT_STREQ(line, "locked\n");
  {
    auto rig = open(img);
    ASSERT_TRUE(rig->ok());
    EXPECT_EQ(rig->run(cdb10(0x28, 0, 8), {}, 4096).status, 0) << "reads need no lock";
    auto t0 = Clock::now();
    Outcome o = rig->run(cdb10(0x2A, 0, 8), pattern(4096, 71));
    double took = std::chrono::duration<double>(Clock::now() - t0).count();
    EXPECT_EQ(o.status, 2);
    EXPECT_EQ(o.key(), 0x07) << "DATA PROTECT";
    EXPECT_EQ(o.asc(), 0x27) << "WRITE PROTECTED";
    EXPECT_LT(took, 10.0) << "reported, not retried";
  }
  held.stop();
  auto rig = open(img);
  ASSERT_TRUE(rig->ok());
  EXPECT_EQ(rig->run(cdb10(0x2A, 0, 8), pattern(4096, 72)).status, 0) << "once the holder is gone";
}

TEST_F(Rbd, ClientsThatHandTheLockOverShareTheImage) {
  RbdImage img("shared");
  auto a = open(img);
  ASSERT_TRUE(a->ok());
  ASSERT_EQ(a->run(cdb10(0x2A, 0, 8), pattern(4096, 61)).status, 0);  // a takes the lock
  auto b = open(img);  // the lock is a's, but a hands it over on request
  ASSERT_TRUE(b->ok());
  EXPECT_EQ(b->run(cdb10(0x2A, 8, 8), pattern(4096, 62)).status, 0);
  EXPECT_EQ(a->run(cdb10(0x2A, 16, 8), pattern(4096, 63)).status, 0) << "and back";
  EXPECT_EQ(b->run(cdb10(0x2A, 24, 8), pattern(4096, 64)).status, 0);
  EXPECT_EQ(a->run(cdb10(0x28, 8, 8), {}, 4096).data, pattern(4096, 62));
  EXPECT_EQ(b->run(cdb10(0x28, 16, 8), {}, 4096).data, pattern(4096, 63));
}

}  // namespace
}  // namespace lunkit::plugins
