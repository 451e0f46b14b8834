// Times one libinframind collector sample of a process tree (im_collector_sample with pid > 0:
// the tree walk plus the system sample it always includes). Driven by tree_sample.sh, which
// builds a 200-process tree first.
//
//   im-tree-sample-bench PID [ITERATIONS [INTERVAL_MS]]
//
// Sleeps INTERVAL_MS (default 0) between samples, so that a busy tree changes between them as
// it would between an agent's samples; only the samples are timed. Prints the latest sample's
// JSON line (so the caller can check the tree size), then min / median / p95 / p99 / mean
// milliseconds per sample.
#include <inframind.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char **argv) {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: %s PID [ITERATIONS [INTERVAL_MS]]\n", argv[0]);
    return 2;
  }
  char *end = nullptr;
  long pid = std::strtol(argv[1], &end, 10);
  if (*end != '\0' || pid <= 0 || pid > 2147483647L) {
    std::fprintf(stderr, "PID must be a positive process id, not '%s'\n", argv[1]);
    return 2;
  }
  long iterations = 200;
  if (argc >= 3) {
    iterations = std::strtol(argv[2], &end, 10);
    if (*end != '\0' || iterations < 1 || iterations > 1000000) {
      std::fprintf(stderr, "ITERATIONS must be 1..1000000, not '%s'\n", argv[2]);
      return 2;
    }
  }
  long interval_ms = 0;
  if (argc == 4) {
    interval_ms = std::strtol(argv[3], &end, 10);
    if (*end != '\0' || interval_ms < 0 || interval_ms > 60000) {
      std::fprintf(stderr, "INTERVAL_MS must be 0..60000, not '%s'\n", argv[3]);
      return 2;
    }
  }
  char err[1024] = {0};
  im_collector *c = nullptr;
  if (im_collector_new(static_cast<int32_t>(pid), false, &c, err, sizeof err) != IM_STATUS_OK) {
    std::fprintf(stderr, "im_collector_new: %s\n", err);
    return 1;
  }
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(iterations));
  for (long i = -5; i < iterations; ++i) {  // 5 warm-up samples
    if (interval_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
    auto t0 = std::chrono::steady_clock::now();
    im_status s = im_collector_sample(c, err, sizeof err);
    auto t1 = std::chrono::steady_clock::now();
    if (s != IM_STATUS_OK) {
      std::fprintf(stderr, "im_collector_sample: %s: %s\n", im_status_name(s), err);
      im_collector_free(c);
      return 1;
    }
    if (i >= 0) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::vector<char> buf(64 * 1024);
  size_t len = 0;
  if (im_collector_json(c, buf.data(), buf.size(), &len, err, sizeof err) == IM_STATUS_OK) {
    std::printf("%s\n", buf.data());
  } else {
    std::fprintf(stderr, "im_collector_json: %s\n", err);
  }
  im_collector_free(c);
  std::sort(ms.begin(), ms.end());
  double sum = 0;
  for (double v : ms) sum += v;
  auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(q * static_cast<double>(ms.size())))]; };
  std::printf("samples %zu  min %.3f ms  median %.3f ms  p95 %.3f ms  p99 %.3f ms  mean %.3f ms\n",
              ms.size(), ms.front(), at(0.5), at(0.95), at(0.99), sum / static_cast<double>(ms.size()));
  return 0;
}
