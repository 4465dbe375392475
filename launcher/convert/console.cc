// Configurator for what a person sees of the guest: the serial console (a
// unix socket or a pty, always mirrored to a log file), VNC only when the
// VMI asks for graphics; and the memory balloon and the random number
// generator (devices.rng).
#include <sys/un.h>

#include <string>

#include "launcher/convert/configurators.h"

namespace vireo::launcher::convert_internal {
namespace {

using base::Code;

// QEMU binds the socket itself; a path longer than sun_path fails at start
// with a less helpful message.
Status CheckSocketPath(const std::string& path, const char* what) {
  if (path.empty()) return Status(Code::kInvalid, std::string(what) + " is not set (launcher bug)");
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return Status(Code::kInvalid, std::string(what) + " '" + path + "' is longer than " +
                                      std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                                      " bytes, too long for a unix socket");
  }
  return Status::Ok();
}

}  // namespace

Status ConfigureConsoleAndDisplay(const VirtualMachineInstance& vmi, const ConvertContext& ctx,
                                  DomainXml& xml) {
  const api::Devices& devices = vmi.spec.domain.devices;
  if (devices.autoattach_serial_console.value_or(true)) {
    const bool socket = ctx.console == ConsoleChardev::kUnixSocket;
    if (socket) {
      Status status = CheckSocketPath(ctx.console_socket_path, "console socket path");
      if (!status.ok()) return status;
    }
    const char* type = socket ? "unix" : "pty";
    XmlElement& serial = xml.devices->Add("serial").Attr("type", type);
    // mode='bind': QEMU listens and does not wait for a client, so the
    // guest runs (and the log records it) while nobody is attached.
    if (socket) serial.Add("source").Attr("mode", "bind").Attr("path", ctx.console_socket_path);
    if (!ctx.console_log_path.empty()) {
      serial.Add("log").Attr("file", ctx.console_log_path).Attr("append", "on");
    }
    serial.Add("target").Attr("port", "0");
    serial.Add("alias").Attr("name", "ua-serial0");
    XmlElement& console = xml.devices->Add("console").Attr("type", type);
    if (socket) console.Add("source").Attr("mode", "bind").Attr("path", ctx.console_socket_path);
    console.Add("target").Attr("type", "serial").Attr("port", "0");
    if (IsQ35(MachineType(vmi))) {
      // As KubeVirt, which gives the guest agent its channel on a
      // virtio-serial controller whenever the serial console is attached.
      xml.pci_controllers.push_back(&xml.devices->Add("controller")
                                         .Attr("type", "virtio-serial")
                                         .Attr("index", "0")
                                         .Attr("model", VirtioModel(vmi)));
      // Its socket at a path of ours: the one libvirt would make (under the
      // embedded root, named after the domain) can exceed a socket path's
      // 107 bytes.
      Status status = CheckSocketPath(ctx.guest_agent_socket_path, "guest agent socket path");
      if (!status.ok()) return status;
      XmlElement& agent = xml.devices->Add("channel").Attr("type", "unix");
      agent.Add("source").Attr("mode", "bind").Attr("path", ctx.guest_agent_socket_path);
      agent.Add("target").Attr("type", "virtio").Attr("name", "org.qemu.guest_agent.0");
    }
  }

  // As KubeVirt: VNC and a VGA card unless autoattachGraphicsDevice is false
  // (lib/api's defaults write it into the VMI; the CRD states the same).
  if (devices.autoattach_graphics_device.value_or(true)) {
    Status status = CheckSocketPath(ctx.vnc_socket_path, "VNC socket path");
    if (!status.ok()) return status;
    xml.devices->Add("graphics")
        .Attr("type", "vnc")
        .Add("listen")
        .Attr("type", "socket")
        .Attr("socket", ctx.vnc_socket_path);
    xml.devices->Add("video").Add("model").Attr("type", "vga").Attr("heads", "1");
  }
  // As KubeVirt: a balloon whose free page reporting hands the pages a
  // guest frees back to the node, so an idle guest's pod shrinks. Nothing
  // resizes guest memory, so no statistics are polled.
  xml.balloon = &xml.devices->Add("memballoon")
                     .Attr("model", VirtioModel(vmi))
                     .Attr("freePageReporting", "on");
  // As KubeVirt: the node's /dev/urandom, which never blocks the guest.
  if (devices.rng.has_value()) {
    xml.rng = &xml.devices->Add("rng").Attr("model", VirtioModel(vmi));
    xml.rng->Add("backend").Attr("model", "random").Text("/dev/urandom");
  }
  return Status::Ok();
}

}  // namespace vireo::launcher::convert_internal
