// The public C API of libscsi (lunkit/scsi.h), linked against the installed library's objects
// (liblunkit-scsi: only what it exports): CDBs in, status, sense and Data-In out, over block
// callbacks that complete at once or later on another thread.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lunkit/scsi.h"

extern "C" int lunkit_scsi_c_header_check(void);  // scsi_c_api_header_test.c, compiled as C

namespace {

// Memory of `blocks` blocks. With `later`, every request completes on a thread of its own
// after the callback returned; `fail_with` completes reads and writes with that errno.
struct Storage {
  explicit Storage(uint64_t bytes) : bytes(bytes) {}
  std::vector<uint8_t> bytes;
  bool later = false;
  int fail_with = 0;
  std::atomic<int> reads{0}, writes{0}, zeroes{0}, unmaps{0}, flushes{0};
  std::atomic<uint32_t> last_zero_flags{0};
  std::atomic<int> completed_elsewhere{0};

  void finish(lunkit_scsi_io* io, std::function<void()> work) {
    if (!later) {
      work();
      return lunkit_scsi_io_complete(io, fail_with);
    }
    std::lock_guard lock(threads_mu);
    threads.emplace_back([this, io, work = std::move(work)] {
      work();
      ++completed_elsewhere;
      lunkit_scsi_io_complete(io, fail_with);
    });
  }
  // After join(), every done function those threads ran has returned.
  void join() {
    for (;;) {  // a request's completion may start the next request's thread
      std::vector<std::thread> running;
      {
        std::lock_guard lock(threads_mu);
        running.swap(threads);
      }
      if (running.empty()) return;
      for (auto& t : running) t.join();
    }
  }
  std::mutex threads_mu;
  std::vector<std::thread> threads;
  static Storage& of(void* ctx) { return *static_cast<Storage*>(ctx); }
  static void read(void* ctx, lunkit_scsi_io* io, uint64_t off, uint64_t, const iovec* iov, int n) {
    Storage& s = of(ctx);
    ++s.reads;
    s.finish(io, [&s, off, iov, n] {
      uint64_t at = off;
      for (int i = 0; i < n; at += iov[i].iov_len, ++i)
        std::memcpy(iov[i].iov_base, s.bytes.data() + at, iov[i].iov_len);
    });
  }
  static void write(void* ctx, lunkit_scsi_io* io, uint64_t off, uint64_t, const iovec* iov, int n,
                    uint32_t) {
    Storage& s = of(ctx);
    ++s.writes;
    s.finish(io, [&s, off, iov, n] {
      uint64_t at = off;
      for (int i = 0; i < n; at += iov[i].iov_len, ++i)
        std::memcpy(s.bytes.data() + at, iov[i].iov_base, iov[i].iov_len);
    });
  }
  static void write_zeroes(void* ctx, lunkit_scsi_io* io, uint64_t off, uint64_t len,
                           uint32_t flags) {
    Storage& s = of(ctx);
    ++s.zeroes;
    s.last_zero_flags = flags;
    std::memset(s.bytes.data() + off, 0, len);
    lunkit_scsi_io_complete(io, 0);
  }
  static void unmap(void* ctx, lunkit_scsi_io* io, uint64_t off, uint64_t len) {
    Storage& s = of(ctx);
    ++s.unmaps;
    std::memset(s.bytes.data() + off, 0, len);
    lunkit_scsi_io_complete(io, 0);
  }
  static void flush(void* ctx, lunkit_scsi_io* io) {
    ++of(ctx).flushes;
    lunkit_scsi_io_complete(io, 0);
  }
};

struct Answer {
  uint8_t status = 0xff;
  std::vector<uint8_t> sense;
  std::vector<uint8_t> data;  // the Data-In produced
  size_t data_in = 0;
};

// Completions arrive on whatever thread completed the last request: collected under a lock.
struct Done {
  std::mutex mu;
  std::condition_variable cv;
  int count = 0;
  static void fn(void* ctx, lunkit_scsi_cmd*) {
    auto* d = static_cast<Done*>(ctx);
    {
      std::lock_guard lock(d->mu);
      ++d->count;
    }
    d->cv.notify_all();
  }
};

class ScsiCApiTest : public ::testing::Test {
 protected:
  ScsiCApiTest() {
    dev.size = sizeof dev;
    dev.num_blocks = 2048;
    dev.logical_block_size = 512;
    dev.capabilities =
        LUNKIT_SCSI_CAP_THIN | LUNKIT_SCSI_CAP_UNMAP_ZEROES | LUNKIT_SCSI_CAP_WRITE_CACHE;
    dev.vendor = "ACME";
    dev.product = "c-api disk";
    dev.unit_serial = "5c51c0de-0000-4b0e-9c36-000000000c0a";
    dev.context = &storage;
    dev.read = &Storage::read;
    dev.write = &Storage::write;
    dev.write_zeroes = &Storage::write_zeroes;
    dev.unmap = &Storage::unmap;
    dev.flush = &Storage::flush;
    EXPECT_EQ(lunkit_scsi_cmd_new(&cmd), 0);
  }
  ~ScsiCApiTest() override {
    storage.join();
    EXPECT_EQ(lunkit_scsi_lu_free(lu), 0) << lunkit_scsi_last_error();
    lunkit_scsi_cmd_free(cmd);
  }
  void open() {
    ASSERT_EQ(lunkit_scsi_lu_new(&dev, &Done::fn, &done, &lu), 0) << lunkit_scsi_last_error();
  }
  // Submits and waits for the completion.
  Answer run(std::vector<uint8_t> cdb, size_t in_len, std::vector<uint8_t> out = {},
             int direction = LUNKIT_SCSI_DIR_UNKNOWN) {
    std::vector<uint8_t> buffer = out.empty() ? std::vector<uint8_t>(in_len, 0xEE) : out;
    iovec iov{buffer.data(), buffer.size()};
    int before;
    {
      std::lock_guard lock(done.mu);
      before = done.count;
    }
    int rc = lunkit_scsi_submit(lu, cmd, cdb.data(), cdb.size(), &iov, buffer.empty() ? 0 : 1,
                                direction, this);
    EXPECT_EQ(rc, 0) << lunkit_scsi_last_error();
    std::unique_lock lock(done.mu);
    EXPECT_TRUE(done.cv.wait_for(lock, std::chrono::seconds(10), [&] {
      return done.count > before;
    })) << "the command never completed";
    EXPECT_EQ(done.count, before + 1) << "completed exactly once";
    Answer a;
    a.status = lunkit_scsi_cmd_status(cmd);
    size_t sense_len = 0;
    const uint8_t* sense = lunkit_scsi_cmd_sense(cmd, &sense_len);
    a.sense.assign(sense, sense + sense_len);
    a.data_in = lunkit_scsi_cmd_data_in(cmd);
    if (out.empty()) a.data.assign(buffer.begin(), buffer.begin() + a.data_in);
    EXPECT_EQ(lunkit_scsi_cmd_user(cmd), this);
    return a;
  }
  static uint8_t key(const Answer& a) { return a.sense.size() > 2 ? a.sense[2] & 0x0f : 0xff; }
  static uint8_t asc(const Answer& a) { return a.sense.size() > 12 ? a.sense[12] : 0xff; }
  // TEST UNIT READY until the power-on unit attention is gone.
  void settle() {
    Answer a = run({0, 0, 0, 0, 0, 0}, 0);
    EXPECT_EQ(a.status, 0x02);
    EXPECT_EQ(key(a), 0x06) << "UNIT ATTENTION";
    EXPECT_EQ(asc(a), 0x29) << "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED";
    EXPECT_EQ(run({0, 0, 0, 0, 0, 0}, 0).status, 0x00);
  }
  static std::vector<uint8_t> rw10(uint8_t op, uint32_t lba, uint16_t blocks) {
    return {op,           0, uint8_t(lba >> 24),   uint8_t(lba >> 16), uint8_t(lba >> 8),
            uint8_t(lba), 0, uint8_t(blocks >> 8), uint8_t(blocks),    0};
  }

