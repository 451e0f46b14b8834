// C++17 GoogleTest suite of libinframind, linked three ways (find_package shared, find_package
// static, pkg-config) against an installed prefix. Shows the usual C++ wrapping: RAII handles
// with unique_ptr deleters, a string helper over the size-query convention, and the documented
// thread-safety of each handle (a model shared by threads, a collector behind a mutex, a policy
// set shared by threads).
//
// The fixtures directory comes from $INFRAMIND_FIXTURES (written by
// `cargo run -p inframind-c --example fixtures -- DIR`).
#include <inframind.h>

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Error : std::runtime_error {
  im_status status;
  Error(im_status s, const char *msg)
      : std::runtime_error(std::string(im_status_name(s)) + ": " + msg), status(s) {}
};

void check(im_status s, const std::array<char, 512> &err) {
  if (s != IM_STATUS_OK) throw Error(s, err.data());
}

struct ModelFree {
  void operator()(im_model *m) const { im_model_free(m); }
};
struct CollectorFree {
  void operator()(im_collector *c) const { im_collector_free(c); }
};
struct PolicySetFree {
  void operator()(im_policy_set *p) const { im_policy_set_free(p); }
};
using Model = std::unique_ptr<im_model, ModelFree>;
using Collector = std::unique_ptr<im_collector, CollectorFree>;
using PolicySet = std::unique_ptr<im_policy_set, PolicySetFree>;

// Calls an output function twice: once to learn the size, once with a buffer that fits.
template <class F>
std::string text(F &&f) {
  std::array<char, 512> err{};
  size_t need = 0;
  im_status s = f(nullptr, 0, &need, err.data(), err.size());
  if (s != IM_STATUS_BUFFER_TOO_SMALL) throw Error(s, err.data());
  std::vector<char> buf(need + 1, 'x');
  size_t len = 0;
  check(f(buf.data(), buf.size(), &len, err.data(), err.size()), err);
  EXPECT_EQ(len, need);
  EXPECT_EQ(buf[need], '\0');
  return std::string(buf.data(), len);
}

std::string fixtures() {
  const char *d = std::getenv("INFRAMIND_FIXTURES");
  if (d == nullptr) throw std::runtime_error("set INFRAMIND_FIXTURES to the fixtures directory");
  return d;
}

std::string slurp(const std::string &name) {
  std::ifstream in(fixtures() + "/" + name, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open fixture " + name);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Model load_model() {
  std::array<char, 512> err{};
  im_model *m = nullptr;
  check(im_model_load((fixtures() + "/model.imdm").c_str(), &m, err.data(), err.size()), err);
  return Model(m);
}

bool contains(const std::string &hay, const std::string &needle) {
  return hay.find(needle) != std::string::npos;
}

}  // namespace

TEST(Version, MatchesTheHeader) {
  EXPECT_STREQ(im_version(), IM_VERSION_STRING);
  EXPECT_STREQ(im_status_name(IM_STATUS_NO_SAFE_CONFIG), "IM_STATUS_NO_SAFE_CONFIG");
  // 15 is the largest value C++ lets this enum hold (its values fit in 4 bits).
  EXPECT_STREQ(im_status_name(static_cast<im_status>(15)), "IM_STATUS_UNKNOWN");
}

