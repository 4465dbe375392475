// One libvirt connection and the event loop thread behind it.
#include "launcher/libvirt_session.h"

#include <libvirt/virterror.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include "lib/base/log.h"

namespace vireo::launcher {
namespace {

using base::Code;
using base::Result;
using base::Status;

// libvirt's default event loop: registered once per process, run by one
// thread. The QEMU driver needs it for its monitor sockets, not only for
// events, so it runs before the first connection opens.
struct EventLoop {
  std::mutex mu;
  std::thread thread;
  std::atomic<bool> stop{false};
  bool started = false;
};

EventLoop& Loop() {
  static EventLoop* loop = new EventLoop();  // never destroyed: used until exit
  return *loop;
}

void IgnoreLibvirtError(void*, virErrorPtr) {}

Status StartEventLoop() {
  EventLoop& loop = Loop();
  std::lock_guard<std::mutex> lock(loop.mu);
  if (loop.started) return Status::Ok();
  // Errors are read with virGetLastError and reported by us; libvirt's
  // default handler would also print them on stderr.
  virSetErrorFunc(nullptr, IgnoreLibvirtError);
  if (virEventRegisterDefaultImpl() < 0) {
    return Status(Code::kInternal, LibvirtError("register libvirt's event loop"));
  }
  loop.thread = std::thread([&loop] {
    while (!loop.stop.load()) {
      if (virEventRunDefaultImpl() < 0) {
        base::LogError("libvirt event loop failed", {{"error", LibvirtError("run")}});
        break;
      }
    }
  });
  loop.started = true;
  return Status::Ok();
}

}  // namespace

void StopLibvirtEventLoop() {
  EventLoop& loop = Loop();
  std::lock_guard<std::mutex> lock(loop.mu);
  if (!loop.started || !loop.thread.joinable()) return;
  loop.stop.store(true);
  // A zero timeout makes the loop's current iteration return.
  int timer = virEventAddTimeout(
      0, [](int, void*) {}, nullptr, nullptr);
  loop.thread.join();
  if (timer >= 0) virEventRemoveTimeout(timer);
}

std::string EmbeddedUri(const std::string& root) { return "qemu:///embed?root=" + root; }

std::string EmbeddedQemuConf(bool as_root) {
  // Every setting is needed in a pod: cgroups are mounted read-only there;
  // there is no other user to run QEMU as or to label files for (and libvirt
  // can change neither without capabilities); without virtlogd QEMU must write
  // its log files itself; no private mount namespace for QEMU either (the pod
  // is one already, and libvirt cannot build one without CAP_SYS_ADMIN).
  std::string conf =
      "# Written by vireo-launcher for libvirt's embedded QEMU driver.\n"
      "cgroup_controllers = [ ]\n"
      "security_driver = \"none\"\n"
      "dynamic_ownership = 0\n"
      "remember_owner = 0\n"
      "stdio_handler = \"file\"\n"
      "namespaces = [ ]\n";
  // Not root (the launcher pod: uid 107), libvirt's driver is unprivileged:
  // it runs QEMU as the launcher's own user and group and reads no user or
  // group here. As root (a launcher run by hand or by the T2 harness) it
  // would run QEMU as libvirt-qemu, which could not open the files this
  // process made: keep QEMU root there, as the process already is.
  if (as_root) conf += "user = \"root\"\ngroup = \"root\"\n";
  return conf;
}

Status WriteEmbeddedQemuConf(const std::string& root) {
  std::string etc = root + "/etc";
  for (const std::string& dir : {root, etc}) {
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status(Code::kInternal, "create " + dir + ": " + std::strerror(errno));
    }
  }
  const bool as_root = geteuid() == 0;
  if (!as_root) {
    // libvirt's unprivileged driver keeps some state per user, not under
    // `root`: its host device manager's in $XDG_RUNTIME_DIR/libvirt, else
    // under $HOME/.cache, which in the pod is nowhere writable (uid 107's
    // home does not exist; HOME may even be the caller's). Point it here.
    std::string runtime = root + "/run/user";
    for (const std::string& dir : {root + "/run", runtime}) {
      if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        return Status(Code::kInternal, "create " + dir + ": " + std::strerror(errno));
      }
    }
    setenv("XDG_RUNTIME_DIR", runtime.c_str(), 1);
  }
  std::string path = etc + "/qemu.conf";
  std::ofstream out(path, std::ios::trunc);
  out << EmbeddedQemuConf(as_root);
  out.close();
  if (!out) return Status(Code::kInternal, "write " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

std::string LibvirtError(std::string_view what) {
  virErrorPtr err = virGetLastError();
  std::string message = err != nullptr && err->message != nullptr ? err->message : "unknown error";
  return std::string(what) + ": " + message;
}

void RouteLibvirtLogs(const std::string& file) {
  // 3 = warnings and errors. libvirt reads this when it initializes.
  if (std::getenv("LIBVIRT_LOG_OUTPUTS") == nullptr) {
    setenv("LIBVIRT_LOG_OUTPUTS", ("3:file:" + file).c_str(), 1);
  }
}

std::string DescribeLifecycle(int event, int detail) {
  static const char* const kEvents[] = {"defined",   "undefined",   "started",
                                        "suspended", "resumed",     "stopped",
                                        "shutdown",  "pmsuspended", "crashed"};
  std::string out = event >= 0 && event < static_cast<int>(std::size(kEvents))
                        ? kEvents[event]
                        : "event-" + std::to_string(event);
  if (event == VIR_DOMAIN_EVENT_STOPPED) {
    static const char* const kStopped[] = {"shutdown", "destroyed", "crashed",      "migrated",
                                           "saved",    "failed",    "from-snapshot"};
    if (detail >= 0 && detail < static_cast<int>(std::size(kStopped))) {
      return out + "/" + kStopped[detail];
    }
  } else if (event == VIR_DOMAIN_EVENT_SHUTDOWN) {
    static const char* const kShutdown[] = {"finished", "guest", "host"};
    if (detail >= 0 && detail < static_cast<int>(std::size(kShutdown))) {
      return out + "/" + kShutdown[detail];
    }
  }
  return out + "/" + std::to_string(detail);
}

LibvirtSession::LibvirtSession(virConnectPtr conn, LifecycleHandler handler)
    : conn_(conn), handler_(std::move(handler)) {}

Result<std::unique_ptr<LibvirtSession>> LibvirtSession::Open(const std::string& uri,
                                                             LifecycleHandler on_lifecycle) {
  if (Status s = StartEventLoop(); !s.ok()) return s;
  virConnectPtr conn = virConnectOpen(uri.c_str());
  if (conn == nullptr) {
    return Status(Code::kUnavailable, LibvirtError("connect to libvirt at " + uri));
  }
  std::unique_ptr<LibvirtSession> session(new LibvirtSession(conn, std::move(on_lifecycle)));
  session->callback_id_ = virConnectDomainEventRegisterAny(
      conn, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(OnLifecycle),
      session.get(), nullptr);
  if (session->callback_id_ < 0) {
    return Status(Code::kInternal, LibvirtError("watch domain lifecycle events"));
  }
  return session;
}

LibvirtSession::~LibvirtSession() {
  if (callback_id_ >= 0) virConnectDomainEventDeregisterAny(conn_, callback_id_);
  if (conn_ != nullptr) virConnectClose(conn_);
}

int LibvirtSession::OnLifecycle(virConnectPtr, virDomainPtr dom, int event, int detail,
                                void* opaque) {
  auto* self = static_cast<LibvirtSession*>(opaque);
  const char* name = virDomainGetName(dom);
  self->handler_(LifecycleEvent{name != nullptr ? name : "", event, detail});
  return 0;
}

int LibvirtSession::DestroyLeftovers() {
  virDomainPtr* domains = nullptr;
  int n = virConnectListAllDomains(conn_, &domains, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  if (n < 0) {
    base::LogWarn("cannot list leftover domains", {{"error", LibvirtError("list domains")}});
    return 0;
  }
  int destroyed = 0;
  for (int i = 0; i < n; ++i) {
    const char* name = virDomainGetName(domains[i]);
    std::string domain = name != nullptr ? name : "";
    if (virDomainDestroy(domains[i]) == 0) {
      ++destroyed;
      base::LogWarn("destroyed a domain a previous launcher left running", {{"domain", domain}});
    } else {
      base::LogError("cannot destroy a leftover domain",
                     {{"domain", domain}, {"error", LibvirtError("destroy")}});
    }
    virDomainFree(domains[i]);
  }
  free(domains);
  return destroyed;
}

}  // namespace vireo::launcher
