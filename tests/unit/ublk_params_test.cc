// The ublk frontend's translations: device capabilities to SET_PARAMS, descriptors to requests,
// results to commits; and the record `lunkit ublk recover` reads.
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "ublk/command_socket.h"
#include "ublk/features.h"
#include "ublk/params.h"
#include "ublk/record.h"

namespace lunkit::ublk {
namespace {

DeviceInfo disk(uint64_t blocks, uint32_t lbs = 512) {
  DeviceInfo d;
  d.num_blocks = blocks;
  d.logical_block_size = lbs;
  d.physical_block_size = lbs;
  return d;
}

TEST(UblkParams, BasicGeometry) {
  DeviceInfo d = disk(1 << 20, 4096);  // 4 GiB of 4 KiB blocks
  d.physical_block_size = 4096;
  auto p = make_params(d, kDefaultIoBytes, false);
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->len, sizeof(Params));
  EXPECT_EQ(p->types, kParamBasic | kParamDiscard);
  EXPECT_EQ(p->basic.logical_bs_shift, 12);
  EXPECT_EQ(p->basic.physical_bs_shift, 12);
  EXPECT_EQ(p->basic.io_min_shift, 12);
  EXPECT_EQ(p->basic.dev_sectors, (1ull << 20) * 8);
  EXPECT_EQ(p->basic.max_sectors, kDefaultIoBytes / 512);
  EXPECT_EQ(p->basic.attrs, 0u);
}

TEST(UblkParams, CacheFuaRotationalReadOnly) {
  DeviceInfo d = disk(2048);
  d.write_cache = true;
  d.fua = true;
  d.rotational = true;
  auto p = make_params(d, kDefaultIoBytes, true);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->basic.attrs, kAttrVolatileCache | kAttrFua | kAttrRotational | kAttrReadOnly);
  d.fua = false;  // a cache without native FUA: the kernel flushes after FUA writes instead
  d.rotational = false;
  p = make_params(d, kDefaultIoBytes, false);
  EXPECT_EQ(p->basic.attrs, kAttrVolatileCache);
  d.write_cache = false;
  d.fua = true;        // FUA alone means nothing without a volatile cache
  d.read_only = true;  // the handler's own read-only capability
  p = make_params(d, kDefaultIoBytes, false);
  EXPECT_EQ(p->basic.attrs, kAttrReadOnly);
}

TEST(UblkParams, DiscardOnlyWhenTheDeviceCanUnmap) {
  DeviceInfo d = disk(1 << 21);
  auto p = make_params(d, kDefaultIoBytes, false);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->discard.max_discard_sectors, 0u);
  EXPECT_EQ(p->discard.max_discard_segments, 0u);
  EXPECT_GT(p->discard.max_write_zeroes_sectors, 0u);  // lunkit writes zeros itself if need be
  EXPECT_EQ(p->discard.discard_granularity, 512u);     // the kernel refuses 0
  d.thin_provisioning = true;
  d.unmap_granularity_blocks = 8;
  d.max_unmap_blocks = 4096;
  p = make_params(d, kDefaultIoBytes, false);
  EXPECT_EQ(p->discard.max_discard_sectors, 4096u);
  EXPECT_EQ(p->discard.max_write_zeroes_sectors, 4096u);
  EXPECT_EQ(p->discard.max_discard_segments, 1u);  // 6.12 serves one range per discard
  EXPECT_EQ(p->discard.discard_granularity, 4096u);
}

TEST(UblkParams, TransferLimitAndOptimalSize) {
  DeviceInfo d = disk(1 << 20);
  d.max_transfer_blocks = 256;  // 128 KiB
  d.optimal_granularity_blocks = 128;
  auto p = make_params(d, kDefaultIoBytes, false);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->basic.max_sectors, 256u);
  EXPECT_EQ(p->basic.io_opt_shift, 16);
  d.max_transfer_blocks = 0;
  p = make_params(d, 64 * 1024, false);  // the request buffer limits it then
  EXPECT_EQ(p->basic.max_sectors, 128u);
  d.optimal_granularity_blocks = 3;  // not a power of two: not reported as such
  p = make_params(d, 64 * 1024, false);
  EXPECT_EQ(p->basic.io_opt_shift, p->basic.physical_bs_shift);
}

