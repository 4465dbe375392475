// Durations as written on command lines; see duration.h.
#include "lib/base/duration.h"

#include <cstdint>
#include <string>

namespace vireo::base {
namespace {

constexpr int64_t kMaxMillis = int64_t{1} << 40;

// `text` in double quotes. Appended, not "\"" + std::string(text): gcc 12 at
// -O3 (the release build) warns of an overlapping memcpy in that operator+
// (a false positive, fatal under -Werror).
std::string Quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  return out.append("\"").append(text).append("\"");
}

Status NotADuration(std::string_view text) {
  return Status(Code::kInvalid,
                Quoted(text) + " is not a duration such as 90s, 500ms, 5m or 1h30m");
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Whole number of at most 13 digits (more overflows the bound anyway).
std::optional<int64_t> Number(std::string_view digits) {
  if (digits.empty() || digits.size() > 13) return std::nullopt;
  int64_t n = 0;
  for (char c : digits) n = n * 10 + (c - '0');
  return n;
}

}  // namespace

Result<std::chrono::milliseconds> ParseDuration(
    std::string_view text, std::optional<std::chrono::milliseconds> bare_unit) {
  if (text.empty()) return NotADuration(text);
  size_t digits = 0;
  while (digits < text.size() && IsDigit(text[digits])) ++digits;
  if (digits == text.size()) {
    if (!bare_unit.has_value()) {
      return Status(Code::kInvalid, Quoted(text) + " has no unit; use ms, s, m or h (such as 90s)");
    }
    std::optional<int64_t> n = Number(text);
    if (!n || (bare_unit->count() > 0 && *n > kMaxMillis / bare_unit->count())) {
      return NotADuration(text);
    }
    return std::chrono::milliseconds(*n * bare_unit->count());
  }
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    std::optional<int64_t> n = Number(text.substr(start, i - start));
    if (!n) return NotADuration(text);
    const size_t unit_start = i;
    while (i < text.size() && !IsDigit(text[i])) ++i;
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    int64_t scale = 0;
    if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m") {
      scale = 60'000;
    } else if (unit == "h") {
      scale = 3'600'000;
    } else if (unit.empty() || unit.find_first_of("-.+ ") != std::string_view::npos) {
      return NotADuration(text);
    } else {
      return Status(Code::kInvalid,
                    Quoted(text) + " has an unknown unit " + Quoted(unit) + "; use ms, s, m or h");
    }
    if (*n > (kMaxMillis - total) / scale) return NotADuration(text);
    total += *n * scale;
  }
  return std::chrono::milliseconds(total);
}

}  // namespace vireo::base
