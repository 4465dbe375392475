// Helpers for launcher/storage tests: a temp dir removed afterwards, file
// writes and reads, and running a tool the test needs (qemu-img, qemu-io).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "launcher/storage/process.h"

namespace vireo::launcher::storage_testing {

class TempDir {
 public:
  TempDir() {
    std::string path = (std::filesystem::temp_directory_path() / "vireo-storage-XXXXXX").string();
    if (::mkdtemp(path.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = path;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs a tool; fails the test (returning its output anyway) when it exits non-zero.
inline std::string RunTool(const std::vector<std::string>& argv) {
  auto result = storage_internal::RunProcess(argv);
  if (!result.ok()) {
    ADD_FAILURE() << result.status().ToString();
    return "";
  }
  EXPECT_EQ(result->exit_code, 0) << argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << ": "
                                  << result->output;
  return result->output;
}

}  // namespace vireo::launcher::storage_testing
