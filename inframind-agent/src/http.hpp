// The agent's HTTP server: Boost.Beast on one single-threaded Boost.Asio event loop (the calling
// thread). One request per connection (`Connection: close`), a bounded request (8 KiB of header,
// 8 KiB of body), a deadline on reading and on writing each connection so that a slow client
// cannot hang the agent, and at most kMaxConnections open at once. Silent clients cost a socket
// and a timer each, never the loop's time, so scrapes are served beside them; past the cap, a new
// connection closes the one that has waited longest for its request (a scrape sends its request
// at once, so silent clients are the oldest readers), and only when every open connection is
// writing its answer do further clients wait in the kernel's listen backlog. Idle, the loop
// sleeps in epoll with no timer armed: no wake-ups between scrapes. Beast stays inside http.cpp;
// this header only needs the standard library.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

namespace inframind_agent {

/// What a handler answers; the server adds Content-Length and `Connection: close`.
struct HttpResponse {
  unsigned status = 200;
  std::string content_type;
  std::string body;
};

/// Called on the event loop for every complete request: method (e.g. "GET") and path (the target
/// without its query string). A HEAD request is answered with the handler's headers and no body.
using HttpHandler = std::function<HttpResponse(std::string_view method, std::string_view path)>;

class HttpServer {
 public:
  /// Most connections open at once (each holds a descriptor and about 12 KiB of buffer).
  static constexpr unsigned kMaxConnections = 128;
  /// Seconds a client has to send its request, and again to take the response.
  static constexpr int kTimeoutSeconds = 5;

  /// Resolves host (address or name) and listens on the first of its addresses that binds, with
  /// SO_REUSEADDR; port 0 picks a free port (see port()). On failure returns null and sets
  /// *error to the reason.
  static std::unique_ptr<HttpServer> bind(const std::string &host, int port, HttpHandler handler,
                                          std::string *error);

  ~HttpServer();
  HttpServer(const HttpServer &) = delete;
  HttpServer &operator=(const HttpServer &) = delete;

  /// The port actually listened on.
  int port() const;

  /// Stops run() when one of the signals arrives, after calling on_signal(signal) on the loop.
  /// Installs the handlers now; a signal that is blocked in this thread until run() is delivered
  /// then (so block them before starting other threads, and unblock them before run()).
  void stop_on_signals(std::initializer_list<int> signals, std::function<void(int)> on_signal);

  /// Serves on the calling thread until stopped. Returns true when stopped by a signal.
  bool run();

  /// The event loop, acceptor and connection count (defined in http.cpp only).
  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace inframind_agent
