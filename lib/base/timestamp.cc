// Kubernetes timestamps: metav1.Time (RFC 3339, seconds) and metav1.MicroTime
// (microseconds) written in UTC, and parsed with any fraction and offset.
#include "lib/base/timestamp.h"

#include <cstdio>
#include <ctime>

namespace vireo::base {
namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;

// Reads exactly `digits` decimal digits at text[*pos].
bool ReadNumber(std::string_view text, size_t* pos, size_t digits, int* out) {
  if (*pos + digits > text.size()) return false;
  int value = 0;
  for (size_t i = 0; i < digits; ++i) {
    char c = text[*pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *pos += digits;
  *out = value;
  return true;
}

bool Expect(std::string_view text, size_t* pos, std::string_view chars) {
  if (*pos >= text.size() || chars.find(text[*pos]) == std::string_view::npos) return false;
  ++*pos;
  return true;
}

}  // namespace

std::string FormatMicroTime(Clock::WallTime time) {
  const int64_t micros = duration_cast<microseconds>(time.time_since_epoch()).count();
  int64_t seconds = micros / 1'000'000;
  int64_t fraction = micros % 1'000'000;
  if (fraction < 0) {
    fraction += 1'000'000;
    --seconds;
  }
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(fraction));
  return text;
}

std::optional<Clock::WallTime> ParseMicroTime(std::string_view text) {
  size_t pos = 0;
  std::tm tm{};
  int year = 0, month = 0;
  if (!ReadNumber(text, &pos, 4, &year) || !Expect(text, &pos, "-") ||
      !ReadNumber(text, &pos, 2, &month) || !Expect(text, &pos, "-") ||
      !ReadNumber(text, &pos, 2, &tm.tm_mday) || !Expect(text, &pos, "Tt") ||
      !ReadNumber(text, &pos, 2, &tm.tm_hour) || !Expect(text, &pos, ":") ||
      !ReadNumber(text, &pos, 2, &tm.tm_min) || !Expect(text, &pos, ":") ||
      !ReadNumber(text, &pos, 2, &tm.tm_sec)) {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  int64_t micros = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int64_t scale = 100'000;
    size_t digits = 0;
    for (; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos, ++digits) {
      micros += (text[pos] - '0') * scale;
      scale /= 10;
    }
    if (digits == 0) return std::nullopt;
  }
  int64_t offset_seconds = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int hours = 0, minutes = 0;
    if (!ReadNumber(text, &pos, 2, &hours) || !Expect(text, &pos, ":") ||
        !ReadNumber(text, &pos, 2, &minutes)) {
      return std::nullopt;
    }
    offset_seconds = int64_t{sign} * (hours * 3600 + minutes * 60);
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  const int64_t seconds = static_cast<int64_t>(timegm(&tm)) - offset_seconds;
  return Clock::WallTime(duration_cast<Clock::WallTime::duration>(std::chrono::seconds(seconds) +
                                                                  microseconds(micros)));
}

std::string FormatTime(Clock::WallTime time) {
  std::string micro = FormatMicroTime(time);
  // "YYYY-MM-DDTHH:MM:SS.ffffffZ" → drop the fraction.
  return micro.substr(0, 19) + "Z";
}

}  // namespace vireo::base
