// libscsi hot path: decode + dispatch + completion of 4 KiB READ(10) and WRITE(10) against a
// device that completes inline, next to a baseline that calls the same device directly (what
// a transport would pay without SCSI). Prints ns per command and the ratio to the baseline.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "bench/collecting_reporter.h"
#include "bench/null_device.h"
#include "lunkit/scsi/logical_unit.h"

namespace {

using lunkit::BlockDevice;
using lunkit::BlockRequest;
using lunkit::DeviceInfo;
using lunkit::scsi::Command;
using lunkit::scsi::LogicalUnit;

using lunkit::bench::NullDevice;

void count_completion(void* ctx, Command&) {
  ++*static_cast<uint64_t*>(ctx);
}

// One 4 KiB command at a rotating LBA through the logical unit.
void run_lu(benchmark::State& state, uint8_t opcode) {
  NullDevice dev;
  uint64_t completed = 0;
  LogicalUnit lu(dev, count_completion, &completed);
  std::vector<uint8_t> buf(4096);
  iovec iov{buf.data(), buf.size()};
  Command cmd;
  cmd.cdb_len = 10;
  cmd.cdb = {0x00};
  cmd.iov = std::span(&iov, 1);
  lu.submit(cmd);  // power-on unit attention
  uint32_t lba = 0;
  for (auto _ : state) {
    cmd.cdb = {opcode,
               0,
               static_cast<uint8_t>(lba >> 24),
               static_cast<uint8_t>(lba >> 16),
               static_cast<uint8_t>(lba >> 8),
               static_cast<uint8_t>(lba),
               0,
               0,
               8,
               0};
    cmd.iov = std::span(&iov, 1);
    cmd.data_len = buf.size();
    lu.submit(cmd);
    lba = (lba + 8) & 0xFFFFF;
  }
  if (completed != static_cast<uint64_t>(state.iterations()) + 1)
    state.SkipWithError("lost completion");
  state.SetItemsProcessed(state.iterations());
}

void BM_ScsiRead4k(benchmark::State& state) {
  run_lu(state, 0x28);
}
void BM_ScsiWrite4k(benchmark::State& state) {
  run_lu(state, 0x2A);
}

// Baseline: the same device request without SCSI decoding or dispatch.
void baseline_done(BlockRequest& r, int) {
  ++*static_cast<uint64_t*>(r.context);
}
void BM_DirectDeviceRead4k(benchmark::State& state) {
  NullDevice dev;
  BlockDevice& device = dev;
  std::vector<uint8_t> buf(4096);
  iovec iov{buf.data(), buf.size()};
  uint64_t completed = 0;
  BlockRequest r;
  r.on_complete = baseline_done;
  r.context = &completed;
  uint64_t lba = 0;
  for (auto _ : state) {
    r.offset = lba * 512;
    r.length = 4096;
    r.iov = std::span(&iov, 1);
    device.read(r);
    benchmark::DoNotOptimize(completed);
    lba = (lba + 8) & 0xFFFFF;
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_DirectDeviceRead4k);
BENCHMARK(BM_ScsiRead4k);
BENCHMARK(BM_ScsiWrite4k);

}  // namespace

int main(int argc, char** argv) {
  return lunkit::bench::run_benchmarks(argc, argv, [](const lunkit::bench::CollectingReporter& r) {
    double base = r.get("BM_DirectDeviceRead4k").real_ns;
    std::printf("\nlibscsi 4 KiB hot path (device completes inline):\n");
    for (const char* n : {"BM_ScsiRead4k", "BM_ScsiWrite4k"}) {
      double v = r.get(n).real_ns;
      std::printf("  %-16s %7.1f ns/command   %5.1fx the direct device call (%.1f ns)\n", n + 3, v,
                  base > 0 ? v / base : 0.0, base);
    }
  });
}
