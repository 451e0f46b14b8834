#include "agent.hpp"

#include "http.hpp"
#include "log.hpp"

#include <nlohmann/json.hpp>
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>

namespace inframind_agent {
namespace {

constexpr const char *kContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char *kTextPlain = "text/plain; charset=utf-8";

}  // namespace

Sampler::Sampler(std::unique_ptr<Collector> collector, bool cache, double interval_seconds,
                 std::FILE *log_out)
    : collector_(std::move(collector)),
      cache_(cache),
      interval_seconds_(interval_seconds),
      log_out_(log_out) {}

Sampler::~Sampler() { stop(); }

std::shared_ptr<const std::string> Sampler::latest() const {
  std::lock_guard<std::mutex> lock(latest_mutex_);
  return latest_;
}

void Sampler::report_failure(const char *what, const Status &s) {
  std::string key = std::string(what) + "|" + s.name() + "|" + s.message;
  if (key == last_error_) {
    ++repeats_;
    if (repeats_ % 60 != 0) return;
  } else {
    last_error_ = key;
    repeats_ = 0;
  }
  nlohmann::ordered_json f = {{"call", what}, {"status", s.name()}, {"error", s.message}};
  if (repeats_ > 0) f["repeated"] = repeats_;
  log_error("libinframind call failed; serving the last good sample", f);
  failing_ = true;
}

void Sampler::handle_json(const std::string &line) {
  if (log_out_ != nullptr) {
    bool ok = std::fwrite(line.data(), 1, line.size(), log_out_) == line.size() &&
              std::fputc('\n', log_out_) != EOF && std::fflush(log_out_) == 0;
    if (!ok && !log_write_failed_) {
      log_error("cannot write the JSON sample log; will keep trying",
                {{"error", std::strerror(errno)}});
    }
    log_write_failed_ = !ok;
  }
  if (collector_->pid() > 0 && !root_exit_logged_) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.contains("tree") && j["tree"].is_object()) {
      const auto &tree = j["tree"];
      if (tree.contains("root_alive") && tree["root_alive"].is_boolean() &&
          !tree["root_alive"].get<bool>()) {
        log_warn("watched process exited; still serving system metrics and its last totals",
                 {{"pid", collector_->pid()}});
        root_exit_logged_ = true;
      }
    }
  }
}

void Sampler::sample_once() {
  Status s = collector_->sample();
  if (!s.ok() && s.code == IM_STATUS_NOT_FOUND && collector_->pid() > 0) {
    // The library no longer finds the watched tree: keep measuring the system without it.
    int32_t pid = collector_->pid();
    Status cs;
    auto fresh = Collector::create(0, cache_, &cs);
    if (fresh) {
      log_warn("watched process is gone; continuing with system metrics only",
               {{"pid", pid}, {"status", s.name()}, {"error", s.message}});
      root_exit_logged_ = true;
      collector_ = std::move(fresh);
      s = collector_->sample();
    } else {
      report_failure("im_collector_new", cs);
      return;
    }
  }
  if (!s.ok()) {
    report_failure("im_collector_sample", s);
    return;
  }
  std::string text;
  s = collector_->metrics(&text);
  if (!s.ok()) {
    report_failure("im_collector_metrics", s);
    return;
  }
  {
    auto fresh = std::make_shared<const std::string>(std::move(text));
    std::lock_guard<std::mutex> lock(latest_mutex_);
    latest_ = std::move(fresh);
  }
  if (log_out_ != nullptr || collector_->pid() > 0) {
    std::string line;
    s = collector_->json(&line);
    if (!s.ok()) {
      report_failure("im_collector_json", s);
      return;
    }
    handle_json(line);
  }
  if (failing_) {
    log_info("sampling recovered");
    failing_ = false;
    last_error_.clear();
    repeats_ = 0;
  }
}

void Sampler::start() { thread_ = std::thread([this] { run(); }); }

void Sampler::stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Sampler::run() {
  using clock = std::chrono::steady_clock;
  const auto interval =
      std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(interval_seconds_));
  auto next = clock::now() + interval;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(stop_mutex_);
      if (stop_cv_.wait_until(lock, next, [this] { return stopping_; })) return;
    }
    try {
      sample_once();
    } catch (const std::exception &e) {  // e.g. out of memory: log it, try again next interval
      log_error("sampling failed", {{"error", e.what()}});
    }
    // Fixed-rate schedule; if a sample overran, start again from now instead of bursting.
    next += interval;
    auto now = clock::now();
    if (next <= now) next = now + interval;
  }
}

int run_agent(const Options &options) {
  // Blocked here, so every thread started later (the sampler) inherits the mask; the main thread
  // unblocks them just before it runs the HTTP loop, which handles them (asio::signal_set). A
  // signal that arrives during start-up stays pending until then, and still ends in exit 0.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::FILE *log_out = nullptr;
  bool close_log = false;
  if (options.log_json) {
    if (*options.log_json == "-") {
      log_out = stdout;
    } else {
      log_out = std::fopen(options.log_json->c_str(), "a");
      if (log_out == nullptr) {
        log_error("cannot open the JSON sample log; check the path and its folder",
                  {{"path", *options.log_json}, {"error", std::strerror(errno)}});
        return 1;
      }
      close_log = true;
    }
  }

  Status status;
  auto collector = Collector::create(options.pid, options.cache, &status);
  if (!collector) {
    nlohmann::ordered_json f = {{"call", "im_collector_new"}, {"status", status.name()},
                                {"error", status.message}};
    if (options.pid > 0) f["pid"] = options.pid;
    log_error("cannot start the collector", f);
    if (close_log) std::fclose(log_out);
    return 1;
  }

  Sampler sampler(std::move(collector), options.cache, options.interval_seconds, log_out);
  sampler.sample_once();  // so the first scrape already has data

  // GET (and HEAD) /metrics: the sampler's latest text; everything else is 404. The server
  // answers one request per connection (Connection: close): a fresh loopback connection per
  // 1 s scrape costs less than keeping idle connections and their timers around.
  auto handler = [&sampler](std::string_view method, std::string_view path) -> HttpResponse {
    if (path != "/metrics" || (method != "GET" && method != "HEAD")) {
      return {404, kTextPlain, "404 page not found: the agent serves GET /metrics\n"};
    }
    auto text = sampler.latest();
    if (!text) {
      return {503, kTextPlain,
              "no sample yet: the collector has not produced one (see the agent's log)\n"};
    }
    return {200, kContentType, *text};
  };
  std::string bind_error;
  auto server = HttpServer::bind(options.listen_host, options.listen_port, handler, &bind_error);
  if (!server) {
    log_error("cannot listen; is the port in use or the address not local?",
              {{"host", options.listen_host}, {"port", options.listen_port}, {"error", bind_error}});
    if (close_log) std::fclose(log_out);
    return 1;
  }
  server->stop_on_signals({SIGTERM, SIGINT}, [](int sig) {
    log_info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  });

  sampler.start();

  log_info("listening", {{"host", options.listen_host},
                         {"port", server->port()},
                         {"interval_seconds", options.interval_seconds},
                         {"pid", options.pid},
                         {"cache", options.cache},
                         {"library_version", im_version()}});
  pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
  bool by_signal = server->run();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  sampler.stop();
  if (close_log) std::fclose(log_out);
  if (by_signal) return 0;
  log_error("the HTTP server stopped unexpectedly");
  return 1;
}

}  // namespace inframind_agent