TEST(Collector, SamplesAChildProcessTreeBehindAMutex) {
  pid_t child = fork();
  if (child == 0) {
    execlp("sleep", "sleep", "5", static_cast<char *>(nullptr));
    _exit(127);
  }
  ASSERT_GT(child, 0);
  std::array<char, 512> err{};
  im_collector *raw = nullptr;
  check(im_collector_new(static_cast<int32_t>(child), false, &raw, err.data(), err.size()), err);
  Collector c(raw);

  // Not thread-safe: the agent's pattern is one mutex around every use of the handle.
  std::mutex mu;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 3; i++) {
    threads.emplace_back([&] {
      std::lock_guard<std::mutex> lock(mu);
      std::array<char, 512> e{};
      if (im_collector_sample(c.get(), e.data(), e.size()) == IM_STATUS_OK) ok++;
    });
  }
  for (auto &t : threads) t.join();
  EXPECT_EQ(ok.load(), 3);

  std::string metrics = text([&](char *b, size_t l, size_t *o, char *e, size_t el) {
    return im_collector_metrics(c.get(), b, l, o, e, el);
  });
  EXPECT_TRUE(contains(metrics, "# TYPE im_cpu_usage_ratio gauge\n"));
  EXPECT_TRUE(contains(metrics, "im_build_processes{pid=\"" + std::to_string(child) + "\"} 1"));
  std::string json = text([&](char *b, size_t l, size_t *o, char *e, size_t el) {
    return im_collector_json(c.get(), b, l, o, e, el);
  });
  EXPECT_TRUE(contains(json, "\"root_pid\":" + std::to_string(child)));
  c.reset();
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);

  raw = reinterpret_cast<im_collector *>(&ok);
  EXPECT_EQ(im_collector_new(static_cast<int32_t>(child), false, &raw, err.data(), err.size()),
            IM_STATUS_NOT_FOUND);
  EXPECT_EQ(raw, nullptr);
  EXPECT_TRUE(contains(err.data(), "no process with pid"));
}

TEST(Collector, OutputBeforeTheFirstSampleIsAnError) {
  std::array<char, 512> err{};
  im_collector *raw = nullptr;
  check(im_collector_new(0, true, &raw, err.data(), err.size()), err);
  Collector c(raw);
  size_t len = 0;
  EXPECT_EQ(im_collector_metrics(c.get(), nullptr, 0, &len, err.data(), err.size()),
            IM_STATUS_INVALID_INPUT);
  EXPECT_STREQ(err.data(), "no sample taken yet: call im_collector_sample first");
}

TEST(Model, OneHandleSharedByThreadsPredictsTheSame) {
  Model m = load_model();
  std::string context = slurp("context.json"), config = slurp("config.json"),
              history = slurp("history.json");
  double want_mean = 0, want_spread = 0;
  std::istringstream(slurp("expected_prediction.txt")) >> want_mean >> want_spread;

  std::vector<std::thread> threads;
  std::atomic<int> same{0};
  for (int i = 0; i < 4; i++) {
    threads.emplace_back([&] {
      std::array<char, 512> e{};
      double mean = 0, spread = 0;
      if (im_model_predict(m.get(), context.c_str(), config.c_str(), history.c_str(), &mean,
                           &spread, e.data(), e.size()) == IM_STATUS_OK &&
          mean == want_mean && spread == want_spread)
        same++;
    });
  }
  for (auto &t : threads) t.join();
  EXPECT_EQ(same.load(), 4);

  std::string names = text([&](char *b, size_t l, size_t *o, char *e, size_t el) {
    return im_model_feature_names(m.get(), b, l, o, e, el);
  });
  EXPECT_EQ(names.front(), '[');
  std::string meta = text([&](char *b, size_t l, size_t *o, char *e, size_t el) {
    return im_model_metadata(m.get(), b, l, o, e, el);
  });
  EXPECT_TRUE(contains(meta, "\"schema\":{"));
}

TEST(Model, BytesAndErrors) {
  std::string bytes = slurp("model.imdm");
  std::array<char, 512> err{};
  im_model *raw = nullptr;
  check(im_model_from_bytes(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size(), &raw,
                            err.data(), err.size()),
        err);
  Model m(raw);
  EXPECT_EQ(im_model_from_bytes(reinterpret_cast<const uint8_t *>(bytes.data()), 10, &raw,
                                err.data(), err.size()),
            IM_STATUS_MODEL);
  EXPECT_EQ(raw, nullptr);
  double mean = 0, spread = 0;
  EXPECT_EQ(im_model_predict(m.get(), "{\"tool\":\"cmake\"}", "{}", "[]", &mean, &spread,
                             err.data(), err.size()),
            IM_STATUS_INVALID_INPUT);
  EXPECT_TRUE(contains(err.data(), "argument `config_json`")) << err.data();
  EXPECT_EQ(im_model_load("/no/such/model.imdm", &raw, err.data(), err.size()),
            IM_STATUS_NOT_FOUND);
}

