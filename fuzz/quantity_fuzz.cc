// Fuzz target: the resource.Quantity parser (lib/api/quantity.h), which
// reads memory, CPU and disk sizes from user-written specs.
#include "fuzz/fuzz_target.h"
#include "lib/api/quantity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vireo;
  const std::string_view text = fuzz::AsText(data, size);
  base::Result<int64_t> value = api::ParseQuantityValue(text);
  base::Result<int64_t> milli = api::ParseQuantityMilli(text);
  if (!value.ok()) {
    // A text that is no quantity is refused in both units alike.
    VIREO_FUZZ_CHECK(value.status().code() == base::Code::kInvalid);
    VIREO_FUZZ_CHECK(!milli.ok());
    return 0;
  }
  if (!milli.ok()) {
    // Only the range can differ: thousandths overflow first.
    VIREO_FUZZ_CHECK(milli.status().code() == base::Code::kInvalid);
    return 0;
  }
  // Both round away from zero, so the whole units are the thousandths
  // rounded the same way: |value| == ceil(|milli| / 1000), same sign.
  const int64_t v = *value;
  const int64_t m = *milli;
  VIREO_FUZZ_CHECK((v < 0) == (m < 0));
  const uint64_t abs_m = m < 0 ? 0 - static_cast<uint64_t>(m) : static_cast<uint64_t>(m);
  const uint64_t abs_v = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  VIREO_FUZZ_CHECK(abs_v == abs_m / 1000 + (abs_m % 1000 != 0 ? 1 : 0));
  return 0;
}
