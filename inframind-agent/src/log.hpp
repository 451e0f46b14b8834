// Structured logging: one JSON object per line on stderr, so a log shipper (or a test) can parse
// every line. Thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace inframind_agent {

/// Writes {"ts":..., "level":..., "msg":..., ...fields} as one line to stderr.
void log_json(const char *level, const std::string &msg,
              const nlohmann::ordered_json &fields = nlohmann::ordered_json::object());

inline void log_info(const std::string &msg,
                     const nlohmann::ordered_json &fields = nlohmann::ordered_json::object()) {
  log_json("info", msg, fields);
}
inline void log_warn(const std::string &msg,
                     const nlohmann::ordered_json &fields = nlohmann::ordered_json::object()) {
  log_json("warn", msg, fields);
}
inline void log_error(const std::string &msg,
                      const nlohmann::ordered_json &fields = nlohmann::ordered_json::object()) {
  log_json("error", msg, fields);
}

}  // namespace inframind_agent
