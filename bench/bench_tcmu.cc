// The TCMU transport: 4 KiB READ commands queued by the kernel-side emulator, consumed from the
// ring, executed by libscsi against a null device and completed back through the ring, at queue
// depth 1, 32 and 128.
//
//  * BM_TcmuRead4k/<qd>: both sides on one thread (Device::process()); the time includes the
//    emulated kernel's work. Counter syscalls_per_cmd counts the transport's own system calls.
//  * BM_TcmuLoopRead4k/<qd>: the device's event loop on its own thread, as in lunkitd; counter
//    lunkit_cmds_per_cpu_s is commands per CPU-second of that thread (per core).
//  * BM_LogicalUnitRead4k: the same command straight into libscsi, the baseline for the ratio
//    printed at the end.
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <time.h>

#include <cstdio>
#include <map>
#include <string>

#include "bench/null_device.h"
#include "lunkit/scsi/logical_unit.h"
#include "tcmu/device.h"
#include "tcmu/ring_emulator.h"

namespace {

using lunkit::bench::NullDevice;
using lunkit::tcmu::Device;
using lunkit::tcmu::RingEmulator;
using Dir = RingEmulator::Direction;

constexpr uint8_t kRead10[10] = {0x28, 0, 0, 0, 0x10, 0, 0, 0, 8, 0};

struct Counter {
  uint64_t done = 0;
  uint64_t bad = 0;
  static void on(void* ctx, const lunkit::tcmu::EmulatedCompletion& c) {
    auto* self = static_cast<Counter*>(ctx);
    ++self->done;
    if (c.status != 0) ++self->bad;
  }
};

RingEmulator::Options emulator_options() {
  RingEmulator::Options o;  // the 6.12 default 8 MiB ring; a 64 MiB data area
  return o;
}

double thread_cpu_seconds(pthread_t t) {
  clockid_t clock;
  timespec ts{};
  if (pthread_getcpuclockid(t, &clock) != 0 || clock_gettime(clock, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void clear_unit_attention(RingEmulator& emu, Counter& counter, Device* inline_dev) {
  const uint8_t tur[6] = {};
  emu.submit(tur, Dir::kNone, {}, 0, 0);
  uint64_t want = counter.done + 1;
  while (counter.done < want) {
    if (inline_dev) inline_dev->process();
    emu.wait_and_service(inline_dev ? 0 : 100);
  }
  counter.bad = 0;
}

void BM_TcmuRead4k(benchmark::State& state) {
  const int qd = static_cast<int>(state.range(0));
  Counter counter;
  RingEmulator emu(emulator_options(), Counter::on, &counter);
  NullDevice null;
  auto dev = Device::attach(emu.doorbell_fd(), emu.map_fd(), emu.map_size(), null, {});
  if (!dev) return state.SkipWithError(dev.error().c_str());
  clear_unit_attention(emu, counter, dev->get());
  auto before = (*dev)->stats();
  for (auto _ : state) {
    for (int i = 0; i < qd; ++i) emu.submit(kRead10, Dir::kFromDevice, {}, 4096, i, false);
    emu.notify();
    (*dev)->process();
    emu.service();
  }
  auto after = (*dev)->stats();
  uint64_t commands = after.commands - before.commands;
  if (counter.bad || emu.in_flight()) state.SkipWithError("commands failed or were lost");
  state.SetItemsProcessed(static_cast<int64_t>(commands));
  state.counters["syscalls_per_cmd"] =
      static_cast<double>((after.doorbell_reads - before.doorbell_reads) +
                          (after.kicks - before.kicks)) /
      static_cast<double>(commands);
}

void BM_TcmuLoopRead4k(benchmark::State& state) {
  const int qd = static_cast<int>(state.range(0));
  Counter counter;
  RingEmulator emu(emulator_options(), Counter::on, &counter);
  NullDevice null;
  auto dev = Device::attach(emu.doorbell_fd(), emu.map_fd(), emu.map_size(), null, {});
  if (!dev) return state.SkipWithError(dev.error().c_str());
  (*dev)->start();
  clear_unit_attention(emu, counter, nullptr);
  double cpu_before = thread_cpu_seconds((*dev)->loop_thread());
  uint64_t done_before = counter.done;
  for (auto _ : state) {
    uint64_t want = counter.done + static_cast<uint64_t>(qd);
    for (int i = 0; i < qd; ++i) emu.submit(kRead10, Dir::kFromDevice, {}, 4096, i, false);
    emu.notify();
    while (counter.done < want) emu.wait_and_service(1000);
  }
  double cpu = thread_cpu_seconds((*dev)->loop_thread()) - cpu_before;
  uint64_t commands = counter.done - done_before;
  (*dev)->stop();
  auto s = (*dev)->stats();
  if (counter.bad) state.SkipWithError("commands failed");
  state.SetItemsProcessed(static_cast<int64_t>(commands));
  state.counters["lunkit_cmds_per_cpu_s"] = cpu > 0 ? static_cast<double>(commands) / cpu : 0;
  state.counters["syscalls_per_cmd"] =
      static_cast<double>(s.doorbell_reads + s.kicks + s.waits) / static_cast<double>(s.commands);
}

void count(void* ctx, lunkit::scsi::Command&) {
  ++*static_cast<uint64_t*>(ctx);
}

void BM_LogicalUnitRead4k(benchmark::State& state) {
  NullDevice null;
  uint64_t done = 0;
  lunkit::scsi::LogicalUnit lu(null, count, &done);
  std::vector<uint8_t> buf(4096);
  iovec iov{buf.data(), buf.size()};
  lunkit::scsi::Command cmd;
  cmd.cdb_len = 6;
  lu.submit(cmd);  // power-on unit attention
  cmd.cdb_len = 10;
  for (auto _ : state) {
    std::copy(std::begin(kRead10), std::end(kRead10), cmd.cdb.begin());
    cmd.iov = std::span(&iov, 1);
    cmd.data_len = buf.size();
    lu.submit(cmd);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_LogicalUnitRead4k);
BENCHMARK(BM_TcmuRead4k)->Arg(1)->Arg(32)->Arg(128);
BENCHMARK(BM_TcmuLoopRead4k)->Arg(1)->Arg(32)->Arg(128)->UseRealTime();

class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      auto& row = rows_[r.benchmark_name()];
      auto it = r.counters.find("items_per_second");
      row.rate = it == r.counters.end() ? 0 : it->second.value;
      for (const char* c : {"syscalls_per_cmd", "lunkit_cmds_per_cpu_s"})
        if (auto f = r.counters.find(c); f != r.counters.end()) row.extra[c] = f->second.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void print_summary() const {
    auto rate = [&](const std::string& n) {
      auto it = rows_.find(n);
      return it == rows_.end() ? 0.0 : it->second.rate;
    };
    double base = rate("BM_LogicalUnitRead4k");
    std::printf("\nTCMU transport, 4 KiB READ, null device:\n");
    std::printf("  %-26s %12s %10s %14s %18s\n", "path", "cmds/s", "x libscsi", "syscalls/cmd",
                "lunkit cmds/CPU-s");
    for (const auto& [name, row] : rows_) {
      auto sys = row.extra.find("syscalls_per_cmd");
      auto cpu = row.extra.find("lunkit_cmds_per_cpu_s");
      std::printf(
          "  %-26s %12.0f %10.3f %14.3f %18s\n", name.c_str() + 3, row.rate,
          base > 0 ? row.rate / base : 0, sys == row.extra.end() ? 0.0 : sys->second,
          cpu == row.extra.end() ? "-" : std::to_string(static_cast<long>(cpu->second)).c_str());
    }
  }

 private:
  struct Row {
    double rate = 0;
    std::map<std::string, double> extra;
  };
  std::map<std::string, Row> rows_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_summary();
  benchmark::Shutdown();
  return 0;
}
