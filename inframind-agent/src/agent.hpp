// The agent: a sampler thread that asks libinframind for a sample every interval and keeps the
// latest Prometheus rendering, and an HTTP server that hands that rendering out at GET /metrics.
// A scrape never samples; it only copies the latest text under a mutex.
#pragma once

#include "collector.hpp"
#include "options.hpp"

#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace inframind_agent {

class Sampler {
 public:
  /// Takes ownership of the collector; log_out (may be null) receives one JSON line per sample.
  Sampler(std::unique_ptr<Collector> collector, bool cache, double interval_seconds, std::FILE *log_out);
  ~Sampler();

  /// Takes one sample now (on the calling thread). Used once before the server starts.
  void sample_once();
  /// Starts the periodic thread.
  void start();
  /// Stops and joins the thread; idempotent.
  void stop();

  /// The latest Prometheus text, or null if no sample succeeded yet.
  std::shared_ptr<const std::string> latest() const;

 private:
  void run();
  void report_failure(const char *what, const Status &s);
  void handle_json(const std::string &line);

  std::unique_ptr<Collector> collector_;
  bool cache_;
  double interval_seconds_;
  std::FILE *log_out_;

  mutable std::mutex latest_mutex_;
  std::shared_ptr<const std::string> latest_;

  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;

  // Failure reporting: identical consecutive errors are logged once, then every 60th time.
  std::string last_error_;
  unsigned repeats_ = 0;
  bool failing_ = false;
  bool log_write_failed_ = false;
  bool root_exit_logged_ = false;
};

/// Runs the agent until SIGTERM/SIGINT. Returns the process exit code.
int run_agent(const Options &options);

}  // namespace inframind_agent
