#include "http.hpp"

#include "log.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <exception>
#include <list>
#include <optional>
#include <utility>

namespace inframind_agent {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// A scrape is a few hundred bytes of header and no body; these bound what a client can make the
// agent buffer per connection.
constexpr std::uint32_t kHeaderLimit = 8 * 1024;
constexpr std::uint64_t kBodyLimit = 8 * 1024;
constexpr std::size_t kReadBufferLimit = kHeaderLimit + 4 * 1024;
// After a failed accept (e.g. out of file descriptors), wait this long before the next one.
constexpr std::chrono::milliseconds kAcceptRetry{100};

constexpr const char *kTextPlain = "text/plain; charset=utf-8";

}  // namespace

class HttpServer::Impl {
 public:
  explicit Impl(HttpHandler handler) : handler_(std::move(handler)) {}
  ~Impl() { stopping_ = true; }  // sessions destroyed with io_ below must not accept again

  // A connection still reading its request; the server may close it to make room.
  class Reader {
   public:
    virtual void evict() = 0;

   protected:
    ~Reader() = default;
  };

  void accept();
  void connection_closed();

  // Declared before io_: destroyed after it (and after the sessions it still holds).
  HttpHandler handler_;
  std::function<void(int)> on_signal_;
  unsigned connections_ = 0;  // open sockets, counted until each is closed
  std::list<Reader *> readers_;  // oldest first; each session unlinks itself
  bool accept_paused_ = false;
  bool stopping_ = false;
  bool by_signal_ = false;
  std::string last_accept_error_;

  asio::io_context io_{1};
  tcp::acceptor acceptor_{io_};
  asio::steady_timer accept_retry_{io_};
  std::optional<asio::signal_set> signals_;
};

namespace {

// One connection: read one request (bounded, with a deadline), answer it, close.
class Session final : public std::enable_shared_from_this<Session>,
                      public HttpServer::Impl::Reader {
 public:
  Session(tcp::socket socket, HttpServer::Impl &server)
      : stream_(std::move(socket)), buffer_(kReadBufferLimit), server_(server) {
    ++server_.connections_;
  }
  ~Session() { release(); }
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  void start() {
    parser_.header_limit(kHeaderLimit);
    parser_.body_limit(kBodyLimit);
    stream_.expires_after(std::chrono::seconds(HttpServer::kTimeoutSeconds));
    reader_ = server_.readers_.insert(server_.readers_.end(), this);
    reading_ = true;
    http::async_read(stream_, buffer_, parser_,
                     beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  // Cancels the pending read (its handler then sees operation_aborted and closes again, a no-op).
  void evict() override { close(); }

 private:
  void on_read(beast::error_code ec, std::size_t) {
    stop_reading();
    if (ec) {
      // The client went away, or timed out: nothing to answer. A request we will not read gets
      // a status that says why.
      if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
        answer(431, {kTextPlain, "request header too large\n"}, false);
      } else if (ec == http::error::body_limit) {
        answer(413, {kTextPlain, "request body too large\n"}, false);
      } else if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
                 ec != http::error::end_of_stream && ec != http::error::partial_message) {
        answer(400, {kTextPlain, "malformed HTTP request\n"}, false);
      } else {
        close();
      }
      return;
    }
    const auto &req = parser_.get();
    std::string_view target(req.target().data(), req.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    std::string_view method(req.method_string().data(), req.method_string().size());
    HttpResponse res;
    try {
      res = server_.handler_(method, path);
    } catch (const std::exception &e) {
      log_error("HTTP handler failed", {{"path", std::string(path)}, {"error", e.what()}});
      res = {500, kTextPlain, "internal error (see the agent's log)\n"};
    }
    answer(res.status, {std::move(res.content_type), std::move(res.body)},
           req.method() == http::verb::head);
  }

  struct Content {
    std::string type;
    std::string body;
  };

  void answer(unsigned status, Content content, bool head) {
    response_.version(11);
    response_.result(status);
    response_.set(http::field::content_type, content.type);
    response_.keep_alive(false);  // Connection: close
    std::size_t length = content.body.size();
    if (!head) response_.body() = std::move(content.body);
    response_.content_length(length);
    stream_.expires_after(std::chrono::seconds(HttpServer::kTimeoutSeconds));
    http::async_write(stream_, response_,
                      beast::bind_front_handler(&Session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code, std::size_t) { close(); }

  void close() {
    stop_reading();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
    release();
  }

  void stop_reading() {
    if (!reading_) return;
    reading_ = false;
    server_.readers_.erase(reader_);
  }

  // The socket's slot is free once it is closed, before the last handler lets go of the session.
  void release() {
    stop_reading();
    if (released_) return;
    released_ = true;
    server_.connection_closed();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request_parser<http::string_body> parser_;
  http::response<http::string_body> response_;
  HttpServer::Impl &server_;
  std::list<HttpServer::Impl::Reader *>::iterator reader_;
  bool reading_ = false;
  bool released_ = false;
};

}  // namespace

void HttpServer::Impl::accept() {
  if (connections_ >= kMaxConnections && readers_.empty()) {
    accept_paused_ = true;  // every slot is writing an answer; resumed by connection_closed()
    return;
  }
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || stopping_) return;
    if (ec) {
      // Logged once per distinct error until an accept succeeds again; retried shortly.
      if (ec.message() != last_accept_error_) {
        last_accept_error_ = ec.message();
        log_warn("cannot accept a connection; retrying", {{"error", last_accept_error_}});
      }
      accept_retry_.expires_after(kAcceptRetry);
      accept_retry_.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && !stopping_) accept();
      });
      return;
    }
    last_accept_error_.clear();
    // Full: the connection that has waited longest for its request makes room. Should every
    // reader have turned writer since accept() looked, this one client goes over the cap and
    // accept() pauses below.
    if (connections_ >= kMaxConnections && !readers_.empty()) readers_.front()->evict();
    try {
      std::make_shared<Session>(std::move(socket), *this)->start();
    } catch (const std::exception &e) {  // out of memory: drop this client, keep serving
      log_error("cannot serve a connection", {{"error", e.what()}});
    }
    accept();
  });
}

