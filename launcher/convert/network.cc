// Configurator for NICs on the pod network (masquerade binding): the guest
// sits behind the pod IP, by default through a passt process the launcher
// runs (every port of the pod reaches the guest unless `ports` lists some),
// or through QEMU's slirp (only the listed ports reach the guest).
#include <cstdio>
#include <string>
#include <string_view>

#include "launcher/convert/configurators.h"
#include "lib/base/json.h"

namespace vireo::launcher::convert_internal {
namespace {

using base::Code;

// QEMU device names for KubeVirt's interface models.
const char* QemuNicDevice(const VirtualMachineInstance& vmi, const std::string& model) {
  if (model.empty() || model == "virtio") {
    return std::string_view(VirtioModel(vmi)) == "virtio" ? "virtio-net-pci"
                                                          : "virtio-net-pci-non-transitional";
  }
  for (const char* known : {"e1000", "e1000e", "rtl8139", "ne2k_pci", "pcnet"}) {
    if (model == known) return known;
  }
  return nullptr;
}

// A MAC that stays the same for one VMI interface across launcher restarts
// (the guest keeps its DHCP lease and its interface name), in QEMU's
// 52:54:00 range.
std::string StableMac(const VirtualMachineInstance& vmi, const std::string& iface) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a
  for (char c :
       vmi.metadata.uid + "/" + vmi.metadata.namespace_ + "/" + vmi.metadata.name + "/" + iface) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  }
  char mac[18];
  std::snprintf(mac, sizeof mac, "52:54:00:%02x:%02x:%02x", unsigned(hash >> 16) & 0xff,
                unsigned(hash >> 8) & 0xff, unsigned(hash) & 0xff);
  return mac;
}

std::string Protocol(const api::Port& port) {
  return port.protocol.empty() || port.protocol == "TCP" ? "tcp" : "udp";
}

// The guest and gateway addresses KubeVirt's masquerade binding uses, so
// guests configured for KubeVirt see the same network.
// slirp's own resolver (10.0.2.3) forwards to the pod's.
const std::string kSlirpNetwork = std::string("net=10.0.2.0/") + kMasqueradePrefixLength +
                                  ",host=" + kMasqueradeGateway +
                                  ",dhcpstart=" + kMasqueradeGuestAddress + ",dns=10.0.2.3";

// The NIC of a netdev given on QEMU's command line, as a JSON -device: QEMU
// creates those after libvirt's own devices, so the root port
// ConfigurePciTopology names for it exists by then.
void AddCommandLineNic(const api::Interface& iface, const std::string& netdev,
                       const std::string& mac, const char* device, DomainXml& xml) {
  base::Json dev = base::Json::object();
  dev["driver"] = base::Json(device);
  dev["id"] = base::Json("ua-net-" + iface.name);
  dev["netdev"] = base::Json(netdev);
  dev["mac"] = base::Json(mac);
  if (iface.boot_order.has_value()) {
    dev["bootindex"] = base::Json(*iface.boot_order);
  } else {
    // As KubeVirt: no network boot ROM unless the NIC boots (it costs
    // seconds of firmware time under TCG).
    dev["romfile"] = base::Json("");
  }
  xml.nic_devices.push_back(std::move(dev));
}

void AddSlirpNic(const VirtualMachineInstance& vmi, const api::Interface& iface, size_t index,
                 const std::string& mac, const char* device, DomainXml& xml) {
  const std::string netdev = "vireo-net" + std::to_string(index);
  const std::string hostname = vmi.spec.hostname.empty() ? vmi.metadata.name : vmi.spec.hostname;
  // Names are DNS labels, so no ',' needs QEMU's ",," escaping.
  std::string opts = "user,id=" + netdev + "," + kSlirpNetwork + ",hostname=" + hostname;
  // Each port listens on every address of the pod and forwards to the guest.
  for (const api::Port& port : iface.ports) {
    const std::string number = std::to_string(port.port);
    opts += ",hostfwd=" + Protocol(port) + "::" + number + "-:" + number;
  }
  xml.qemu_args.push_back("-netdev");
  xml.qemu_args.push_back(opts);
  AddCommandLineNic(iface, netdev, mac, device, xml);
}

