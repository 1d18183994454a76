// EDGESERVE_CUDA_PROFILE=1: where a decode step's GPU time goes, by phase. Eager steps only
// (graphs are off while profiling): an event is recorded after each phase, and after the step's
// synchronisation the gaps between consecutive events are added to that phase's total. Only
// pure-decode steps count, after `skip` warm-up ones; the table goes to stderr when the model is
// destroyed. EDGESERVE_CUDA_PROFILE=all counts every step instead (prefill and mixed ones too):
// where a whole workload's GPU time goes. Event records cost a few microseconds of host time
// each, so the profiled step runs a little slower than an unprofiled eager one; the per-phase GPU
// times are what it is for.
#pragma once
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>
#include "common.cuh"

namespace es {

struct StepProfile {
  bool on = false;
  bool all_steps = false;  // every step, not only pure-decode ones
  bool active = false;     // the current step is being recorded
  int skip = 2, steps = 0, rows = 0;
  std::vector<cudaEvent_t> events;
  std::vector<const char*> names;
  size_t used = 0;
  std::map<std::string, double> gpu_ms;
  double host_ms = 0, step_ms = 0;  // host enqueue time, and entry → results on the host
  std::chrono::steady_clock::time_point t0;

  void begin(cudaStream_t st, bool decode, int num_rows) {
    active = on && (decode || all_steps);
    if (!active) return;
    if (skip > 0) {
      skip--;
      active = false;
      return;
    }
    rows = num_rows;
    used = 0;
    t0 = std::chrono::steady_clock::now();
    mark(st, "start");
  }
  void mark(cudaStream_t st, const char* name) {
    if (!active) return;
    if (used == events.size()) {
      cudaEvent_t e;
      CK(cudaEventCreate(&e));
      events.push_back(e);
      names.push_back(name);
    }
    names[used] = name;
    CK(cudaEventRecord(events[used++], st));
  }
  void enqueued() {
    if (active)
      host_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                     .count();
  }
  // After the step's synchronisation.
  void end() {
    if (!active) return;
    active = false;
    step_ms +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    for (size_t i = 1; i < used; i++) {
      float ms = 0;
      CK(cudaEventElapsedTime(&ms, events[i - 1], events[i]));
      gpu_ms[names[i]] += ms;
    }
    steps++;
  }
  void report() const {
    if (!on || steps == 0) return;
    double total = 0;
    for (auto& [name, ms] : gpu_ms) total += ms;
    if (all_steps)
      std::fprintf(stderr, "edgeserve cuda profile: %d steps of every kind (eager)\n", steps);
    else
      std::fprintf(stderr, "edgeserve cuda profile: %d decode steps of %d rows (eager)\n", steps,
                   rows);
    std::fprintf(stderr, "%-16s %10s %7s %10s\n", "phase", "ms/step", "share", "total s");
    for (auto& [name, ms] : gpu_ms)
      std::fprintf(stderr, "%-16s %10.4f %6.1f%% %10.3f\n", name.c_str(), ms / steps,
                   100 * ms / total, ms / 1000);
    std::fprintf(stderr, "%-16s %10.4f\n", "gpu total", total / steps);
    std::fprintf(stderr, "%-16s %10.4f\n", "host enqueue", host_ms / steps);
    std::fprintf(stderr, "%-16s %10.4f\n", "native step", step_ms / steps);
  }
  void release() {
    for (cudaEvent_t e : events) cudaEventDestroy(e);
    events.clear();
  }
};

}  // namespace es
