// The pod contract's file names for a ConvertContext.
#include "launcher/convert/context.h"

namespace vireo::launcher {

ConvertContext ContextForStateDir(const std::string& state_dir, Emulation emulation) {
  ConvertContext ctx;
  ctx.emulation = emulation;
  ctx.console_socket_path = state_dir + "/console.sock";
  ctx.console_log_path = state_dir + "/console.log";
  ctx.nvram_path = state_dir + "/efi-vars.fd";
  ctx.vnc_socket_path = state_dir + "/vnc.sock";
  ctx.guest_agent_socket_path = state_dir + "/qga.sock";
  ctx.passt_socket_path = state_dir + "/passt/passt.sock";
  return ctx;
}

}  // namespace vireo::launcher