TEST(Optimizer, SuggestsWithAModelAndColdStarts) {
  Model m = load_model();
  std::string history = slurp("history.json"), context = slurp("context.json");
  auto suggest = [&](const im_model *model, const std::string &ctx) {
    return text([&](char *b, size_t l, size_t *o, char *e, size_t el) {
      return im_optimizer_suggest(model, history.c_str(), ctx.c_str(), 7, true, b, l, o, e, el);
    });
  };
  std::string s = suggest(m.get(), context);
  EXPECT_TRUE(contains(s, "\"cold_start\":false"));
  EXPECT_TRUE(contains(s, "\"guards\":["));
  EXPECT_EQ(s, suggest(m.get(), context)) << "same inputs and seed, same answer";
  EXPECT_TRUE(contains(suggest(nullptr, context), "\"cold_start\":true"));
  try {
    suggest(m.get(), "{\"tool\":\"cmake\",\"capacity\":{\"memory_bytes\":1024}}");
    ADD_FAILURE() << "a 1 KiB capacity cannot be safe";
  } catch (const Error &e) {
    EXPECT_EQ(e.status, IM_STATUS_NO_SAFE_CONFIG);
  }
}

TEST(Healing, ClassifiesALog) {
  std::string log = slurp("oom.log");
  std::string c = text([&](char *b, size_t l, size_t *o, char *e, size_t el) {
    return im_classify_log(reinterpret_cast<const uint8_t *>(log.data()), log.size(), b, l, o, e,
                           el);
  });
  EXPECT_TRUE(contains(c, "\"category\":\"oom\"")) << c;
}

TEST(Healing, PolicySetSharedByThreadsActsOncePerDelivery) {
  std::array<char, 512> err{};
  im_policy_set *raw = nullptr;
  check(im_policy_set_from_file((fixtures() + "/policies.yaml").c_str(), &raw, err.data(),
                                err.size()),
        err);
  PolicySet set(raw);
  std::string hook = slurp("webhook.json");
  std::atomic<int> matched{0}, suppressed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; i++) {
    threads.emplace_back([&] {
      // The size query is the real evaluation; this thread's retry gets its kept result.
      try {
        std::string e = text([&](char *b, size_t l, size_t *o, char *er, size_t el) {
          return im_policy_set_evaluate(set.get(), hook.c_str(), false, b, l, o, er, el);
        });
        if (contains(e, "\"outcome\":\"matched\"")) matched++;
        if (contains(e, "\"outcome\":\"suppressed\"")) suppressed++;
      } catch (const Error &e) {
        ADD_FAILURE() << e.what();
      }
    });
  }
  for (auto &t : threads) t.join();
  EXPECT_EQ(matched.load(), 1);
  EXPECT_EQ(suppressed.load(), 3);

  std::string dry = text([&](char *b, size_t l, size_t *o, char *e, size_t el) {
    return im_policy_set_evaluate(set.get(), hook.c_str(), true, b, l, o, e, el);
  });
  EXPECT_TRUE(contains(dry, "\"dry_run\":true"));
  size_t n = 0;
  check(im_policy_set_len(set.get(), &n, err.data(), err.size()), err);
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(im_policy_set_from_json("[{\"name\":1}]", &raw, err.data(), err.size()),
            IM_STATUS_INVALID_INPUT);
  EXPECT_EQ(raw, nullptr);
}

TEST(Conventions, NullArgumentsAndNullErr) {
  size_t len = 0;
  EXPECT_EQ(im_collector_sample(nullptr, nullptr, 0), IM_STATUS_NULL_ARGUMENT);
  EXPECT_EQ(im_model_metadata(nullptr, nullptr, 0, &len, nullptr, 0), IM_STATUS_NULL_ARGUMENT);
  std::array<char, 512> err{};
  EXPECT_EQ(im_classify_log(nullptr, 1, nullptr, 0, &len, err.data(), err.size()),
            IM_STATUS_NULL_ARGUMENT);
  EXPECT_STREQ(err.data(), "argument `log` is NULL: pass a valid pointer");
  im_model_free(nullptr);
  im_collector_free(nullptr);
  im_policy_set_free(nullptr);
}