TEST(UblkParams, RefusesWhatTheKernelCannotTake) {
  auto p = make_params(disk(1024, 8192), kDefaultIoBytes, false);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().find("512 to 4096"), std::string::npos) << p.error();
  EXPECT_FALSE(make_params(disk(0), kDefaultIoBytes, false));
  DeviceInfo d = disk(1024);
  d.max_transfer_blocks = 4;  // 2 KiB: below one page
  p = make_params(d, kDefaultIoBytes, false);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().find("4096"), std::string::npos);
  EXPECT_FALSE(make_params(disk(1024), 1000, false));
  EXPECT_FALSE(make_params(disk(1024), kMaxIoBufBytes + 4096, false));
  d = disk(1024);
  d.physical_block_size = 256;
  EXPECT_FALSE(make_params(d, kDefaultIoBytes, false));
}

// Page-sized limits follow the system's page size (16 and 64 KiB on some arm64 and ppc64
// kernels), not a 4 KiB constant.
TEST(UblkParams, PageSizeComesFromTheSystem) {
  EXPECT_EQ(page_size(), static_cast<uint32_t>(sysconf(_SC_PAGESIZE)));
  for (uint32_t page : {4096u, 16384u, 65536u}) {
    DeviceInfo d = disk(1 << 20);
    auto p = make_params(d, kDefaultIoBytes, false, page);
    ASSERT_TRUE(p) << page << ": " << p.error();
    p = make_params(d, page, false, page);  // one page per request is the least
    ASSERT_TRUE(p) << page << ": " << p.error();
    EXPECT_EQ(p->basic.max_sectors, page / 512);
    if (page > 4096) {
      auto small = make_params(d, 4096, false, page);
      ASSERT_FALSE(small) << page;
      EXPECT_NE(small.error().find("page size, " + std::to_string(page)), std::string::npos)
          << small.error();
      EXPECT_FALSE(make_params(d, page + 4096, false, page)) << "not a multiple of the page";
      d.max_transfer_blocks = 8;  // 4 KiB: below one page here
      auto limited = make_params(d, kDefaultIoBytes, false, page);
      ASSERT_FALSE(limited) << page;
      EXPECT_NE(limited.error().find("below one page, " + std::to_string(page)), std::string::npos)
          << limited.error();
    }
  }
  // The descriptor arrays: each queue's takes the room of 4096 descriptors in whole pages.
  EXPECT_EQ(descriptors_offset(0, 4096), kCmdBufOffset);
  EXPECT_EQ(descriptors_offset(1, 4096), 98304u);    // 4096 * 24 bytes, already whole pages
  EXPECT_EQ(descriptors_offset(1, 65536), 131072u);  // two 64 KiB pages
  EXPECT_EQ(descriptors_offset(3, 16384), 3 * 98304u);
  EXPECT_EQ(descriptors_bytes(128, 4096), 4096u);
  EXPECT_EQ(descriptors_bytes(128, 65536), 65536u);
  EXPECT_EQ(descriptors_bytes(200, 4096), 8192u);
}

IoDesc desc(uint8_t op, uint64_t sector, uint32_t sectors, uint32_t flags = 0) {
  return IoDesc{op | flags, sectors, sector, 0};
}

constexpr uint64_t kBytes = 64ull << 20;

