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
#include <memory>
#include <string>

#include "bench/collecting_reporter.h"
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

// Emulator, null device and a device attached to them, past the power-on unit attention.
struct Rig {
  Counter counter;
  RingEmulator emu{emulator_options(), Counter::on, &counter};
  NullDevice null;
  std::unique_ptr<Device> dev;

  // Empty string on success. With `threaded`, the device runs its own event loop.
  std::string start(bool threaded) {
    auto d = Device::attach(emu.doorbell_fd(), emu.map_fd(), emu.map_size(), null, {});
    if (!d) return d.error();
    dev = std::move(*d);
    if (threaded) dev->start();
    const uint8_t tur[6] = {};
    emu.submit(tur, Dir::kNone, {}, 0, 0);
    while (counter.done < 1) {
      if (!threaded) dev->process();
      emu.wait_and_service(threaded ? 100 : 0);
    }
    counter.bad = 0;
    return "";
  }
  void queue(int qd) {
    for (int i = 0; i < qd; ++i) emu.submit(kRead10, Dir::kFromDevice, {}, 4096, i, false);
    emu.notify();
  }
};

void BM_TcmuRead4k(benchmark::State& state) {
  const int qd = static_cast<int>(state.range(0));
  Rig rig;
  if (std::string err = rig.start(false); !err.empty()) return state.SkipWithError(err.c_str());
  auto before = rig.dev->stats();
  for (auto _ : state) {
    rig.queue(qd);
    rig.dev->process();
    rig.emu.service();
  }
  auto after = rig.dev->stats();
  uint64_t commands = after.commands - before.commands;
  if (rig.counter.bad || rig.emu.in_flight()) state.SkipWithError("commands failed or were lost");
  state.SetItemsProcessed(static_cast<int64_t>(commands));
  state.counters["syscalls_per_cmd"] =
      static_cast<double>(after.kicks - before.kicks) /
      static_cast<double>(commands);
}

void BM_TcmuLoopRead4k(benchmark::State& state) {
  const int qd = static_cast<int>(state.range(0));
  Rig rig;
  if (std::string err = rig.start(true); !err.empty()) return state.SkipWithError(err.c_str());
  double cpu_before = thread_cpu_seconds(rig.dev->loop_thread());
  uint64_t done_before = rig.counter.done;
  for (auto _ : state) {
    uint64_t want = rig.counter.done + static_cast<uint64_t>(qd);
    rig.queue(qd);
    while (rig.counter.done < want) rig.emu.wait_and_service(1000);
  }
  double cpu = thread_cpu_seconds(rig.dev->loop_thread()) - cpu_before;
  uint64_t commands = rig.counter.done - done_before;
  rig.dev->stop();
  auto s = rig.dev->stats();
  if (rig.counter.bad) state.SkipWithError("commands failed");
  state.SetItemsProcessed(static_cast<int64_t>(commands));
  state.counters["lunkit_cmds_per_cpu_s"] = cpu > 0 ? static_cast<double>(commands) / cpu : 0;
  state.counters["syscalls_per_cmd"] =
      static_cast<double>(s.kicks + s.waits) / static_cast<double>(s.commands);
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

}  // namespace

int main(int argc, char** argv) {
  return lunkit::bench::run_benchmarks(argc, argv, [](const lunkit::bench::CollectingReporter& r) {
    double base = r.get("BM_LogicalUnitRead4k").items_per_second;
    std::printf("\nTCMU transport, 4 KiB READ, null device:\n");
    std::printf("  %-26s %12s %10s %14s %18s\n", "path", "cmds/s", "x libscsi", "syscalls/cmd",
                "lunkit cmds/CPU-s");
    for (const auto& [name, m] : r.results()) {
      double cpu = m.counter("lunkit_cmds_per_cpu_s");
      std::printf("  %-26s %12.0f %10.3f %14.3f %18s\n", name.c_str() + 3, m.items_per_second,
                  base > 0 ? m.items_per_second / base : 0, m.counter("syscalls_per_cmd"),
                  cpu > 0 ? std::to_string(static_cast<long>(cpu)).c_str() : "-");
    }
  });
}
