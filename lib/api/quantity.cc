// resource.Quantity grammar: <sign>? <digits>[.<digits>] <suffix>, where the
// suffix is a binary SI one (Ki..Ei), a decimal SI one (m, k, M..E) or a
// decimal exponent (e3, E-2). The value is kept as an exact
// mantissa * 10^exp10 * 2^exp2 and only rounded when scaled to an integer.
#include "lib/api/quantity.h"

#include <array>
#include <limits>
#include <string>
#include <utility>

namespace vireo::api {
namespace {

// Wide enough for 38 significant digits; __extension__ keeps -Wpedantic quiet.
__extension__ typedef unsigned __int128 Uint128;

constexpr Uint128 kMax = static_cast<Uint128>(std::numeric_limits<int64_t>::max());
constexpr int kMaxDigits = 38;      // 10^38 < 2^127
constexpr int kMaxExponent = 1000;  // far beyond any int64, small enough not to overflow int

struct Decomposed {
  bool negative = false;
  Uint128 mantissa = 0;
  int exp10 = 0;
  int exp2 = 0;
};

base::Status Invalid(std::string_view text, const std::string& why) {
  return base::Status(base::Code::kInvalid,
                      "invalid quantity \"" + std::string(text) + "\": " + why);
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Sets exp10/exp2 from the suffix; false when it is not one.
bool ParseSuffix(std::string_view suffix, Decomposed* out) {
  static constexpr std::array<std::pair<std::string_view, int>, 7> kDecimal = {
      {{"", 0}, {"m", -3}, {"k", 3}, {"M", 6}, {"G", 9}, {"T", 12}, {"P", 15}}};
  static constexpr std::array<std::pair<std::string_view, int>, 6> kBinary = {
      {{"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}, {"Pi", 50}, {"Ei", 60}}};
  for (const auto& [name, exp] : kDecimal) {
    if (suffix == name) {
      out->exp10 = exp;
      return true;
    }
  }
  for (const auto& [name, exp] : kBinary) {
    if (suffix == name) {
      out->exp2 = exp;
      return true;
    }
  }
  // A lone "E" is exa; "E" or "e" followed by an integer is an exponent.
  if (suffix == "E") {
    out->exp10 = 18;
    return true;
  }
  if (suffix.size() < 2 || (suffix[0] != 'e' && suffix[0] != 'E')) return false;
  std::string_view exponent = suffix.substr(1);
  bool negative = false;
  if (exponent[0] == '+' || exponent[0] == '-') {
    negative = exponent[0] == '-';
    exponent.remove_prefix(1);
  }
  if (exponent.empty()) return false;
  int value = 0;
  for (char c : exponent) {
    if (!IsDigit(c)) return false;
    value = value * 10 + (c - '0');
    if (value > kMaxExponent) return false;
  }
  out->exp10 = negative ? -value : value;
  return true;
}

base::Result<Decomposed> Decompose(std::string_view text) {
  Decomposed out;
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    out.negative = text[i] == '-';
    ++i;
  }
  std::string digits;
  size_t fraction_digits = 0;
  while (i < text.size() && IsDigit(text[i])) digits += text[i++];
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && IsDigit(text[i])) {
      digits += text[i++];
      ++fraction_digits;
    }
  }
  if (digits.empty()) return Invalid(text, "expected a number");
  if (!ParseSuffix(text.substr(i), &out)) {
    return Invalid(text, "unknown suffix \"" + std::string(text.substr(i)) +
                             "\" (expected one of m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei "
                             "or an exponent such as e3)");
  }
  out.exp10 -= static_cast<int>(fraction_digits);

  // Only significant digits count toward the precision limit.
  size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return Decomposed{};  // zero
  digits.erase(0, first);
  while (digits.back() == '0') {
    digits.pop_back();
    ++out.exp10;
  }
  if (digits.size() > kMaxDigits) return Invalid(text, "too many significant digits");
  for (char c : digits) out.mantissa = out.mantissa * 10 + static_cast<Uint128>(c - '0');
  return out;
}

// value * 10^scale10, rounded up away from zero.
base::Result<int64_t> Scaled(std::string_view text, int scale10) {
  base::Result<Decomposed> parsed = Decompose(text);
  if (!parsed.ok()) return parsed.status();
  const Decomposed& q = *parsed;
  if (q.mantissa == 0) return int64_t{0};

  const int exp10 = q.exp10 + scale10;
  Uint128 magnitude = q.mantissa;
  bool in_range = true;
  if (exp10 >= 0) {
    for (int k = 0; k < exp10 && in_range; ++k) {
      magnitude *= 10;
      in_range = magnitude <= kMax;
    }
    if (in_range && magnitude > (kMax >> q.exp2)) in_range = false;
    if (in_range) magnitude <<= q.exp2;
  } else {
    if (magnitude > (~Uint128{0} >> q.exp2)) return Invalid(text, "out of range");
    magnitude <<= q.exp2;
    if (-exp10 > kMaxDigits) {
      magnitude = 1;  // a positive value below 1 rounds up to 1
    } else {
      Uint128 divisor = 1;
      for (int k = 0; k < -exp10; ++k) divisor *= 10;
      const bool remainder = magnitude % divisor != 0;
      magnitude = magnitude / divisor + (remainder ? 1 : 0);
    }
    in_range = magnitude <= kMax;
  }
  if (!in_range) return Invalid(text, "out of range");
  const int64_t value = static_cast<int64_t>(magnitude);
  return q.negative ? -value : value;
}

}  // namespace

base::Result<int64_t> ParseQuantityValue(std::string_view text) { return Scaled(text, 0); }

base::Result<int64_t> ParseQuantityMilli(std::string_view text) { return Scaled(text, 3); }

}  // namespace vireo::api
