// RAII wrapper over libinframind's collector handle (C ABI). The handle is not thread-safe; the
// agent uses it from the sampler thread only.
#pragma once

#include <inframind.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace inframind_agent {

/// Status of a library call: the code and the library's message.
struct Status {
  im_status code = IM_STATUS_OK;
  std::string message;
  bool ok() const { return code == IM_STATUS_OK; }
  std::string name() const { return im_status_name(code); }
};

/// Owns one im_collector.
class Collector {
 public:
  /// Creates a collector (pid 0 = system only). On failure returns null and fills *status.
  static std::unique_ptr<Collector> create(int32_t pid, bool cache, Status *status);

  ~Collector();
  Collector(const Collector &) = delete;
  Collector &operator=(const Collector &) = delete;

  /// Takes a sample and keeps it as the latest.
  Status sample();
  /// Prometheus text of the latest sample.
  Status metrics(std::string *out);
  /// The latest sample as one JSON object (no newline).
  Status json(std::string *out);

  int32_t pid() const { return pid_; }

 private:
  Collector(im_collector *handle, int32_t pid) : handle_(handle), pid_(pid) {}

  template <typename Fn>
  Status read_text(Fn fn, std::string *out);

  im_collector *handle_;
  int32_t pid_;
  std::vector<char> buf_ = std::vector<char>(16 * 1024);
};

}  // namespace inframind_agent
