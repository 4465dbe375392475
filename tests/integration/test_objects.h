// Small KubeVirt-shaped objects the T1 tests create.
#pragma once

#include <string>

#include "lib/base/json.h"

namespace vireo::testing {

inline base::Json JsonOf(const std::string& text) {
  auto parsed = base::ParseJson(text, "test object");
  return parsed.ok() ? parsed.value() : base::Json();
}

// A stopped VM with a container disk, valid under the CRD's rules.
inline base::Json MakeVm(const std::string& name, const std::string& labels_json = "{}") {
  return JsonOf(R"({
    "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
    "metadata": {"name": ")" +
                name + R"(", "labels": )" + labels_json + R"(},
    "spec": {
      "runStrategy": "Halted",
      "template": {
        "metadata": {"labels": {"kubevirt.io/vm": ")" +
                name + R"("}},
        "spec": {
          "domain": {
            "memory": {"guest": "64Mi"},
            "devices": {"disks": [{"name": "root", "disk": {"bus": "virtio"}}]}
          },
          "volumes": [{"name": "root", "containerDisk": {"image": "vireo/test-disk:latest"}}]
        }
      }
    }
  })");
}

}  // namespace vireo::testing
