// Helpers for lib/api's unit tests: fixture loading and a JSON comparison
// that names the first difference.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "lib/api/types.h"

namespace vireo::api::testing {

// Parses lib/api/testdata/<name>; fails the test (and returns null) when it cannot.
inline Json LoadFixture(const std::string& name) {
  const std::string path = std::string(VIREO_API_TESTDATA) + "/" + name;
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "cannot open " << path;
    return Json();
  }
  std::stringstream text;
  text << in.rdbuf();
  auto json = base::ParseJson(text.str(), path);
  if (!json.ok()) ADD_FAILURE() << json.status().message();
  return json.ok() ? *json : Json();
}

inline Json ParseOrDie(const std::string& text) {
  auto json = base::ParseJson(text, "test JSON");
  if (!json.ok()) ADD_FAILURE() << json.status().message() << "\n" << text;
  return json.ok() ? *json : Json();
}

// "" when equal up to key order (numbers compare by value, so 1 parsed and
// 1 built compare equal); otherwise the path and both values of the first
// difference.
inline std::string JsonDiff(const Json& a, const Json& b, const std::string& path = "$") {
  auto show = [](const Json& v) { return v.dump(); };
  if (a.is_number() != b.is_number() || (!a.is_number() && a.type() != b.type())) {
    return path + ": " + show(a) + " vs " + show(b);
  }
  if (a.is_number()) return a == b ? "" : path + ": " + show(a) + " vs " + show(b);
  if (a.is_array()) {
    if (a.size() != b.size()) {
      return path + ": " + std::to_string(a.size()) + " vs " + std::to_string(b.size()) + " items";
    }
    for (size_t i = 0; i < a.size(); ++i) {
      std::string d = JsonDiff(a.at(i), b.at(i), path + "[" + std::to_string(i) + "]");
      if (!d.empty()) return d;
    }
    return "";
  }
  if (a.is_object()) {
    for (const auto& [k, v] : a.items()) {
      if (!b.contains(k)) return path + "." + k + ": only on the left: " + show(v);
      std::string d = JsonDiff(v, b.at(k), path + "." + k);
      if (!d.empty()) return d;
    }
    for (const auto& [k, v] : b.items()) {
      if (!a.contains(k)) return path + "." + k + ": only on the right: " + show(v);
    }
    return "";
  }
  return a == b ? "" : path + ": " + show(a) + " vs " + show(b);
}

}  // namespace vireo::api::testing
