// The file handler through the whole TCMU path (ring emulator -> device loop -> libscsi ->
// file plugin on io_uring) against the same file accessed directly, 4 KiB random reads and
// writes at queue depth 32 on a 64 MiB file (page cache). Baselines: io_uring at depth 32 (the
// same mechanism without lunkit) and pread/pwrite (one at a time).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <liburing.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bench/collecting_reporter.h"
#include "handlers/host/plugin.h"
#include "handlers/host/plugin_device.h"
#include "tcmu/device.h"
#include "tcmu/ring_emulator.h"

namespace {

using namespace lunkit;
constexpr uint64_t kFileSize = 64ull << 20;
constexpr int kDepth = 32;
constexpr size_t kBlock = 4096;

std::string file_path() {
  static std::string path = [] {
    char tmpl[] = "/tmp/lunkit-bench-XXXXXX";
    int fd = mkstemp(tmpl);
    std::vector<uint8_t> buf(1 << 20, 0x5A);
    for (uint64_t off = 0; off < kFileSize; off += buf.size())
      if (pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(off)) < 0) std::abort();
    close(fd);
    return std::string(tmpl);
  }();
  return path;
}

std::string plugin_path() {
  const char* dir = std::getenv("LUNKIT_HANDLER_BUILD_DIR");
  return std::string(dir ? dir : "handlers/.libs") + "/file.so";
}

void BM_PreadPwrite(benchmark::State& state) {
  bool write = state.range(0);
  int fd = open(file_path().c_str(), O_RDWR);
  std::vector<uint8_t> buf(kBlock, 1);
  std::mt19937_64 rng(1);
  for (auto _ : state) {
    off_t off = static_cast<off_t>((rng() % (kFileSize / kBlock)) * kBlock);
    ssize_t n = write ? pwrite(fd, buf.data(), kBlock, off) : pread(fd, buf.data(), kBlock, off);
    if (n != static_cast<ssize_t>(kBlock)) state.SkipWithError("short I/O");
  }
  close(fd);
  state.SetItemsProcessed(state.iterations());
}

void BM_IoUringDirect(benchmark::State& state) {
  bool write = state.range(0);
  int fd = open(file_path().c_str(), O_RDWR);
  io_uring ring;
  io_uring_queue_init(64, &ring, 0);
  std::vector<std::vector<uint8_t>> bufs(kDepth, std::vector<uint8_t>(kBlock, 1));
  std::mt19937_64 rng(1);
  for (auto _ : state) {
    for (int i = 0; i < kDepth; ++i) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      uint64_t off = (rng() % (kFileSize / kBlock)) * kBlock;
      if (write)
        io_uring_prep_write(sqe, fd, bufs[i].data(), kBlock, off);
      else
        io_uring_prep_read(sqe, fd, bufs[i].data(), kBlock, off);
    }
    io_uring_submit_and_wait(&ring, kDepth);
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      if (cqe->res != static_cast<int>(kBlock)) state.SkipWithError("short I/O");
    }
    io_uring_cq_advance(&ring, seen);
  }
  io_uring_queue_exit(&ring);
  close(fd);
  state.SetItemsProcessed(state.iterations() * kDepth);
}

struct Counter {
  uint64_t done = 0, bad = 0;
  static void on(void* ctx, const tcmu::EmulatedCompletion& c) {
    auto* self = static_cast<Counter*>(ctx);
    ++self->done;
    self->bad += c.status != 0;
  }
};

void BM_LunkitFileHandler(benchmark::State& state) {
  bool write = state.range(0);
  auto plugin = plugins::Plugin::load(plugin_path(), false);
  if (!plugin) return state.SkipWithError(plugin.error().c_str());
  plugins::WorkerPool pool(1);
  plugins::OpenParams p;
  p.name = "bench";
  p.cfgstring = file_path();
  p.size = kFileSize;
  p.block_size = 512;
  auto backend = plugins::PluginBlockDevice::open(**plugin, p, &pool);
  if (!backend) return state.SkipWithError(backend.error().c_str());
  Counter counter;
  tcmu::RingEmulator emu(tcmu::RingEmulator::Options{}, Counter::on, &counter);
  auto dev = tcmu::Device::attach(emu.doorbell_fd(), emu.map_fd(), emu.map_size(), **backend, {});
  if (!dev) return state.SkipWithError(dev.error().c_str());
  (*backend)->bind_loop(dev->get());
  (*dev)->start();
  const uint8_t tur[6] = {};
  emu.submit(tur, tcmu::RingEmulator::Direction::kNone, {}, 0, 0);
  while (counter.done < 1) emu.wait_and_service(100);
  counter.bad = 0;
  std::vector<uint8_t> data(kBlock, 7);
  std::mt19937_64 rng(1);
  for (auto _ : state) {
    uint64_t want = counter.done + kDepth;
    for (int i = 0; i < kDepth; ++i) {
      uint32_t lba = static_cast<uint32_t>((rng() % (kFileSize / kBlock)) * (kBlock / 512));
      uint8_t cdb[10] = {static_cast<uint8_t>(write ? 0x2A : 0x28),
                         0,
                         uint8_t(lba >> 24),
                         uint8_t(lba >> 16),
                         uint8_t(lba >> 8),
                         uint8_t(lba),
                         0,
                         0,
                         8,
                         0};
      if (write)
        emu.submit(cdb, tcmu::RingEmulator::Direction::kToDevice, data, 0, i, false);
      else
        emu.submit(cdb, tcmu::RingEmulator::Direction::kFromDevice, {}, kBlock, i, false);
    }
    emu.notify();
    while (counter.done < want) emu.wait_and_service(1000);
  }
  (*dev)->stop();
  if (counter.bad) state.SkipWithError("commands failed");
  state.SetItemsProcessed(state.iterations() * kDepth);
}

BENCHMARK(BM_PreadPwrite)->Arg(0)->Arg(1)->UseRealTime();
BENCHMARK(BM_IoUringDirect)->Arg(0)->Arg(1)->UseRealTime();
BENCHMARK(BM_LunkitFileHandler)->Arg(0)->Arg(1)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  int rc =
      lunkit::bench::run_benchmarks(argc, argv, [](const lunkit::bench::CollectingReporter& r) {
        std::printf("\n4 KiB random I/O on a 64 MiB file (IOPS; ratio = lunkit / baseline):\n");
        for (const char* rw : {"0", "1"}) {
          std::string suffix = std::string("/") + rw + "/real_time";
          double lunkit = r.get("BM_LunkitFileHandler" + suffix).items_per_second;
          double uring = r.get("BM_IoUringDirect" + suffix).items_per_second;
          double pread = r.get("BM_PreadPwrite" + suffix).items_per_second;
          std::printf(
              "  %-5s lunkit TCMU path %9.0f | io_uring QD32 %9.0f (ratio %.2f) | %s %9.0f (ratio "
              "%.2f)\n",
              rw[0] == '0' ? "read" : "write", lunkit, uring, uring ? lunkit / uring : 0,
              rw[0] == '0' ? "pread " : "pwrite", pread, pread ? lunkit / pread : 0);
        }
      });
  unlink(file_path().c_str());
  return rc;
}
