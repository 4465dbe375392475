// The importer's result: an exit code of the importer pod contract
// (lib/api/importer_pod.h) and the one-line message the termination log gets.
#pragma once

#include <string>
#include <utility>

#include "lib/api/importer_pod.h"

namespace vireo::launcher {

struct ImportStatus {
  int code = api::importer::kImported;
  std::string message;

  bool ok() const { return code == api::importer::kImported; }
  static ImportStatus Ok(std::string message = "") {
    return {api::importer::kImported, std::move(message)};
  }
};

inline ImportStatus ImportError(int code, std::string message) {
  return {code, std::move(message)};
}

}  // namespace vireo::launcher
