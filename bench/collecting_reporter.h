// Google Benchmark's console output plus what each run measured, kept by benchmark name, so a
// benchmark can print its ratios against a baseline from the same process at the end.
#pragma once

#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <vector>

namespace lunkit::bench {

struct Measured {
  double real_ns = 0;  // adjusted real time per iteration
  double items_per_second = 0;
  std::map<std::string, double> counters;
  double counter(const std::string& name) const {
    auto it = counters.find(name);
    return it == counters.end() ? 0 : it->second;
  }
};

class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      Measured& m = results_[r.benchmark_name()];
      m.real_ns = r.GetAdjustedRealTime();
      for (const auto& [name, c] : r.counters) m.counters[name] = c.value;
      m.items_per_second = m.counter("items_per_second");
    }
    ConsoleReporter::ReportRuns(runs);
  }
  const std::map<std::string, Measured>& results() const { return results_; }
  Measured get(const std::string& name) const {
    auto it = results_.find(name);
    return it == results_.end() ? Measured{} : it->second;
  }

 private:
  std::map<std::string, Measured> results_;
};

// Runs the benchmarks named on the command line and calls print(reporter) afterwards.
template <typename Print>
int run_benchmarks(int argc, char** argv, Print print) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  CollectingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print(reporter);
  benchmark::Shutdown();
  return 0;
}

}  // namespace lunkit::bench