TEST(UblkDecode, ReadWriteFlushDiscardWriteZeroes) {
  Request r;
  ASSERT_EQ(decode(desc(kOpRead, 8, 16), kBytes, 512, kDefaultIoBytes, true, false, &r), 0);
  EXPECT_EQ(r.op, Op::kRead);
  EXPECT_EQ(r.offset, 4096u);
  EXPECT_EQ(r.length, 8192u);
  EXPECT_EQ(r.flags, 0u);
  ASSERT_EQ(decode(desc(kOpWrite, 0, 8, kIoFFua), kBytes, 512, kDefaultIoBytes, true, false, &r),
            0);
  EXPECT_EQ(r.op, Op::kWrite);
  EXPECT_EQ(r.flags, kBlockFua);
  ASSERT_EQ(decode(desc(kOpFlush, 0, 0), kBytes, 512, kDefaultIoBytes, true, false, &r), 0);
  EXPECT_EQ(r.op, Op::kFlush);
  ASSERT_EQ(decode(desc(kOpDiscard, 2048, 2048), kBytes, 512, kDefaultIoBytes, true, false, &r), 0);
  EXPECT_EQ(r.op, Op::kDiscard);
  EXPECT_EQ(r.length, 1u << 20);  // larger than a request buffer: no data moves
  ASSERT_EQ(decode(desc(kOpWriteZeroes, 0, 8), kBytes, 512, kDefaultIoBytes, true, false, &r), 0);
  EXPECT_EQ(r.flags, kBlockMayUnmap);
  ASSERT_EQ(decode(desc(kOpWriteZeroes, 0, 8, kIoFNoUnmap), kBytes, 512, kDefaultIoBytes, true,
                   false, &r),
            0);
  EXPECT_EQ(r.flags, 0u);
  ASSERT_EQ(decode(desc(kOpWriteZeroes, 0, 8), kBytes, 512, kDefaultIoBytes, false, false, &r), 0);
  EXPECT_EQ(r.flags, 0u) << "a device that cannot unmap is never told it may";
}

TEST(UblkDecode, RefusesWithPreciseErrors) {
  Request r;
  EXPECT_EQ(decode(desc(kOpWriteSame, 0, 8), kBytes, 512, kDefaultIoBytes, true, false, &r),
            -EOPNOTSUPP);
  EXPECT_EQ(decode(desc(13 /* zone append */, 0, 8), kBytes, 512, kDefaultIoBytes, true, false, &r),
            -EOPNOTSUPP);
  EXPECT_EQ(decode(desc(kOpDiscard, 0, 8), kBytes, 512, kDefaultIoBytes, false, false, &r),
            -EOPNOTSUPP);
  EXPECT_EQ(decode(desc(kOpWrite, 0, 8), kBytes, 512, kDefaultIoBytes, true, true, &r), -EROFS);
  EXPECT_EQ(decode(desc(kOpWriteZeroes, 0, 8), kBytes, 512, kDefaultIoBytes, true, true, &r),
            -EROFS);
  EXPECT_EQ(decode(desc(kOpRead, 0, 8), kBytes, 512, kDefaultIoBytes, true, true, &r), 0);
  EXPECT_EQ(decode(desc(kOpRead, 0, 0), kBytes, 512, kDefaultIoBytes, true, false, &r), -EINVAL);
  EXPECT_EQ(decode(desc(kOpRead, 1, 8), kBytes, 4096, kDefaultIoBytes, true, false, &r), -EINVAL);
  EXPECT_EQ(decode(desc(kOpRead, 0, 4), kBytes, 4096, kDefaultIoBytes, true, false, &r), -EINVAL);
  uint64_t last = kBytes / 512;
  EXPECT_EQ(decode(desc(kOpRead, last - 8, 8), kBytes, 512, kDefaultIoBytes, true, false, &r), 0);
  EXPECT_EQ(decode(desc(kOpRead, last - 8, 16), kBytes, 512, kDefaultIoBytes, true, false, &r),
            -EINVAL);
  EXPECT_EQ(decode(desc(kOpRead, ~0ull / 512, 8), kBytes, 512, kDefaultIoBytes, true, false, &r),
            -EINVAL)
      << "no overflow past the end";
  EXPECT_EQ(decode(desc(kOpWrite, 0, 2048), kBytes, 512, 512 * 1024, true, false, &r), -EINVAL)
      << "more data than the request buffer holds";
}

TEST(UblkDecode, CommitResults) {
  Request read{Op::kRead, 0, 8192, 0};
  EXPECT_EQ(commit_result(read, 0), 8192);
  EXPECT_EQ(commit_result(read, -EIO), -EIO);
  Request flush{Op::kFlush, 0, 0, 0};
  EXPECT_EQ(commit_result(flush, 0), 0);
  Request discard{Op::kDiscard, 0, 1 << 20, 0};
  EXPECT_EQ(commit_result(discard, 0), 0);
  EXPECT_EQ(commit_result(discard, -ENOSPC), -ENOSPC);
}

