// Feeds every file of the given corpus folders (and files) to a fuzz target
// once, so each plain T0 build replays the seeds and every crash libFuzzer
// ever found through the same code, compiled by the ordinary compiler.
// A broken input aborts the process, naming the file first.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/fuzz_target.h"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg = argv[i];
    if (fs::is_directory(arg)) {
      for (const auto& entry : fs::recursive_directory_iterator(arg)) {
        if (entry.is_regular_file()) inputs.push_back(entry.path());
      }
    } else if (fs::is_regular_file(arg)) {
      inputs.push_back(arg);
    } else {
      std::cerr << "replay: " << arg << " is neither a file nor a folder\n";
      return 2;
    }
  }
  if (inputs.empty()) {
    // A replay of nothing would pass while testing nothing.
    std::cerr << "replay: no corpus files given\n";
    return 2;
  }
  std::sort(inputs.begin(), inputs.end());
  const std::string name = fs::path(argv[0]).filename().string();
  for (const fs::path& path : inputs) {
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::cerr << "replay: cannot read " << path << "\n";
      return 2;
    }
    std::cerr << "replay: " << path.string() << " (" << bytes.size() << " bytes)\n";
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  // The line hack/summarize-tests.py counts: one case per corpus file.
  std::cout << name << ": " << inputs.size() << " passed, 0 failed\n";
  return 0;
}
