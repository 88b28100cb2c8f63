// The machine a load test ran on, recorded beside every figure (DESIGN.md: "stated machine"):
// CPU model, cores, memory, kernel, hostname.
//
// (bench/bench_util.h has the benchmarks' own copy, with the date; this one is the library's.)
//
// Threading: reads /proc and uname; safe from any thread.
#ifndef MQLAB_LOAD_MACHINE_H_
#define MQLAB_LOAD_MACHINE_H_

#include <nlohmann/json.hpp>

namespace mqlab::load {

// {"cpu", "cores", "memoryGiB", "kernel", "hostname"}.
nlohmann::json MachineInfo();

}  // namespace mqlab::load

#endif  // MQLAB_LOAD_MACHINE_H_