// The guest's end of the passt process the launcher runs (launcher/passt.h):
// QEMU connects to its socket; passt gives the guest its address by DHCP and
// forwards the pod's ports.
Status AddPasstStreamNic(const api::Interface& iface, size_t index, const std::string& mac,
                         const char* device, const ConvertContext& ctx, DomainXml& xml) {
  if (ctx.passt_socket_path.empty() || ctx.passt_socket_path.find(',') != std::string::npos) {
    return Status(Code::kInvalid, "the passt socket path '" + ctx.passt_socket_path +
                                      "' is empty or has a ',' QEMU cannot take");
  }
  const std::string netdev = "vireo-net" + std::to_string(index);
  xml.qemu_args.push_back("-netdev");
  xml.qemu_args.push_back("stream,id=" + netdev +
                          ",server=off,addr.type=unix,addr.path=" + ctx.passt_socket_path);
  AddCommandLineNic(iface, netdev, mac, device, xml);
  return Status::Ok();
}

void AddPasstNic(const api::Interface& iface, const std::string& mac, DomainXml& xml) {
  XmlElement& el = xml.devices->Add("interface").Attr("type", "user");
  el.Add("mac").Attr("address", mac);
  const std::string model = iface.model.empty() ? "virtio" : iface.model;
  el.Add("model").Attr("type", model);
  el.Add("backend").Attr("type", "passt");
  for (const api::Port& port : iface.ports) {
    el.Add("portForward")
        .Attr("proto", Protocol(port))
        .Add("range")
        .Attr("start", std::to_string(port.port));
  }
  if (iface.boot_order.has_value()) {
    el.Add("boot").Attr("order", std::to_string(*iface.boot_order));
  }
  el.Add("alias").Attr("name", "ua-net-" + iface.name);
  xml.nic_elements.push_back(&el);
}

}  // namespace

std::string InterfaceField(size_t index) {
  return "spec.domain.devices.interfaces[" + std::to_string(index) + "]";
}

Status ConfigureInterfaces(const VirtualMachineInstance& vmi, const ConvertContext& ctx,
                           DomainXml& xml) {
  const auto& interfaces = vmi.spec.domain.devices.interfaces;
  for (size_t i = 0; i < interfaces.size(); ++i) {
    const api::Interface& iface = interfaces[i];
    const std::string field = InterfaceField(i);
    const api::Network* network = api::FindNetwork(vmi.spec, iface.name);
    if (network == nullptr || !network->pod.has_value()) {
      return Status(Code::kInvalid, field + ": network '" + iface.name +
                                        "' is not the pod network; only the pod network is "
                                        "supported");
    }
    if (!iface.masquerade.has_value()) {
      return Status(Code::kInvalid, field + ": only the masquerade binding is supported");
    }
    const char* device = QemuNicDevice(vmi, iface.model);
    if (device == nullptr) {
      return Status(Code::kInvalid, field + ".model: '" + iface.model +
                                        "' is not supported; use virtio, e1000, e1000e, "
                                        "rtl8139, ne2k_pci or pcnet");
    }
    const std::string mac =
        iface.mac_address.empty() ? StableMac(vmi, iface.name) : iface.mac_address;
    switch (ctx.network_backend) {
      case UserNetBackend::kPasstProcess: {
        if (i > 0) {
          return Status(Code::kInvalid,
                        field +
                            ": only one interface can be on the pod network (one passt "
                            "serves the pod's address)");
        }
        Status status = AddPasstStreamNic(iface, i, mac, device, ctx, xml);
        if (!status.ok()) return status;
        break;
      }
      case UserNetBackend::kSlirp:
        AddSlirpNic(vmi, iface, i, mac, device, xml);
        break;
      case UserNetBackend::kPasstLibvirt:
        AddPasstNic(iface, mac, xml);
        break;
    }
  }
  return Status::Ok();
}

}  // namespace vireo::launcher::convert_internal