  Storage storage{2048 * 512};
  lunkit_scsi_device dev{};
  Done done;
  lunkit_scsi_lu* lu = nullptr;
  lunkit_scsi_cmd* cmd = nullptr;
};

TEST(ScsiCApiHeader, CompilesAndRunsAsC) {
  EXPECT_EQ(lunkit_scsi_c_header_check(), 0) << lunkit_scsi_last_error();
}

TEST_F(ScsiCApiTest, ADeviceThatCannotWorkIsRefusedWithAReason) {
  struct Case {
    const char* what;
    std::function<void(lunkit_scsi_device&)> spoil;
    const char* reason;
  } cases[] = {
      {"no size", [](lunkit_scsi_device& d) { d.size = 0; }, "size"},
      {"no read", [](lunkit_scsi_device& d) { d.read = nullptr; }, "required"},
      {"no write_zeroes", [](lunkit_scsi_device& d) { d.write_zeroes = nullptr; }, "required"},
      {"thin without unmap", [](lunkit_scsi_device& d) { d.unmap = nullptr; }, "unmap()"},
      {"cache without flush", [](lunkit_scsi_device& d) { d.flush = nullptr; }, "flush()"},
      {"1000-byte blocks", [](lunkit_scsi_device& d) { d.logical_block_size = 1000; }, "1000"},
      {"physical below logical",
       [](lunkit_scsi_device& d) {
         d.logical_block_size = 4096;
         d.physical_block_size = 512;
       },
       "physical_block_size 512"},
      {"no blocks", [](lunkit_scsi_device& d) { d.num_blocks = 0; }, "num_blocks"},
  };
  for (const Case& c : cases) {
    lunkit_scsi_device d = dev;
    c.spoil(d);
    lunkit_scsi_lu* out = reinterpret_cast<lunkit_scsi_lu*>(&d);  // must be reset to NULL
    EXPECT_EQ(lunkit_scsi_lu_new(&d, &Done::fn, &done, &out), -EINVAL) << c.what;
    EXPECT_EQ(out, nullptr) << c.what;
    EXPECT_NE(std::string(lunkit_scsi_last_error()).find(c.reason), std::string::npos)
        << c.what << ": " << lunkit_scsi_last_error();
  }
  EXPECT_EQ(lunkit_scsi_lu_new(&dev, nullptr, nullptr, &lu), -EINVAL) << "no done function";
  EXPECT_EQ(lu, nullptr);
}

TEST_F(ScsiCApiTest, IdentityAndCapacityComeFromTheDevice) {
  dev.logical_block_size = 4096;
  dev.physical_block_size = 16384;
  dev.num_blocks = 256;
  open();
  Answer inq = run({0x12, 0, 0, 0, 96, 0}, 96);  // INQUIRY is answered under the unit attention
  ASSERT_EQ(inq.status, 0x00);
  ASSERT_GE(inq.data.size(), 36u);
  EXPECT_EQ(inq.data[0], 0x00) << "direct-access block device";
  EXPECT_EQ(std::string(inq.data.begin() + 8, inq.data.begin() + 16), "ACME    ");
  EXPECT_EQ(std::string(inq.data.begin() + 16, inq.data.begin() + 32), "c-api disk      ");
  settle();
  Answer serial = run({0x12, 1, 0x80, 0, 255, 0}, 255);
  ASSERT_EQ(serial.status, 0x00);
  EXPECT_LT(serial.data_in, 255u) << "the residual is the rest of the buffer";
  EXPECT_EQ(std::string(serial.data.begin() + 4, serial.data.end()), dev.unit_serial);
  Answer cap = run({0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0}, 32);
  ASSERT_EQ(cap.status, 0x00);
  EXPECT_EQ(cap.data[7], 255) << "last LBA";
  EXPECT_EQ((cap.data[8] << 24 | cap.data[9] << 16 | cap.data[10] << 8 | cap.data[11]), 4096);
  EXPECT_EQ(cap.data[13] & 0x0f, 2) << "4 logical blocks per physical block";
  EXPECT_EQ(cap.data[14] & 0xC0, 0xC0) << "LBPME and LBPRZ";
}

TEST_F(ScsiCApiTest, WritesAndReadsCompletedOnAnotherThread) {
  storage.later = true;
  open();
  settle();
  std::vector<uint8_t> pattern(8 * 512);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = uint8_t(i * 13 + 7);
  EXPECT_EQ(run(rw10(0x2A, 100, 8), 0, pattern, LUNKIT_SCSI_DIR_OUT).status, 0x00);
  Answer r = run(rw10(0x28, 100, 8), pattern.size(), {}, LUNKIT_SCSI_DIR_IN);
  EXPECT_EQ(r.status, 0x00);
  EXPECT_EQ(r.data, pattern);
  EXPECT_GE(storage.completed_elsewhere, 2);
  storage.join();
  EXPECT_EQ(std::memcmp(storage.bytes.data() + 100 * 512, pattern.data(), pattern.size()), 0);
  EXPECT_EQ(run({0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0).status, 0x00) << "SYNCHRONIZE CACHE";
  EXPECT_EQ(storage.flushes, 1);
  EXPECT_EQ(lunkit_scsi_lu_in_flight(lu), 0u);
}

TEST_F(ScsiCApiTest, DeviceErrorsBecomeSenseOrBusy) {
  open();
  settle();
  storage.fail_with = -EIO;
  Answer medium = run(rw10(0x28, 42, 1), 512);
  EXPECT_EQ(medium.status, 0x02);
  EXPECT_EQ(key(medium), 0x03) << "MEDIUM ERROR";
  EXPECT_EQ(asc(medium), 0x11) << "UNRECOVERED READ ERROR";
  EXPECT_EQ(medium.sense[0] & 0x80, 0x80) << "INFORMATION is valid";
  EXPECT_EQ(medium.sense[6], 42) << "and names the LBA";
  storage.fail_with = -EAGAIN;
  Answer busy = run(rw10(0x2A, 0, 1), 0, std::vector<uint8_t>(512, 1));
  EXPECT_EQ(busy.status, 0x08) << "BUSY: the initiator retries";
  EXPECT_TRUE(busy.sense.empty());
  storage.fail_with = -ENOSPC;
  Answer space = run(rw10(0x2A, 0, 1), 0, std::vector<uint8_t>(512, 1));
  EXPECT_EQ(key(space), 0x07) << "DATA PROTECT";
  EXPECT_EQ(asc(space), 0x27);
}

TEST_F(ScsiCApiTest, BadCommandsAreAnsweredAndNeverReachTheDevice) {
  open();
  settle();
  Answer unknown = run({0xD7, 0, 0, 0, 0, 0}, 0);
  EXPECT_EQ(unknown.status, 0x02);
  EXPECT_EQ(key(unknown), 0x05) << "ILLEGAL REQUEST";
  EXPECT_EQ(asc(unknown), 0x20) << "INVALID COMMAND OPERATION CODE";
  Answer range = run(rw10(0x28, 2047, 2), 1024);
  EXPECT_EQ(key(range), 0x05);
  EXPECT_EQ(asc(range), 0x21) << "LOGICAL BLOCK ADDRESS OUT OF RANGE";
  Answer backwards = run(rw10(0x2A, 0, 1), 512, {}, LUNKIT_SCSI_DIR_IN);
  EXPECT_EQ(backwards.status, 0x02) << "a WRITE whose data the transport says comes in";
  EXPECT_EQ(storage.reads + storage.writes, 0);

  uint8_t cdb[33] = {0};
  EXPECT_EQ(lunkit_scsi_submit(lu, cmd, cdb, 0, nullptr, 0, 0, nullptr), -EINVAL);
  EXPECT_EQ(lunkit_scsi_submit(lu, cmd, cdb, 33, nullptr, 0, 0, nullptr), -EINVAL);
  EXPECT_NE(std::string(lunkit_scsi_last_error()).find("33 bytes"), std::string::npos);
  EXPECT_EQ(lunkit_scsi_submit(lu, cmd, cdb, 6, nullptr, -1, 0, nullptr), -EINVAL);
  EXPECT_EQ(lunkit_scsi_submit(lu, cmd, cdb, 6, nullptr, 0, 7, nullptr), -EINVAL);
  std::lock_guard lock(done.mu);
  EXPECT_EQ(done.count, 5) << "refused submissions complete nothing";
}

TEST_F(ScsiCApiTest, ACommandInFlightIsNotSubmittedTwiceNorItsUnitFreed) {
  // A read that the test completes by hand.
  static lunkit_scsi_io* held;
  dev.read = [](void*, lunkit_scsi_io* io, uint64_t, uint64_t, const iovec*, int) { held = io; };
  open();
  settle();
  held = nullptr;
  std::vector<uint8_t> buf(512);
  iovec iov{buf.data(), buf.size()};
  auto cdb = rw10(0x28, 0, 1);
  ASSERT_EQ(lunkit_scsi_submit(lu, cmd, cdb.data(), cdb.size(), &iov, 1, 0, nullptr), 0);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(lunkit_scsi_lu_in_flight(lu), 1u);
  EXPECT_EQ(lunkit_scsi_submit(lu, cmd, cdb.data(), cdb.size(), &iov, 1, 0, nullptr), -EINVAL);
  EXPECT_EQ(lunkit_scsi_lu_free(lu), -EBUSY);
  EXPECT_NE(std::string(lunkit_scsi_last_error()).find("1 commands in flight"), std::string::npos);
  lunkit_scsi_io_complete(held, 0);
  EXPECT_EQ(lunkit_scsi_cmd_status(cmd), 0x00);
  EXPECT_EQ(lunkit_scsi_lu_in_flight(lu), 0u);
}

TEST_F(ScsiCApiTest, WriteSameWithUnmapAndCapacityChanges) {
  open();
  settle();
  std::memset(storage.bytes.data(), 0xAB, storage.bytes.size());
  // WRITE SAME(16), UNMAP bit, 16 blocks from LBA 64, one block of zeros.
  std::vector<uint8_t> ws = {0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 16, 0, 0};
  EXPECT_EQ(run(ws, 0, std::vector<uint8_t>(512, 0)).status, 0x00);
  EXPECT_EQ(storage.unmaps + storage.zeroes, 1) << "one request for the whole range";
  EXPECT_EQ(storage.bytes[64 * 512], 0);
  EXPECT_EQ(storage.bytes[80 * 512], 0xAB) << "only 16 blocks";

  lunkit_scsi_lu_set_capacity(lu, 1024);
  EXPECT_EQ(lunkit_scsi_lu_capacity(lu), 1024u);
  Answer ua = run({0, 0, 0, 0, 0, 0}, 0);
  EXPECT_EQ(key(ua), 0x06);
  EXPECT_EQ(asc(ua), 0x2A) << "CAPACITY DATA HAS CHANGED";
  Answer cap = run({0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 8);
  EXPECT_EQ((cap.data[2] << 8 | cap.data[3]), 1023);
}

}  // namespace
