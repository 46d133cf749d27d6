// The shipped handlers end to end: ring emulator -> transport -> libscsi -> plugin.
#include <dlfcn.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <random>

#include "tests/unit/plugin_rig.h"

namespace lunkit::plugins {
namespace {

uint32_t be32(const Bytes& b, size_t at) {
  return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | b[at + 3];
}

// A symbol of a plugin the test process has loaded (Plugin::load, through the Rig).
template <typename T>
T* plugin_symbol(const std::string& so, const char* name) {
  void* h = dlopen((test::bad_plugin_dir() + "/" + so).c_str(), RTLD_NOW | RTLD_NOLOAD);
  EXPECT_NE(h, nullptr) << so << " is not loaded";
  if (!h) return nullptr;
  auto* p = static_cast<T*>(dlsym(h, name));
  dlclose(h);  // still held by the Rig's Plugin
  return p;
}

// One BlockRequest straight to a PluginBlockDevice (no libscsi), waited for.
struct DirectRequest {
  BlockRequest r;
  std::promise<int> done;
  std::array<BlockExtent, 8> extents;
  explicit DirectRequest(uint64_t offset, uint64_t length, uint32_t flags = 0) {
    r.offset = offset;
    r.length = length;
    r.flags = flags;
    r.extents = extents;
    r.context = &done;
    r.on_complete = [](BlockRequest& req, int res) {
      static_cast<std::promise<int>*>(req.context)->set_value(res);
    };
  }
  int wait() { return done.get_future().get(); }
};

// Shared expectations: a round trip, FUA, flush, unmap then zeros, block status.
void exercise(Rig& rig) {
  Bytes data = pattern(64 * 512, 7);
  EXPECT_EQ(rig.run(cdb10(0x2A, 100, 64), data).status, 0);
  EXPECT_EQ(rig.run(cdb10(0x2A, 300, 8, 0x08), pattern(4096, 9)).status, 0) << "FUA write";
  Outcome back = rig.run(cdb10(0x28, 100, 64), {}, data.size());
  EXPECT_EQ(back.status, 0);
  EXPECT_EQ(back.data, data);
  EXPECT_EQ(rig.run(cdb10(0x35, 0, 0)).status, 0) << "SYNCHRONIZE CACHE";
  Outcome lbs = rig.run({0x9E, 0x12, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 64, 0, 0}, {}, 64);
  ASSERT_EQ(lbs.status, 0);
  ASSERT_GE(lbs.data.size(), 24u);
  EXPECT_EQ(lbs.data[8 + 12], 0) << "written blocks are mapped";
  // An unaligned unmap: the range reads back zeros (partial allocation units are zeroed).
  EXPECT_EQ(rig.run({0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0}, unmap_list(100, 64)).status, 0);
  Outcome zeros = rig.run(cdb10(0x28, 100, 64), {}, data.size());
  EXPECT_EQ(zeros.data, Bytes(data.size(), 0)) << "unmapped blocks read back zeros";
  // A 64 KiB-aligned one: deallocated (ram frees a chunk, file punches a hole).
  EXPECT_EQ(rig.run(cdb10(0x2A, 1024, 128), pattern(65536, 3)).status, 0);
  EXPECT_EQ(rig.run({0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0}, unmap_list(1024, 128)).status, 0);
  Outcome after = rig.run({0x9E, 0x12, 0, 0, 0, 0, 0, 0, 0x04, 0x00, 0, 0, 0, 64, 0, 0}, {}, 64);
  ASSERT_GE(after.data.size(), 24u);
  EXPECT_EQ(after.data[8 + 12], 1) << "unmapped blocks are reported deallocated";
  EXPECT_GE(after.data[8 + 11] | after.data[8 + 10] << 8, 128) << "the whole range";
  // WRITE SAME of zeros with UNMAP, then the range reads zeros.
  EXPECT_EQ(rig.run({0x93, 0x09, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0, 0, 16, 0, 0}).status, 0);
  EXPECT_EQ(rig.run(cdb10(0x28, 200, 16), {}, 8192).data, Bytes(8192, 0));
}

TEST(RamHandler, EndToEnd) {
  Rig rig(test::handler_build_dir(), "ram.so", params(""));
  ASSERT_TRUE(rig.ok()) << rig.error();
  EXPECT_TRUE(rig.backend().info().thin_provisioning);
  EXPECT_EQ(rig.backend().info().unmap_granularity_blocks, 128u) << "its 64 KiB chunks";
  Outcome b0 = rig.run({0x12, 0x01, 0xB0, 0, 0x40, 0}, {}, 0x40);
  ASSERT_EQ(b0.status, 0);
  EXPECT_EQ(be32(b0.data, 28), 128u) << "VPD Block Limits: OPTIMAL UNMAP GRANULARITY";
  exercise(rig);
}

TEST(RamHandler, RefusesOptions) {
  Rig rig(test::handler_build_dir(), "ram.so", params("size=1G"));
  EXPECT_FALSE(rig.ok());
  EXPECT_EQ(rig.error(),
            "ram takes no configuration (got 'size=1G'); the size comes from targetcli");
}

TEST(NullHandler, ReadsZerosAndDiscardsWrites) {
  Rig rig(test::handler_build_dir(), "null.so", params(""));
  ASSERT_TRUE(rig.ok()) << rig.error();
  EXPECT_EQ(rig.run(cdb10(0x2A, 0, 8), pattern(4096, 1)).status, 0);
  EXPECT_EQ(rig.run(cdb10(0x28, 0, 8), {}, 4096).data, Bytes(4096, 0));
  Outcome inq = rig.run({0x12, 0, 0, 0, 36, 0}, {}, 36);
  EXPECT_EQ(std::string(inq.data.begin() + 16, inq.data.begin() + 32), "TCMU device     ")
      << "handlers keep tcmu-runner's identity, so by-id names survive a switch of daemon";
}

class FileHandler : public ::testing::Test {
 protected:
  FileHandler() { path = dir.path + "/disk.img"; }
  void make_file(uint64_t size) {
    int fd = ::open(path.c_str(), O_CREAT | O_RDWR, 0600);
    ASSERT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
    close(fd);
  }
  Bytes file_bytes(uint64_t offset, size_t n) {
    Bytes b(n);
    int fd = ::open(path.c_str(), O_RDONLY);
    EXPECT_EQ(pread(fd, b.data(), n, static_cast<off_t>(offset)), static_cast<ssize_t>(n));
    close(fd);
    return b;
  }
  test::PluginDir dir;
  std::string path;
};

TEST_F(FileHandler, EndToEnd) {
  make_file(4 << 20);
  Rig rig(test::handler_build_dir(), "file.so", params(path));
  ASSERT_TRUE(rig.ok()) << rig.error();
  EXPECT_TRUE(rig.backend().info().write_cache);
  EXPECT_TRUE(rig.backend().info().fua);
  EXPECT_TRUE(rig.backend().info().unmap_reads_zero) << "tmp supports punching holes";
  exercise(rig);
  EXPECT_EQ(file_bytes(300 * 512, 4096), pattern(4096, 9)) << "the data is in the file";
  EXPECT_EQ(file_bytes(100 * 512, 512), Bytes(512, 0));
}

// Version 2: holes are told from data (and read as zeros), whole file-system blocks are the
// unmap granularity, and fast zeroes are honoured.
TEST_F(FileHandler, HolesGranularityAndFastZero) {
  make_file(4 << 20);
  Rig rig(test::handler_build_dir(), "file.so", params(path));
  ASSERT_TRUE(rig.ok()) << rig.error();
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  uint32_t expect = st.st_blksize > 512 ? static_cast<uint32_t>(st.st_blksize / 512) : 1;
  EXPECT_EQ(rig.backend().info().unmap_granularity_blocks, expect);
  ASSERT_EQ(rig.run(cdb10(0x2A, 0, 8), pattern(4096, 5)).status, 0);
  DirectRequest bs(0, 1 << 20);
  rig.device().post([&] { rig.backend().block_status(bs.r); });
  ASSERT_EQ(bs.wait(), 0);
  ASSERT_GE(bs.r.extent_count, 2u);
  EXPECT_FALSE(bs.r.extents[0].deallocated);
  EXPECT_FALSE(bs.r.extents[0].zeroes) << "data";
  EXPECT_EQ(bs.r.extents[1].offset, 4096u);
  EXPECT_TRUE(bs.r.extents[1].deallocated);
  EXPECT_TRUE(bs.r.extents[1].zeroes) << "a file's hole reads zeros";
  DirectRequest fz(0, 4096, kBlockFastZero);
  rig.device().post([&] { rig.backend().write_zeroes(fz.r); });
  int rc = fz.wait();
  EXPECT_TRUE(rc == 0 || rc == -EOPNOTSUPP) << rc;
  Bytes after = file_bytes(0, 4096);
  EXPECT_EQ(after, rc == 0 ? Bytes(4096, 0) : pattern(4096, 5)) << "zeroed, or nothing written";
}

TEST_F(FileHandler, MissingFileSizeMismatchAndCreate) {
  Rig missing(test::handler_build_dir(), "file.so", params(path));
  EXPECT_EQ(missing.error(), path + ": No such file or directory (add ;create=1 to create it)");
  make_file(1 << 20);
  Rig wrong(test::handler_build_dir(), "file.so", params(path));
  EXPECT_EQ(wrong.error(), path + " is 1048576 bytes but the LUN is 4194304 bytes");
  EXPECT_EQ(std::filesystem::file_size(path), 1u << 20) << "never resized to fit";
  std::string fresh = dir.path + "/fresh.img";
  Rig created(test::handler_build_dir(), "file.so", params(fresh + ";create=1"));
  ASSERT_TRUE(created.ok()) << created.error();
  EXPECT_EQ(std::filesystem::file_size(fresh), 4u << 20);
}

TEST_F(FileHandler, CompareAndWriteRacingWritesStaysAtomic) {
  make_file(4 << 20);
  Rig rig(test::handler_build_dir(), "file.so", params(path));
  ASSERT_TRUE(rig.ok()) << rig.error();
  for (int round = 0; round < 50; ++round) {
    Bytes a = pattern(512, static_cast<uint8_t>(round)), b = pattern(512, 100),
          c = pattern(512, 200);
    ASSERT_EQ(rig.run(cdb10(0x2A, 10, 1), a).status, 0);
    Bytes caw_data = a;
    caw_data.insert(caw_data.end(), b.begin(), b.end());
    uint64_t caw = rig.submit({0x89, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0}, caw_data);
    uint64_t write = rig.submit(cdb10(0x2A, 10, 1), c);
    Outcome co = rig.wait(caw), wo = rig.wait(write);
    ASSERT_EQ(wo.status, 0);
    // Either CAW then WRITE (CAW GOOD) or WRITE then CAW (MISCOMPARE): the WRITE is last either
    // way; CAW's data surviving would mean the two interleaved.
    EXPECT_TRUE(co.status == 0 || (co.status == 2 && co.key() == 0x0E)) << int(co.status);
    EXPECT_EQ(rig.run(cdb10(0x28, 10, 1), {}, 512).data, c) << "round " << round;
  }
}

TEST_F(FileHandler, AFullFileSystemIsSpaceAllocationFailed) {
  std::string mnt = dir.path + "/small";
  std::filesystem::create_directory(mnt);
  ASSERT_EQ(mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=512k"), 0) << strerror(errno);
  std::string img = mnt + "/disk.img";
  {
    Rig rig(test::handler_build_dir(), "file.so", params(img + ";create=1", 4 << 20));
    ASSERT_TRUE(rig.ok()) << rig.error();
    Outcome last;
    for (uint32_t lba = 0; lba < 8192 && last.status != 2; lba += 256)
      last = rig.run(cdb10(0x2A, lba, 256), pattern(256 * 512, 3));
    EXPECT_EQ(last.status, 2);
    EXPECT_EQ(last.key(), 0x07);
    EXPECT_EQ(last.asc(), 0x27);
    EXPECT_EQ(last.ascq(), 0x07);
  }
  umount2(mnt.c_str(), MNT_DETACH);
}

// The io_uring path (a file system that is not in memory: ext4 on a loop device) on a full file
// system: the write that only partly fits is continued, and what stops it is ENOSPC, reported
// as SPACE ALLOCATION FAILED, not a short count turned into a medium error.
TEST_F(FileHandler, AShortWriteOnIoUringIsContinuedToEnospc) {
  std::string image = dir.path + "/fs.img", mnt = dir.path + "/ext4";
  std::filesystem::create_directory(mnt);
  {
    int fd = ::open(image.c_str(), O_CREAT | O_RDWR, 0600);
    ASSERT_EQ(ftruncate(fd, 8 << 20), 0);
    close(fd);
  }
  int mkfs = system(("mkfs.ext4 -q -F -m 0 -O ^has_journal " + image + " >/dev/null").c_str());
  ASSERT_EQ(mkfs, 0) << "mkfs.ext4 (e2fsprogs) is needed";
  int mounted = system(("mount -o loop " + image + " " + mnt).c_str());
  ASSERT_EQ(mounted, 0) << "cannot loop-mount " << image;
  std::string img = mnt + "/disk.img";
  {
    Rig rig(test::handler_build_dir(), "file.so", params(img + ";create=1", 16 << 20));
    ASSERT_TRUE(rig.ok()) << rig.error();
    Outcome last;
    uint32_t lba = 0;
    // 192 KiB per write: the last that fits only partly.
    for (; lba < 32768 && last.status != 2; lba += 384)
      last = rig.run(cdb10(0x2A, lba, 384), pattern(384 * 512, 5));
    EXPECT_EQ(last.status, 2);
    EXPECT_EQ(last.key(), 0x07) << "DATA PROTECT, not MEDIUM ERROR (3)";
    EXPECT_EQ(last.asc(), 0x27);
    EXPECT_EQ(last.ascq(), 0x07);
    Outcome back = rig.run(cdb10(0x28, 0, 384), {}, 384 * 512);
    EXPECT_EQ(back.data, pattern(384 * 512, 5)) << "what was written before reads back";
  }
  EXPECT_EQ(umount2(mnt.c_str(), MNT_DETACH), 0);
}

TEST(RawHandler, AnswersItsOwnCommandsAndDeclinesTheRest) {
  Rig rig(test::bad_plugin_dir(), "rawdev.so", params(""));
  ASSERT_TRUE(rig.ok()) << rig.error();
  Outcome vendor = rig.run({0xC0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {}, 64);
  EXPECT_EQ(vendor.status, 0);
  EXPECT_EQ(vendor.data, (Bytes{'R', 'A', 'W', '!'})) << "READ_LEN carries the 4 bytes";
  Outcome own = rig.run({0xC1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(own.status, 2);
  EXPECT_EQ(own.asc(), 0x55);
  EXPECT_EQ(own.ascq(), 0x01);
  Bytes data = pattern(4096, 9);
  EXPECT_EQ(rig.run(cdb10(0x2A, 16, 8), data).status, 0) << "declined: lunkit executes it";
  EXPECT_EQ(rig.run(cdb10(0x28, 16, 8), {}, 4096).data, data);
  Outcome other = rig.run({0xC2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(other.asc(), 0x20) << "declined vendor command: INVALID COMMAND OPERATION CODE";
}

TEST_F(FileHandler, ResizeNeedsTheFileToHaveTheNewSize) {
  make_file(4 << 20);
  Rig rig(test::handler_build_dir(), "file.so", params(path));
  ASSERT_TRUE(rig.ok()) << rig.error();
  EXPECT_EQ(rig.backend().reconfigure(8 << 20, nullptr, -1), -EINVAL);
  EXPECT_EQ(std::filesystem::file_size(path), 4u << 20) << "never resized by lunkit";
  ASSERT_EQ(truncate(path.c_str(), 8 << 20), 0);
  EXPECT_EQ(rig.backend().reconfigure(8 << 20, nullptr, -1), 0);
  EXPECT_EQ(rig.backend().info().num_blocks, (8u << 20) / 512);
  EXPECT_EQ(rig.backend().reconfigure(0, "file//other", -1), -EOPNOTSUPP);
}

TEST(RamHandler, GrowsAndShrinks) {
  Rig rig(test::handler_build_dir(), "ram.so", params("", 1 << 20));
  ASSERT_TRUE(rig.ok()) << rig.error();
  EXPECT_EQ(rig.backend().reconfigure(4 << 20, nullptr, -1), 0);
  rig.device().post([&] { rig.device().logical_unit().set_capacity((4 << 20) / 512); });
  rig.run({0, 0, 0, 0, 0, 0});  // the capacity unit attention
  Bytes data = pattern(4096, 2);
  EXPECT_EQ(rig.run(cdb10(0x2A, 8000, 8), data).status, 0) << "past the old end";
  EXPECT_EQ(rig.run(cdb10(0x28, 8000, 8), {}, 4096).data, data);
}

TEST(NullHandler, RefusesResizeByDefault) {
  Rig rig(test::handler_build_dir(), "null.so", params(""));
  ASSERT_TRUE(rig.ok()) << rig.error();
  EXPECT_EQ(rig.backend().reconfigure(8 << 20, nullptr, -1), -EOPNOTSUPP);
  EXPECT_EQ(rig.backend().reconfigure(0, nullptr, 0), 0) << "write cache changes are fine";
}

TEST(BlockingHandler, RunsOnTheWorkerPool) {
  Rig rig(test::bad_plugin_dir(), "blocking_mem.so", params(""));
  ASSERT_TRUE(rig.ok()) << rig.error();
  Bytes data = pattern(8192, 5);
  EXPECT_EQ(rig.run(cdb10(0x2A, 8, 16), data).status, 0);
  EXPECT_EQ(rig.run(cdb10(0x28, 8, 16), {}, data.size()).data, data);
  // WRITE SAME of zeros without a write_zeroes callback: lunkit writes zero buffers.
  EXPECT_EQ(rig.run({0x93, 0x01, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 16, 0, 0}).status, 0);
  EXPECT_EQ(rig.run(cdb10(0x28, 8, 16), {}, data.size()).data, Bytes(8192, 0));
  void* so = dlopen((test::bad_plugin_dir() + "/blocking_mem.so").c_str(), RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(so, nullptr);
  auto* last = static_cast<pthread_t*>(dlsym(so, "blocking_last_io_thread"));
  ASSERT_NE(last, nullptr);
  EXPECT_FALSE(pthread_equal(*last, rig.device().loop_thread())) << "I/O ran off the loop";
  dlclose(so);
}

// A loop's io_uring has one submitter: a thread that is not that loop gets no SQE of it.
TEST(PluginHost, GetSqeOffTheLoopIsNull) {
  Rig rig(test::handler_build_dir(), "ram.so", params(""));
  ASSERT_TRUE(rig.ok()) << rig.error();
  lunkit_device dev;
  dev.loop = &rig.device();
  static lunkit_uring_completion ignored{[](lunkit_uring_completion*, int32_t) {}};
  io_uring_sqe* sqe = lunkit_get_sqe(&dev, &ignored);
  if (sqe) io_uring_prep_nop(sqe);  // keep the loop's ring sane if the check fails
  EXPECT_EQ(sqe, nullptr) << "the test thread is not the device's loop";
  EXPECT_EQ(rig.run(cdb10(0x28, 0, 8), {}, 4096).status, 0) << "the loop still serves I/O";
}

// reconfig() runs on the device's loop, where the handler's I/O runs (ram resizes its chunk
// table there), and the device's size is updated there too before reconfigure() returns.
TEST(PluginHost, ReconfigRunsOnTheDeviceLoop) {
  Rig rig(test::bad_plugin_dir(), "loopcheck.so", params(""));
  ASSERT_TRUE(rig.ok()) << rig.error();
  EXPECT_EQ(rig.run(cdb10(0x28, 0, 8), {}, 4096).status, 0);
  EXPECT_EQ(rig.backend().reconfigure(8 << 20, nullptr, -1), 0);
  EXPECT_EQ(rig.backend().info().num_blocks, (8u << 20) / 512);
  void* so = dlopen((test::bad_plugin_dir() + "/loopcheck.so").c_str(), RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(so, nullptr);
  auto* where = static_cast<pthread_t*>(dlsym(so, "loopcheck_reconfig_thread"));
  ASSERT_NE(where, nullptr);
  EXPECT_TRUE(pthread_equal(*where, rig.device().loop_thread())) << "reconfig ran off the loop";
  dlclose(so);
}

// ram resized while its loop reads and writes: no use after free (ASan), data intact.
TEST(RamHandler, ResizesWhileServingIo) {
  Rig rig(test::handler_build_dir(), "ram.so", params("", 1 << 20));
  ASSERT_TRUE(rig.ok()) << rig.error();
  Bytes data = pattern(4096, 4);
  ASSERT_EQ(rig.run(cdb10(0x2A, 0, 8), data).status, 0);
  for (int round = 0; round < 50; ++round) {
    uint64_t tag = rig.submit(cdb10(0x28, 0, 8), {}, 4096);
    EXPECT_EQ(rig.backend().reconfigure(uint64_t(2 + round % 2 * 62) << 20, nullptr, -1), 0);
    Outcome o = rig.wait(tag);
    if (o.status == 2 && o.key() == 6) o = rig.run(cdb10(0x28, 0, 8), {}, 4096);
    EXPECT_EQ(o.data, data) << "round " << round;
  }
}

// Removing one LUN waits for its own work, not for another LUN's on the same pool.
TEST(PluginHost, RemovingADeviceDoesNotWaitForAnotherDevicesWork) {
  std::string so_path = test::bad_plugin_dir() + "/blocking_mem.so";
  auto plugin = Plugin::load(so_path, false);
  ASSERT_TRUE(plugin.ok()) << plugin.error();
  void* so = dlopen(so_path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(so, nullptr);
  auto gate_close = reinterpret_cast<void (*)()>(dlsym(so, "blocking_gate_close"));
  auto gate_open = reinterpret_cast<void (*)()>(dlsym(so, "blocking_gate_open"));
  auto gate_entered = reinterpret_cast<void (*)()>(dlsym(so, "blocking_gate_wait_entered"));
  ASSERT_TRUE(gate_close && gate_open && gate_entered);
  {
    WorkerPool pool(2);
    auto busy = PluginBlockDevice::open(**plugin, params("gate"), &pool);
    auto other = PluginBlockDevice::open(**plugin, params(""), &pool);
    ASSERT_TRUE(busy.ok() && other.ok());
    gate_close();
    Bytes buf(512);
    iovec v{buf.data(), buf.size()};
    std::promise<int> done;
    BlockRequest r;
    r.length = 512;
    r.iov = {&v, 1};
    r.context = &done;
    r.on_complete = [](BlockRequest& req, int res) {
      static_cast<std::promise<int>*>(req.context)->set_value(res);
    };
    (*busy)->read(r);
    gate_entered();  // a worker is now blocked inside the busy device's read
    auto removed = std::async(std::launch::async, [&] { other->reset(); });
    bool prompt = removed.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
    gate_open();
    removed.wait();
    EXPECT_TRUE(prompt) << "removing the idle device waited for the busy one";
    EXPECT_EQ(done.get_future().get(), 0);
    busy->reset();  // waits for its own work: none left
  }
  dlclose(so);
}

// The backstore's cmd_time_out reaches the handler's open(), so it can keep its timeouts below.
TEST(PluginHost, OpenSeesTheKernelsCommandTimeout) {
  std::string so_path = test::bad_plugin_dir() + "/loopcheck.so";
  auto plugin = Plugin::load(so_path, false);
  ASSERT_TRUE(plugin.ok()) << plugin.error();
  PluginFactory factory(**plugin, nullptr);
  tcmu::UioDevice uio;
  uio.name.hba = 0;
  uio.name.device = "disk0";
  tcmu::DeviceAttributes attributes;
  attributes.size_bytes = 1 << 20;
  attributes.cmd_time_out = 45;
  auto dev = factory.open(uio, attributes);
  ASSERT_TRUE(dev.ok()) << dev.error();
  void* so = dlopen(so_path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(so, nullptr);
  auto* seen = static_cast<uint32_t*>(dlsym(so, "loopcheck_cmd_time_out"));
  ASSERT_NE(seen, nullptr);
  EXPECT_EQ(*seen, 45u);
  dev->reset();
  dlclose(so);
}

// The C++ layer installs only the methods a class overrides; a method that completes and then
// throws does not complete twice; compare_and_write and handle_cmd have hooks.
TEST(CxxHandler, OnlyOverriddenMethodsBecomeCallbacks) {
  Rig rig(test::bad_plugin_dir(), "cxx.so", params("", 1 << 20));
  ASSERT_TRUE(rig.ok()) << rig.error();
  const DeviceInfo& info = rig.backend().info();
  EXPECT_FALSE(info.thin_provisioning) << "LUNKIT_CAP_THIN without an unmap(): no UNMAP";
  EXPECT_FALSE(info.native_block_status) << "no block_status(): lunkit's default";
  EXPECT_TRUE(info.native_compare_and_write);
  Outcome lbp = rig.run({0x12, 0x01, 0xB2, 0, 0x40, 0}, {}, 0x40);
  ASSERT_EQ(lbp.status, 0);
  EXPECT_EQ(lbp.data[5] & 0x80, 0) << "LBPU is not advertised";
  Bytes data = pattern(4096, 21);
  ASSERT_EQ(rig.run(cdb10(0x2A, 0, 8), data).status, 0);
  // COMPARE AND WRITE of one block through the handler's own method.
  Bytes caw(data.begin() + 512, data.begin() + 1024);
  Bytes fresh = pattern(512, 99);
  caw.insert(caw.end(), fresh.begin(), fresh.end());
  Outcome c = rig.run({0x89, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0}, caw);
  EXPECT_EQ(c.status, 0);
  EXPECT_EQ(*plugin_symbol<unsigned>("cxx.so", "cxx_compare_and_write_calls"), 1u);
  EXPECT_EQ(rig.run(cdb10(0x28, 1, 1), {}, 512).data, fresh);
  // LBA 7: completed, then the method throws; the thunk's -EIO is not a second completion.
  Outcome r7 = rig.run(cdb10(0x28, 7, 1), {}, 512);
  EXPECT_EQ(r7.status, 0) << "the first completion stands";
  EXPECT_EQ(r7.data, Bytes(data.begin() + 7 * 512, data.end()));
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(rig.run(cdb10(0x28, 7, 1), {}, 512).status, 0) << "and the next ones work";
  Outcome v = rig.run({0xC2, 0, 0, 0, 0, 0});
  EXPECT_EQ(v.status, 0) << "handle_cmd answered, then threw: answered once";
  EXPECT_EQ(rig.run(cdb10(0x28, 0, 8), {}, 4096).status, 0);
}

// A plugin built from the version-1 header as it was released: the version-2 host serves it
// unchanged, with version 1's defaults for everything it cannot know about.
TEST(PluginHost, ServesAVersion1Plugin) {
  Rig rig(test::bad_plugin_dir(), "v1_mem.so", params("", 2 << 20));
  ASSERT_TRUE(rig.ok()) << rig.error();
  EXPECT_EQ(*plugin_symbol<uint64_t>("v1_mem.so", "v1_open_size"), 2u << 20);
  EXPECT_EQ(*plugin_symbol<uint32_t>("v1_mem.so", "v1_open_block_size"), 512u);
  const DeviceInfo& info = rig.backend().info();
  EXPECT_TRUE(info.thin_provisioning);
  EXPECT_TRUE(info.unmap_reads_zero);
  EXPECT_EQ(info.product, "V1 MEMORY");
  EXPECT_EQ(info.unmap_granularity_blocks, 1u) << "version 1 had no unmap geometry";
  EXPECT_EQ(info.max_unmap_blocks, 0u);
  Bytes data = pattern(64 * 512, 11);
  EXPECT_EQ(rig.run(cdb10(0x2A, 64, 64), data).status, 0);
  EXPECT_EQ(rig.run(cdb10(0x28, 64, 64), {}, data.size()).data, data);
  Outcome lbs = rig.run(cdb16(0x9E, 64, 64, 0x12), {}, 64);
  ASSERT_EQ(lbs.status, 0);
  EXPECT_EQ(lbs.data[8 + 12], 0) << "written: mapped";
  EXPECT_EQ(rig.run({0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0}, unmap_list(64, 32)).status, 0);
  lbs = rig.run(cdb16(0x9E, 64, 64, 0x12), {}, 64);
  EXPECT_EQ(lbs.data[8 + 12], 1) << "unmapped: deallocated";
  EXPECT_EQ(be32(lbs.data, 8 + 8), 32u);
  Bytes expect(data);
  std::fill(expect.begin(), expect.begin() + 32 * 512, 0);
  EXPECT_EQ(rig.run(cdb10(0x28, 64, 64), {}, data.size()).data, expect);
  // WRITE SAME of zeros: no write_zeroes in version 1's plugin, lunkit writes zeros.
  EXPECT_EQ(rig.run({0x93, 0x01, 0, 0, 0, 0, 0, 0, 0, 96, 0, 0, 0, 32, 0, 0}).status, 0);
  EXPECT_EQ(rig.run(cdb10(0x28, 64, 64), {}, data.size()).data, Bytes(data.size(), 0));
  Outcome b0 = rig.run({0x12, 0x01, 0xB0, 0, 0x40, 0}, {}, 0x40);
  ASSERT_EQ(b0.status, 0);
  EXPECT_EQ(be32(b0.data, 28), 1u) << "unmap granularity: one block";
  EXPECT_EQ(be32(b0.data, 32), 0x80000000u) << "UGAVALID, alignment 0";
  // A hole of a plugin with UNMAP_ZEROES reads as zeros.
  DirectRequest st(64 * 512, 64 * 512);
  rig.device().post([&] { rig.backend().block_status(st.r); });
  ASSERT_EQ(st.wait(), 0);
  ASSERT_GE(st.r.extent_count, 1u);
  EXPECT_TRUE(st.r.extents[0].deallocated);
  EXPECT_TRUE(st.r.extents[0].zeroes);
}

// LUNKIT_THREAD_SERIALIZED: however many commands are queued, the handler has one at a time.
TEST(PluginHost, SerializedHandlerHasOneRequestAtATime) {
  Rig rig(test::bad_plugin_dir(), "serial.so", params("", 1 << 20));
  ASSERT_TRUE(rig.ok()) << rig.error();
  EXPECT_TRUE(rig.backend().multi_queue()) << "called from the pool, whichever loop submits";
  std::vector<uint64_t> tags;
  for (int i = 0; i < 24; ++i)
    tags.push_back(rig.submit(cdb10(0x2A, i * 8, 8), pattern(4096, uint8_t(i))));
  for (uint64_t t : tags) EXPECT_EQ(rig.wait(t).status, 0);
  tags.clear();
  for (int i = 0; i < 24; ++i) tags.push_back(rig.submit(cdb10(0x28, i * 8, 8), {}, 4096));
  for (int i = 0; i < 24; ++i) EXPECT_EQ(rig.wait(tags[i]).data, pattern(4096, uint8_t(i)));
  // WRITE SAME of zeros: lunkit's own zero-fill writes are serialized as well.
  EXPECT_EQ(rig.run({0x93, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0}).status, 0);
  EXPECT_EQ(rig.run(cdb10(0x28, 0, 16), {}, 8192).data, Bytes(8192, 0));
  EXPECT_EQ(rig.run(cdb10(0x35, 0, 0)).status, 0) << "flush: lunkit's default, no handler call";
  EXPECT_GE(*plugin_symbol<unsigned>("serial.so", "serial_calls"), 49u);
  EXPECT_EQ(*plugin_symbol<unsigned>("serial.so", "serial_max_inflight"), 1u);
  EXPECT_EQ(*plugin_symbol<unsigned>("serial.so", "serial_overlaps"), 0u);
}

// LUNKIT_IO_FAST_ZERO: a handler without LUNKIT_CAP_FAST_ZERO is not asked, and lunkit does not
// write zeros in its place; one with it (ram) zeroes.
TEST(PluginHost, FastZeroNeverFallsBackToWritingZeros) {
  std::string so_path = test::bad_plugin_dir() + "/blocking_mem.so";
  auto plugin = Plugin::load(so_path, false);
  ASSERT_TRUE(plugin.ok()) << plugin.error();
  WorkerPool pool(2);
  auto dev = PluginBlockDevice::open(**plugin, params(""), &pool);
  ASSERT_TRUE(dev.ok()) << dev.error();
  Bytes data = pattern(4096, 3);
  iovec v{data.data(), data.size()};
  DirectRequest w(0, 4096);
  w.r.iov = {&v, 1};
  (*dev)->write(w.r);
  ASSERT_EQ(w.wait(), 0);
  DirectRequest fast(0, 4096, kBlockFastZero);
  (*dev)->write_zeroes(fast.r);
  EXPECT_EQ(fast.wait(), -EOPNOTSUPP);
  Bytes back(4096);
  iovec bv{back.data(), back.size()};
  DirectRequest rd(0, 4096);
  rd.r.iov = {&bv, 1};
  (*dev)->read(rd.r);
  ASSERT_EQ(rd.wait(), 0);
  EXPECT_EQ(back, data) << "nothing was written for the fast zero";
  DirectRequest slow(0, 4096);
  (*dev)->write_zeroes(slow.r);
  EXPECT_EQ(slow.wait(), 0) << "without the flag lunkit writes zeros";

  Rig ram(test::handler_build_dir(), "ram.so", params(""));
  ASSERT_TRUE(ram.ok()) << ram.error();
  ASSERT_EQ(ram.run(cdb10(0x2A, 0, 8), pattern(4096, 1)).status, 0);
  DirectRequest rz(0, 4096, kBlockFastZero);
  ram.device().post([&] { ram.backend().write_zeroes(rz.r); });
  EXPECT_EQ(rz.wait(), 0) << "ram zeroes fast";
  EXPECT_EQ(ram.run(cdb10(0x28, 0, 8), {}, 4096).data, Bytes(4096, 0));
}

// Version 2's inputs at open: the struct's size, the host's version, the frontend.
TEST(PluginHost, OpenSeesTheFrontendAndTheStructSize) {
  std::string so_path = test::bad_plugin_dir() + "/loopcheck.so";
  auto plugin = Plugin::load(so_path, false);
  ASSERT_TRUE(plugin.ok()) << plugin.error();
  PluginFactory factory(**plugin, nullptr);
  tcmu::UioDevice uio;
  uio.name.device = "disk0";
  tcmu::DeviceAttributes attributes;
  attributes.size_bytes = 1 << 20;
  auto dev = factory.open(uio, attributes);
  ASSERT_TRUE(dev.ok()) << dev.error();
  auto* in = plugin_symbol<uint32_t>("loopcheck.so", "loopcheck_inputs");
  ASSERT_NE(in, nullptr);
  EXPECT_EQ(in[0], sizeof(lunkit_device_info));
  EXPECT_EQ(in[1], uint32_t{LUNKIT_HANDLER_ABI_VERSION});
  EXPECT_EQ(in[2], uint32_t{LUNKIT_FRONTEND_TCMU});
  EXPECT_EQ(in[3], 0u) << "TCMU: bounded by the ring, not by lunkit";
  EXPECT_EQ(in[4], 1u) << "one loop: loopcheck is not MULTI_QUEUE";
  dev->reset();
  OpenParams p = params("", 1 << 20);
  p.frontend = LUNKIT_FRONTEND_UBLK;
  p.queue_depth = 64;
  p.nr_queues = 4;
  auto ublk = PluginBlockDevice::open(**plugin, p, nullptr);
  ASSERT_TRUE(ublk.ok()) << ublk.error();
  EXPECT_EQ(in[2], uint32_t{LUNKIT_FRONTEND_UBLK});
  EXPECT_EQ(in[3], 64u);
  EXPECT_EQ(in[4], 1u) << "served from one loop whatever was asked";
}

// lunkit_device_post(): work reaches the device's loop with no I/O pending, never runs inside
// the call that posts it, and can arm an io_uring timeout there (a timer).
struct PostState {
  lunkit_device* dev = nullptr;
  pthread_t loop{};
  bool on_loop = false, inner_deferred = false, inner_ran = false, in_outer = false;
  int inner_rc = 1;
  __kernel_timespec ts{0, 20 * 1000 * 1000};
  lunkit_uring_completion timer{};
  int32_t timer_result = 0;
  std::promise<void> fired;
};
PostState* g_post = nullptr;

void post_inner(void* arg) {
  auto* s = static_cast<PostState*>(arg);
  s->inner_ran = true;
  s->inner_deferred = !s->in_outer;
  s->timer.done = [](lunkit_uring_completion*, int32_t res) {
    g_post->timer_result = res;
    g_post->fired.set_value();
  };
  io_uring_sqe* sqe = lunkit_get_sqe(s->dev, &s->timer);
  ASSERT_NE(sqe, nullptr) << "posted work runs on the loop: it can queue io_uring work";
  io_uring_prep_timeout(sqe, &s->ts, 0, 0);
}
void post_outer(void* arg) {
  auto* s = static_cast<PostState*>(arg);
  s->on_loop = pthread_equal(pthread_self(), s->loop);
  s->in_outer = true;
  s->inner_rc = lunkit_device_post(s->dev, post_inner, s);
  s->in_outer = false;
}

TEST(PluginHost, PostedWorkAndTimersRunOnTheDeviceLoop) {
  {
    auto plugin = Plugin::load(test::bad_plugin_dir() + "/loopcheck.so", false);
    ASSERT_TRUE(plugin.ok()) << plugin.error();
    auto unserved = PluginBlockDevice::open(**plugin, params(""), nullptr);
    ASSERT_TRUE(unserved.ok());
    auto** d = plugin_symbol<lunkit_device*>("loopcheck.so", "loopcheck_device");
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(lunkit_device_post(*d, post_outer, nullptr), -ENOTCONN) << "not served yet";
  }
  Rig rig(test::bad_plugin_dir(), "loopcheck.so", params(""));
  ASSERT_TRUE(rig.ok()) << rig.error();
  PostState s;
  g_post = &s;
  s.dev = *plugin_symbol<lunkit_device*>("loopcheck.so", "loopcheck_device");
  s.loop = rig.device().loop_thread();
  ASSERT_EQ(lunkit_device_post(s.dev, post_outer, &s), 0);
  ASSERT_EQ(s.fired.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(s.on_loop);
  EXPECT_EQ(s.inner_rc, 0);
  EXPECT_TRUE(s.inner_ran);
  EXPECT_TRUE(s.inner_deferred) << "posted from the loop: runs later, not inside the call";
  EXPECT_EQ(s.timer_result, -ETIME) << "the timeout expired";
  rig.backend().stop_posting();
  EXPECT_EQ(lunkit_device_post(s.dev, post_outer, &s), -ESHUTDOWN);
  g_post = nullptr;
}

}  // namespace
}  // namespace lunkit::plugins
