// The one entry point every fuzz target defines: libFuzzer's, so the same
// file links into a libFuzzer binary (clang, -Dfuzz=true) and into the
// corpus replayer that every build runs as a unit test (replay_main.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace vireo::fuzz {

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A property the parser promised was broken: abort, so libFuzzer saves the
// input and the replayer fails. Not an assert: it must hold in release builds.
#define VIREO_FUZZ_CHECK(cond)                                                     \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "%s:%d: fuzz property broken: %s\n", __FILE__, __LINE__, \
                   #cond);                                                         \
      std::abort();                                                                \
    }                                                                              \
  } while (0)

}  // namespace vireo::fuzz
