// The libvirt QEMU driver as the launcher uses it: one connection (the
// embedded driver, or a daemon for comparison) plus the event loop thread
// that delivers its domain lifecycle events.
#pragma once

#include <libvirt/libvirt.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "lib/base/status.h"

namespace vireo::launcher {

// "qemu:///embed?root=<root>": libvirt's QEMU driver inside this process, its
// state, config and cache under `root`.
std::string EmbeddedUri(const std::string& root);

// The embedded driver's qemu.conf for a launcher running as root or not
// (pure). Either way: no cgroups (read-only in a pod), no security driver or
// ownership changes, QEMU writing its own logs (no virtlogd), no mount
// namespace. Not root (the pod's uid 107, docs/launcher-pod.md): no user or
// group, so libvirt runs unprivileged and QEMU as the launcher's own user. As
// root: user and group "root", so QEMU can open the files the launcher made.
std::string EmbeddedQemuConf(bool as_root);

// Writes <root>/etc/qemu.conf, EmbeddedQemuConf for this process's
// effective uid. Creates the directory. Not root, it also sets
// XDG_RUNTIME_DIR to <root>/run/user for this process: libvirt's
// unprivileged driver keeps per-user state there (else under $HOME/.cache,
// not writable in the pod). Call before the first connection.
base::Status WriteEmbeddedQemuConf(const std::string& root);

// libvirt's last error on this thread, prefixed with what we were doing.
std::string LibvirtError(std::string_view what);

// Sends libvirt's own log lines to `file` (warnings and up) unless
// LIBVIRT_LOG_OUTPUTS is already set, so stderr stays one JSON object a
// line. Call before the first connection.
void RouteLibvirtLogs(const std::string& file);

// A lifecycle event (virDomainEventType and its detail) for one domain.
struct LifecycleEvent {
  std::string domain;
  int event = 0;
  int detail = 0;
};

// "started/booted", "stopped/crashed", ...: for logs and messages.
std::string DescribeLifecycle(int event, int detail);

// Thread-safety: the handler runs on the event loop thread; everything else
// is called from one thread.
class LibvirtSession {
 public:
  using LifecycleHandler = std::function<void(const LifecycleEvent&)>;

  // Starts the event loop thread (the first time), opens `uri` read-write and
  // registers `on_lifecycle` for every domain's lifecycle events.
  static base::Result<std::unique_ptr<LibvirtSession>> Open(const std::string& uri,
                                                            LifecycleHandler on_lifecycle);
  ~LibvirtSession();

  LibvirtSession(const LibvirtSession&) = delete;
  LibvirtSession& operator=(const LibvirtSession&) = delete;

  virConnectPtr conn() const { return conn_; }

  // Destroys every running domain this connection knows: a previous launcher
  // that died may have left one behind (libvirt reconnects to it on open).
  // Returns how many were destroyed.
  int DestroyLeftovers();

 private:
  LibvirtSession(virConnectPtr conn, LifecycleHandler handler);
  static int OnLifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void* opaque);

  virConnectPtr conn_ = nullptr;
  LifecycleHandler handler_;
  int callback_id_ = -1;
};

// Stops the event loop thread started by LibvirtSession::Open (after every
// session is closed). Idempotent.
void StopLibvirtEventLoop();

}  // namespace vireo::launcher
