// SPDX-License-Identifier: Apache-2.0
/// @file log.hpp
/// Logging hooks. The library never writes to stdout or stderr by itself: it calls the sink the
/// application installed (mailkitd routes it to spdlog in Postfix's line shapes, Python to the
/// logging module). With no sink installed, messages are dropped at almost no cost.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace mailkit {

enum class log_level { trace, debug, info, notice, warning, error };

/// A sink receives the level, the component ("smtpd", "mime", ...) and the message text.
using log_sink =
    std::function<void(log_level, std::string_view component, std::string_view message)>;

/// Install (or with an empty function, remove) the process-wide sink and its minimum level.
/// Thread-safe; messages logged concurrently with a change go to the old or the new sink.
void set_log_sink(log_sink sink, log_level min_level = log_level::info);

/// Is a message at this level going anywhere? Lets callers skip formatting.
[[nodiscard]] bool log_enabled(log_level level) noexcept;

/// Send one message to the installed sink.
void log(log_level level, std::string_view component, std::string_view message);

/// A peer-chosen value (a user name, an address) made safe to put inside a log line that tools
/// parse (fail2ban, pflogsumm): printable ASCII only, and none of `<>[](),` (which delimit the
/// fields those tools match), each other octet as `?`; at most `max` octets, then `...`.
[[nodiscard]] std::string log_safe(std::string_view value, std::size_t max = 128);

} // namespace mailkit
