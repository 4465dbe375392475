// `vireo-launcher console`: what `virtctl console` execs in the launcher pod.
// Joins stdin and stdout to the relay's console.sock, raw bytes both ways.
#pragma once

#include <cstdint>
#include <string>

namespace vireo::launcher {

// Returns the exit code: 0 when stdin ended, the console closed (the launcher
// ended or another viewer took over) or Ctrl-] was typed on a terminal; 1
// when there is no console to attach to.
int RunConsole(const std::string& console_socket, int64_t wait_seconds);

}  // namespace vireo::launcher
