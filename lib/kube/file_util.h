// Small helpers for the files and encodings a ClusterConfig is built from:
// whole-file reads whose errors say why, base64 as kubeconfig uses it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "lib/kube/status.h"

namespace vireo::kube::internal {

// The whole file; the error message is the system's reason ("No such file or
// directory"), for the caller to put in context.
Result<std::string> ReadFile(const std::string& path);

// Standard base64 with padding; whitespace (line breaks) is ignored.
// nullopt on any other character or a bad length.
std::optional<std::string> DecodeBase64(std::string_view text);

std::string TrimSpace(std::string_view text);

}  // namespace vireo::kube::internal