TEST(UblkRecord, RoundTrip) {
  DeviceRecord r{"file", "/var/lib/x.img;direct=1;create=1", 1ull << 30, 4096, true, 4242};
  auto back = parse_record(format_record(r));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->handler, "file");
  EXPECT_EQ(back->cfg, r.cfg);
  EXPECT_EQ(back->size, r.size);
  EXPECT_EQ(back->block_size, 4096u);
  EXPECT_TRUE(back->read_only);
  EXPECT_EQ(back->pid, 4242);
  EXPECT_EQ(back->retry_timeout_ms, kDefaultRetryTimeoutMs);
  r.retry_timeout_ms = 0;
  back = parse_record(format_record(r));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->retry_timeout_ms, 0u);
  // A record written before the retry timeout was recorded gets the default.
  back = parse_record("handler=file\ncfg=/x\nsize=0\nblock_size=512\nread_only=0\npid=1\n");
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->retry_timeout_ms, kDefaultRetryTimeoutMs);
  EXPECT_FALSE(parse_record("handler=file\nretry_timeout_ms=3600001\n"));
  // --threads is served again by recover; older records mean one thread per queue, and a record
  // without threads leaves the key out, so an older lunkit can still read it.
  EXPECT_EQ(back->threads, 0u);
  EXPECT_EQ(format_record(r).find("threads="), std::string::npos);
  r.threads = 2;
  back = parse_record(format_record(r));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->threads, 2u);
  EXPECT_FALSE(parse_record("handler=file\nthreads=33\n"));
}

