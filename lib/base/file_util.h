// Small helpers for files and encodings: whole-file reads whose errors say
// why, base64 as kubeconfig and cloud-init data use it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "lib/base/status.h"

namespace vireo::base {

// The whole file; the error message is the system's reason ("No such file or
// directory"), for the caller to put in context.
Result<std::string> ReadFile(const std::string& path);

// Standard base64 with padding; whitespace (line breaks) is ignored.
// nullopt on any other character or a bad length.
std::optional<std::string> DecodeBase64(std::string_view text);

std::string TrimSpace(std::string_view text);

}  // namespace vireo::base
