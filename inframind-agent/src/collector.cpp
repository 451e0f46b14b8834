#include "collector.hpp"

#include <cstring>

namespace inframind_agent {
namespace {

constexpr size_t kErrLen = 1024;

Status make_status(im_status code, const char *err) {
  Status s;
  s.code = code;
  if (code != IM_STATUS_OK) {
    s.message = (err != nullptr && err[0] != '\0') ? err : im_status_name(code);
  }
  return s;
}

}  // namespace

std::unique_ptr<Collector> Collector::create(int32_t pid, bool cache, Status *status) {
  char err[kErrLen] = {0};
  im_collector *handle = nullptr;
  im_status code = im_collector_new(pid, cache, &handle, err, sizeof err);
  *status = make_status(code, err);
  if (code != IM_STATUS_OK || handle == nullptr) {
    if (code == IM_STATUS_OK) *status = make_status(IM_STATUS_NULL_ARGUMENT, "im_collector_new returned no handle");
    im_collector_free(handle);
    return nullptr;
  }
  return std::unique_ptr<Collector>(new Collector(handle, pid));
}

Collector::~Collector() { im_collector_free(handle_); }

Status Collector::sample() {
  char err[kErrLen] = {0};
  return make_status(im_collector_sample(handle_, err, sizeof err), err);
}

template <typename Fn>
Status Collector::read_text(Fn fn, std::string *out) {
  // The buffer only grows, so after the first samples every call succeeds the first time.
  for (int attempt = 0; attempt < 4; ++attempt) {
    char err[kErrLen] = {0};
    size_t needed = 0;
    im_status code = fn(handle_, buf_.data(), buf_.size(), &needed, err, sizeof err);
    if (code == IM_STATUS_OK) {
      if (needed >= buf_.size()) {
        return make_status(IM_STATUS_INVALID_INPUT, "library reported more bytes than the buffer holds");
      }
      out->assign(buf_.data(), needed);
      return {};
    }
    if (code != IM_STATUS_BUFFER_TOO_SMALL) return make_status(code, err);
    buf_.resize(needed + 1 + needed / 4);
  }
  return make_status(IM_STATUS_BUFFER_TOO_SMALL, "output kept growing between calls");
}

Status Collector::metrics(std::string *out) { return read_text(im_collector_metrics, out); }

Status Collector::json(std::string *out) { return read_text(im_collector_json, out); }

}  // namespace inframind_agent