TEST(UblkRecord, BrokenRecordsNameTheLine) {
  auto r = parse_record("handler=file\nsize=12x\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("line 2"), std::string::npos) << r.error();
  r = parse_record("handler=file\nbogus=1\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("unknown key 'bogus'"), std::string::npos);
  EXPECT_FALSE(parse_record("cfg=/x\n"));
  EXPECT_FALSE(parse_record("no equals sign\n"));
  EXPECT_FALSE(parse_record(""));
}

TEST(UblkRecord, SavedLoadedRemoved) {
  std::string dir = testing::TempDir() + "/ublk-state-" + std::to_string(getpid()) + "/a/b";
  setenv("LUNKIT_UBLK_STATE_DIR", dir.c_str(), 1);
  DeviceRecord r{"null", "", 1 << 20, 512, false, 1};
  ASSERT_TRUE(save_record(7, r));
  EXPECT_EQ(record_path(7), dir + "/ublk7");
  auto back = load_record(7);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->handler, "null");
  remove_record(7);
  auto gone = load_record(7);
  ASSERT_FALSE(gone);
  EXPECT_NE(gone.error().find("lunkit ublk add"), std::string::npos) << gone.error();
  unsetenv("LUNKIT_UBLK_STATE_DIR");
  std::filesystem::remove_all(testing::TempDir() + "/ublk-state-" + std::to_string(getpid()));
}

TEST(UblkRecord, Sizes) {
  EXPECT_EQ(*parse_size("4096"), 4096u);
  EXPECT_EQ(*parse_size("64K"), 64u << 10);
  EXPECT_EQ(*parse_size("256M"), 256u << 20);
  EXPECT_EQ(*parse_size("1G"), 1ull << 30);
  EXPECT_EQ(*parse_size("2T"), 2ull << 40);
  EXPECT_EQ(*parse_size("3GiB"), 3ull << 30);
  EXPECT_FALSE(parse_size(""));
  EXPECT_FALSE(parse_size("M"));
  EXPECT_FALSE(parse_size("12Q"));
  EXPECT_FALSE(parse_size("-1"));
  EXPECT_FALSE(parse_size("99999999999999999999"));
  EXPECT_FALSE(parse_size("17179869184T"));
}

// ---- The device flags by name (`lunkit ublk list`) ----
TEST(UblkFeatures, NamesTheFlagsInTableOrderWithoutTheOnesEveryDeviceHas) {
  EXPECT_EQ(feature_list(kFlagCmdIoctlEncode | kFlagCompInTask), "-");
  // What Linux 6.18 gives every device, asked or not.
  EXPECT_EQ(feature_list(kFlagUserRecovery | kFlagPerIoDaemon | kFlagBufRegOffDaemon), "recovery");
  EXPECT_EQ(feature_list(kFlagQuiesce | kFlagUserRecovery | kFlagUpdateSize |
                         kFlagUserRecoveryReissue | kFlagCmdIoctlEncode),
            "recovery,reissue,resize,quiesce");
  EXPECT_EQ(feature_list(kFlagAutoBufReg | kFlagSupportZeroCopy), "zero-copy,auto-buf-reg");
  // A flag from a kernel newer than this table is shown, not dropped.
  EXPECT_EQ(feature_list(kFlagUserRecovery | (1ull << 40)), "recovery,0x10000000000");
}

TEST(UblkFeatures, EveryNamedFlagIsOneBitAndNamedOnce) {
  uint64_t seen = 0;
  for (const FeatureName& f : kFeatureNames) {
    EXPECT_EQ(std::popcount(f.flag), 1) << f.name;
    EXPECT_EQ(seen & f.flag, 0u) << f.name;
    seen |= f.flag;
    EXPECT_EQ(feature_list(f.flag), f.name);
  }
}

// What the serving loop does: wait until the socket is readable.
bool request_waits(const CommandSocket& sock) {
  pollfd p{sock.fd(), POLLIN, 0};
  return poll(&p, 1, 10000) == 1;
}

// The socket `lunkit ublk resize` and `recover` talk to a device's server through: one request,
// one answer; only root can reach it; it goes away with the server.
TEST(UblkCommandSocket, OneRequestOneAnswerThenGone) {
  std::string dir = testing::TempDir() + "/ublk-sock-" + std::to_string(getpid());
  setenv("LUNKIT_UBLK_STATE_DIR", dir.c_str(), 1);
  std::string asked;
  {
    auto sock = CommandSocket::listen(3);
    ASSERT_TRUE(sock) << sock.error();
    struct stat st;
    ASSERT_EQ(stat(socket_path(3).c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    Result<std::string> answer = Error{"no answer"};
    std::thread client([&] { answer = ask_server(3, "resize 4096", 10000); });
    ASSERT_TRUE(request_waits(*sock));
    sock->serve_one([&](const std::string& request) {
      asked = request;
      return request == "resize 4096" ? "ok 4096" : "error unknown request";
    });
    client.join();
    ASSERT_TRUE(answer) << answer.error();
    EXPECT_EQ(*answer, "ok 4096");
    EXPECT_EQ(asked, "resize 4096");
    // A request the server does not know gets its one-line error back.
    std::thread other([&] { answer = ask_server(3, "frobnicate", 10000); });
    ASSERT_TRUE(request_waits(*sock));
    sock->serve_one([](const std::string& request) {
      return request == "resize 4096" ? "ok" : "error unknown request '" + request + "'";
    });
    other.join();
    ASSERT_TRUE(answer) << answer.error();
    EXPECT_EQ(*answer, "error unknown request 'frobnicate'");
  }
  // The server is gone: its socket with it, and asking says so in one line.
  struct stat st;
  EXPECT_NE(stat(socket_path(3).c_str(), &st), 0);
  auto none = ask_server(3, "resize 4096", 1000);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().find("no lunkit process serves ublkb3"), std::string::npos)
      << none.error();
  unsetenv("LUNKIT_UBLK_STATE_DIR");
  std::filesystem::remove_all(dir);
}

// A server that never answers does not hang the asker past its timeout.
TEST(UblkCommandSocket, AServerThatDoesNotAnswerTimesOut) {
  std::string dir = testing::TempDir() + "/ublk-sock-slow-" + std::to_string(getpid());
  setenv("LUNKIT_UBLK_STATE_DIR", dir.c_str(), 1);
  auto sock = CommandSocket::listen(4);
  ASSERT_TRUE(sock) << sock.error();
  auto answer = ask_server(4, "hand-over", 200);  // connected (backlog), never accepted
  ASSERT_FALSE(answer);
  EXPECT_NE(answer.error().find("did not answer 'hand-over'"), std::string::npos) << answer.error();
  unsetenv("LUNKIT_UBLK_STATE_DIR");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace lunkit::ublk
