// The bridge's log: one process-wide sink (BridgeOptions::log, or stderr),
// used by the bridge itself, by Java through Native.log, and by the JVM's
// own output (its vfprintf hook).

#ifndef DVDI_BRIDGE_LOG_HPP
#define DVDI_BRIDGE_LOG_HPP

#include <string>

#include "bridge.hpp"

namespace dvdi {
namespace log {

// Replaces the sink; an empty one means stderr.
void setSink(const LogSink& sink);

// Writes one line (no trailing newline needed) to the sink.
void write(int level, const std::string& message);

inline void info(const std::string& message) { write(LOG_INFO, message); }
inline void warning(const std::string& message) { write(LOG_WARNING, message); }
inline void error(const std::string& message) { write(LOG_ERROR, message); }

// The default sink: "dvdi: W message" lines on stderr, one write(2) each.
void toStderr(int level, const std::string& message);

} // namespace log {
} // namespace dvdi {

#endif // DVDI_BRIDGE_LOG_HPP