void HttpServer::Impl::connection_closed() {
  --connections_;
  if (accept_paused_ && !stopping_) {
    accept_paused_ = false;
    accept();
  }
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() = default;

std::unique_ptr<HttpServer> HttpServer::bind(const std::string &host, int port, HttpHandler handler,
                                             std::string *error) {
  auto impl = std::make_unique<Impl>(std::move(handler));
  beast::error_code ec;
  tcp::resolver resolver(impl->io_);
  auto endpoints = resolver.resolve(host, std::to_string(port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) {
    *error = "cannot resolve '" + host + "': " + ec.message();
    return nullptr;
  }
  for (const auto &entry : endpoints) {
    tcp::acceptor &a = impl->acceptor_;
    ec = {};
    a.open(entry.endpoint().protocol(), ec);
    if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) a.bind(entry.endpoint(), ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) {
      impl->accept();
      return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
    }
    *error = ec.message();
    beast::error_code ignored;
    a.close(ignored);
  }
  if (error->empty()) *error = "no address to listen on for '" + host + "'";
  return nullptr;
}

int HttpServer::port() const {
  beast::error_code ec;
  auto endpoint = impl_->acceptor_.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void HttpServer::stop_on_signals(std::initializer_list<int> signals,
                                 std::function<void(int)> on_signal) {
  impl_->on_signal_ = std::move(on_signal);
  impl_->signals_.emplace(impl_->io_);
  for (int s : signals) impl_->signals_->add(s);
  impl_->signals_->async_wait([impl = impl_.get()](beast::error_code ec, int signal) {
    if (ec) return;
    impl->by_signal_ = true;
    if (impl->on_signal_) impl->on_signal_(signal);
    impl->stopping_ = true;
    impl->io_.stop();
  });
}

bool HttpServer::run() {
  impl_->io_.run();
  impl_->stopping_ = true;
  return impl_->by_signal_;
}

}  // namespace inframind_agent
