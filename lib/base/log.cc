// The structured logger: formats a JSON line and writes it with one call.
#include "lib/base/log.h"

#include <unistd.h>

#include <atomic>

#include "lib/base/json.h"
#include "lib/base/timestamp.h"

namespace vireo::base {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

bool ParseLogLevel(std::string_view text, LogLevel* level) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (text == LevelName(l)) {
      *level = l;
      return true;
    }
  }
  return false;
}

void Log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (static_cast<int>(level) < g_level.load()) return;
  // Keys in the order written: ts, level, msg first for people reading raw logs.
  nlohmann::ordered_json line;
  line["ts"] = FormatMicroTime(std::chrono::system_clock::now());
  line["level"] = LevelName(level);
  line["msg"] = msg;
  for (const auto& [key, value] : fields) line[std::string(key)] = value;
  // A message may carry bytes that are not UTF-8 (a guest's console, a
  // libvirt error): each is written as U+FFFD rather than lost with the line.
  std::string text =
      line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  // One write(2) per line: lines from concurrent threads never interleave.
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = write(STDERR_FILENO, text.data() + off, text.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace vireo::base
