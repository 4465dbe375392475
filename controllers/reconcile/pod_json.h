// Small builders for the pods the controller renders (launcher and
// importer pods): strings, arrays, mounts and volumes as core/v1 JSON.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "lib/base/json.h"

namespace vireo::controllers::pod_json {

using base::Json;

inline Json Str(const std::string& s) { return Json(s); }

inline Json StringArray(std::initializer_list<std::string> items) {
  Json array = base::JsonArray(items.size());
  size_t i = 0;
  for (const std::string& item : items) array[i++] = Str(item);
  return array;
}

inline void Push(Json* array, Json item) { (*array)[array->size()] = std::move(item); }

// FNV-1a: stable across builds and platforms, unlike std::hash.
inline uint64_t StableHash(std::string_view text) {
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

// metadata.ownerReferences naming one controller: the garbage collector
// deletes the object with its owner, and foreground deletion of the owner
// waits for it.
inline Json ControllerOwnerReferences(const std::string& api_version, const std::string& kind,
                                      const std::string& name, const std::string& uid) {
  Json owner = Json::object();
  owner["apiVersion"] = Str(api_version);
  owner["kind"] = Str(kind);
  owner["name"] = Str(name);
  owner["uid"] = Str(uid);
  owner["controller"] = Json(true);
  owner["blockOwnerDeletion"] = Json(true);
  Json owners = base::JsonArray(1);
  owners[0] = std::move(owner);
  return owners;
}

inline Json Mount(const std::string& volume, const std::string& path, bool read_only) {
  Json mount = Json::object();
  mount["name"] = Str(volume);
  mount["mountPath"] = Str(path);
  if (read_only) mount["readOnly"] = Json(true);
  return mount;
}

inline Json EmptyDirVolume(const std::string& name) {
  Json volume = Json::object();
  volume["name"] = Str(name);
  volume["emptyDir"] = Json::object();
  return volume;
}

inline Json ClaimVolume(const std::string& name, const std::string& claim, bool read_only) {
  Json volume = Json::object();
  volume["name"] = Str(name);
  volume["persistentVolumeClaim"] = Json::object();
  volume["persistentVolumeClaim"]["claimName"] = Str(claim);
  if (read_only) volume["persistentVolumeClaim"]["readOnly"] = Json(true);
  return volume;
}

// The unprivileged user and group launcher and importer pods run as: 107,
// KubeVirt's and CDI's qemu user, which the launcher image names libvirt-qemu.
inline constexpr int64_t kPodUid = 107;

// A seccompProfile: the runtime's default, or, with `localhost`, a profile
// the node holds under the kubelet's seccomp directory (type Localhost, the
// path relative to that directory). PodSecurity "restricted" admits both.
inline Json SeccompProfile(const std::string& localhost = "") {
  Json profile = Json::object();
  if (localhost.empty()) {
    profile["type"] = Str("RuntimeDefault");
  } else {
    profile["type"] = Str("Localhost");
    profile["localhostProfile"] = Str(localhost);
  }
  return profile;
}

// The pod-level securityContext of launcher and importer pods, which
// PodSecurity "restricted" admits (docs/launcher-pod.md): uid and gid 107,
// fsGroup 107 so that the kubelet makes volumes (claims, emptyDirs) the
// pod's group's, and, with `seccomp`, seccomp RuntimeDefault. Block devices
// and /dev/kvm are not volumes fsGroup reaches: the node's runtime gives them
// the pod's uid and gid (containerd's and CRI-O's
// device_ownership_from_security_context).
inline Json RestrictedPodSecurityContext(bool seccomp = true) {
  Json security = Json::object();
  security["runAsNonRoot"] = Json(true);
  security["runAsUser"] = Json(kPodUid);
  security["runAsGroup"] = Json(kPodUid);
  security["fsGroup"] = Json(kPodUid);
  if (seccomp) security["seccompProfile"] = SeccompProfile();
  return security;
}

// Each container's part of "restricted": no privilege escalation (setuid
// binaries), no capabilities at all, and with `seccomp` seccomp
// RuntimeDefault (for a pod whose pod-level context has none).
inline Json RestrictedContainerSecurityContext(bool seccomp = false) {
  Json security = Json::object();
  security["allowPrivilegeEscalation"] = Json(false);
  security["capabilities"] = Json::object();
  security["capabilities"]["drop"] = StringArray({"ALL"});
  if (seccomp) security["seccompProfile"] = SeccompProfile();
  return security;
}

// The end of a failed container's log becomes its termination message, which
// the VMI's or DataVolume's failure message quotes (the scripts, the launcher
// and the importer print why they stop).
inline constexpr char kTerminationMessagePolicy[] = "FallbackToLogsOnError";

inline Json Device(const std::string& volume, const std::string& path) {
  Json device = Json::object();
  device["name"] = Str(volume);
  device["devicePath"] = Str(path);
  return device;
}

}  // namespace vireo::controllers::pod_json
