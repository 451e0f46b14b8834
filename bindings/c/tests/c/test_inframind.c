/*
 * C11 test of libinframind: every function of include/inframind.h, called the way a C program
 * does, against the real library (.so or .a). Built with
 *   gcc -std=c11 -Wall -Wextra -Werror -pedantic -I bindings/c/include ...
 * and run plainly, under AddressSanitizer and under valgrind by scripts/suites/40-c-abi.sh.
 *
 * Usage: test_inframind FIXTURES_DIR
 * (FIXTURES_DIR is written by `cargo run -p inframind-c --example fixtures -- DIR`.)
 */
#define _POSIX_C_SOURCE 200809L

#include "inframind.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static int passed;
static int failed;

#define CHECK(cond)                                                                    \
  do {                                                                                 \
    if (cond) {                                                                        \
      passed++;                                                                        \
    } else {                                                                           \
      failed++;                                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);         \
    }                                                                                  \
  } while (0)

/* Checks a status and prints the message when it is not the expected one. */
#define CHECK_STATUS(got, want, err)                                                   \
  do {                                                                                 \
    im_status got_ = (got);                                                            \
    if (got_ == (want)) {                                                              \
      passed++;                                                                        \
    } else {                                                                           \
      failed++;                                                                        \
      fprintf(stderr, "%s:%d: got %s, want %s: %s\n", __FILE__, __LINE__,              \
              im_status_name(got_), im_status_name(want), (err));                      \
    }                                                                                  \
  } while (0)

static const char *fixtures;

static char *read_file(const char *name, size_t *len_out) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", fixtures, name);
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "cannot open fixture %s\n", path);
    exit(2);
  }
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap + 1);
  size_t n;
  while (buf != NULL && (n = fread(buf + len, 1, cap - len, f)) > 0) {
    len += n;
    if (len == cap) {
      cap *= 2;
      char *bigger = realloc(buf, cap + 1);
      if (bigger == NULL) {
        free(buf);
        buf = NULL;
      }
      buf = bigger;
    }
  }
  fclose(f);
  if (buf == NULL) {
    fprintf(stderr, "out of memory reading %s\n", path);
    exit(2);
  }
  buf[len] = '\0';
  if (len_out != NULL) {
    *len_out = len;
  }
  return buf;
}

static char *fixture_path(const char *name) {
  size_t n = strlen(fixtures) + strlen(name) + 2;
  char *p = malloc(n);
  if (p == NULL) {
    exit(2);
  }
  snprintf(p, n, "%s/%s", fixtures, name);
  return p;
}

/*
 * Output functions share `char *buf, size_t buf_len, size_t *out_len, char *err, size_t
 * err_len`; the adapters below bind their leading arguments so one helper can check the
 * convention on all of them.
 */
typedef im_status (*out_fn)(const void *ctx, char *buf, size_t buf_len, size_t *out_len, char *err,
                            size_t err_len);

/*
 * Size query, then a buffer one byte too small (must fail and stay untouched), then the exact
 * size. Returns a malloc'd copy of the text (caller frees) or NULL with *status set.
 */
static char *get_text(out_fn fn, const void *ctx, im_status *status, char *err, size_t err_len) {
  size_t need = (size_t)-1;
  im_status s = fn(ctx, NULL, 0, &need, err, err_len);
  if (s != IM_STATUS_BUFFER_TOO_SMALL) {
    *status = s;
    return NULL;
  }
  CHECK(need != (size_t)-1);
  char *small = malloc(need + 1);
  if (small == NULL) {
    exit(2);
  }
  memset(small, 'x', need + 1);
  size_t len = 0;
  s = fn(ctx, small, need, &len, err, err_len);
  CHECK(s == IM_STATUS_BUFFER_TOO_SMALL);
  CHECK(len == need);
  int untouched = 1;
  for (size_t i = 0; i < need; i++) {
    untouched &= small[i] == 'x';
  }
  CHECK(untouched);
  free(small);

  char *buf = malloc(need + 1);
  if (buf == NULL) {
    exit(2);
  }
  s = fn(ctx, buf, need + 1, &len, err, err_len);
  *status = s;
  if (s != IM_STATUS_OK) {
    free(buf);
    return NULL;
  }
  CHECK(len == need);
  CHECK(buf[need] == '\0');
  CHECK(strlen(buf) == need);
  return buf;
}

/* ---- adapters ---- */

static im_status collector_metrics(const void *c, char *b, size_t l, size_t *o, char *e, size_t el) {
  return im_collector_metrics((const im_collector *)c, b, l, o, e, el);
}
static im_status collector_json(const void *c, char *b, size_t l, size_t *o, char *e, size_t el) {
  return im_collector_json((const im_collector *)c, b, l, o, e, el);
}
static im_status feature_names(const void *m, char *b, size_t l, size_t *o, char *e, size_t el) {
  return im_model_feature_names((const im_model *)m, b, l, o, e, el);
}
static im_status metadata(const void *m, char *b, size_t l, size_t *o, char *e, size_t el) {
  return im_model_metadata((const im_model *)m, b, l, o, e, el);
}

struct suggest_args {
  const im_model *model;
  const char *history;
  const char *context;
  uint64_t seed;
  bool has_seed;
};
static im_status suggest(const void *a, char *b, size_t l, size_t *o, char *e, size_t el) {
  const struct suggest_args *s = a;
  return im_optimizer_suggest(s->model, s->history, s->context, s->seed, s->has_seed, b, l, o, e,
                              el);
}

struct log_args {
  const uint8_t *log;
  size_t len;
};
static im_status classify(const void *a, char *b, size_t l, size_t *o, char *e, size_t el) {
  const struct log_args *s = a;
  return im_classify_log(s->log, s->len, b, l, o, e, el);
}

struct eval_args {
  const im_policy_set *set;
  const char *webhook;
  bool dry_run;
};
static im_status evaluate(const void *a, char *b, size_t l, size_t *o, char *e, size_t el) {
  const struct eval_args *s = a;
  return im_policy_set_evaluate(s->set, s->webhook, s->dry_run, b, l, o, e, el);
}

/* ---- tests ---- */

static void test_version_and_status_names(void) {
  CHECK(strcmp(im_version(), IM_VERSION_STRING) == 0);
  char expect[32];
  snprintf(expect, sizeof expect, "%d.%d.%d", IM_VERSION_MAJOR, IM_VERSION_MINOR, IM_VERSION_PATCH);
  CHECK(strcmp(im_version(), expect) == 0);
  CHECK(strcmp(im_status_name(IM_STATUS_OK), "IM_STATUS_OK") == 0);
  CHECK(strcmp(im_status_name(IM_STATUS_BUFFER_TOO_SMALL), "IM_STATUS_BUFFER_TOO_SMALL") == 0);
  CHECK(strcmp(im_status_name(IM_STATUS_PANIC), "IM_STATUS_PANIC") == 0);
  CHECK(strcmp(im_status_name((im_status)12345), "IM_STATUS_UNKNOWN") == 0);
  CHECK(IM_STATUS_OK == 0 && IM_STATUS_PANIC == 9);
  CHECK(strcmp(im_status_name(IM_STATUS_NOT_ENOUGH_DATA), "IM_STATUS_NOT_ENOUGH_DATA") == 0);
  CHECK(IM_STATUS_NOT_ENOUGH_DATA == 10);
}

static void test_collector(void) {
  char err[512];
  im_status s;
  im_collector *c = (im_collector *)&s; /* must be reset to NULL on failure */

  /* The tree of a child process: fork a sleeper. */
  pid_t child = fork();
  if (child == 0) {
    execlp("sleep", "sleep", "5", (char *)NULL);
    _exit(127);
  }
  CHECK(child > 0);
  CHECK_STATUS(im_collector_new((int32_t)child, true, &c, err, sizeof err), IM_STATUS_OK, err);
  char *text = get_text(collector_metrics, c, &s, err, sizeof err);
  CHECK_STATUS(s, IM_STATUS_INVALID_INPUT, err); /* no sample yet */
  CHECK(text == NULL);
  CHECK(strstr(err, "no sample taken yet") != NULL);

  CHECK_STATUS(im_collector_sample(c, err, sizeof err), IM_STATUS_OK, err);
  text = get_text(collector_metrics, c, &s, err, sizeof err);
  CHECK_STATUS(s, IM_STATUS_OK, err);
  if (text != NULL) {
    char want[64];
    snprintf(want, sizeof want, "im_build_processes{pid=\"%d\"} 1", (int)child);
    CHECK(strstr(text, "# TYPE im_cpu_usage_ratio gauge\n") != NULL);
    CHECK(strstr(text, "# TYPE im_mem_used_bytes gauge\n") != NULL);
    CHECK(strstr(text, want) != NULL);
    free(text);
  }
  CHECK_STATUS(im_collector_sample(c, err, sizeof err), IM_STATUS_OK, err);
  text = get_text(collector_json, c, &s, err, sizeof err);
  CHECK_STATUS(s, IM_STATUS_OK, err);
  if (text != NULL) {
    char want[64];
    snprintf(want, sizeof want, "\"root_pid\":%d", (int)child);
    CHECK(text[0] == '{' && strchr(text, '\n') == NULL);
    CHECK(strstr(text, want) != NULL);
    CHECK(strstr(text, "\"cpu_usage_ratio\":") != NULL);
    free(text);
  }
  im_collector_free(c);
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);

  /* The child is gone now: its pid is not found. */
  c = (im_collector *)&s;
  CHECK_STATUS(im_collector_new((int32_t)child, false, &c, err, sizeof err), IM_STATUS_NOT_FOUND,
               err);
  CHECK(c == NULL);
  CHECK(strstr(err, "no process with pid") != NULL);

  /* System only. */
  CHECK_STATUS(im_collector_new(0, false, &c, err, sizeof err), IM_STATUS_OK, err);
  CHECK_STATUS(im_collector_sample(c, NULL, 0), IM_STATUS_OK, "");
  text = get_text(collector_json, c, &s, err, sizeof err);
  CHECK_STATUS(s, IM_STATUS_OK, err);
  if (text != NULL) {
    CHECK(strstr(text, "\"tree\":null") != NULL);
    free(text);
  }
  size_t len;
  CHECK_STATUS(im_collector_json(c, NULL, 0, NULL, err, sizeof err), IM_STATUS_NULL_ARGUMENT, err);
  CHECK(strcmp(err, "argument `out_len` is NULL: pass a valid pointer") == 0);
  CHECK_STATUS(im_collector_metrics(NULL, NULL, 0, &len, err, sizeof err), IM_STATUS_NULL_ARGUMENT,
               err);
  CHECK_STATUS(im_collector_sample(NULL, err, sizeof err), IM_STATUS_NULL_ARGUMENT, err);
  CHECK_STATUS(im_collector_new(0, false, NULL, err, sizeof err), IM_STATUS_NULL_ARGUMENT, err);
  im_collector_free(c);
  im_collector_free(NULL);
}

static void test_model_and_optimizer(void) {
  char err[512];
  im_status s;
  char *path = fixture_path("model.imdm");
  char *context = read_file("context.json", NULL);
  char *config = read_file("config.json", NULL);
  char *history = read_file("history.json", NULL);
  char *expected = read_file("expected_prediction.txt", NULL);
  size_t model_len = 0;
  char *model_bytes = read_file("model.imdm", &model_len);

  im_model *m = NULL;
  CHECK_STATUS(im_model_load(path, &m, err, sizeof err), IM_STATUS_OK, err);
  im_model *m2 = NULL;
  CHECK_STATUS(im_model_from_bytes((const uint8_t *)model_bytes, model_len, &m2, err, sizeof err),
               IM_STATUS_OK, err);

  double mean = -1, spread = -1, want_mean = 0, want_spread = 0;
  CHECK(sscanf(expected, "%lf %lf", &want_mean, &want_spread) == 2);
  CHECK_STATUS(im_model_predict(m, context, config, history, &mean, &spread, err, sizeof err),
               IM_STATUS_OK, err);
  CHECK(mean == want_mean); /* bit-identical to the core's own prediction */
  CHECK(spread == want_spread);
  double mean2 = -1, spread2 = -1;
  CHECK_STATUS(im_model_predict(m2, context, config, "[]", &mean2, &spread2, err, sizeof err),
               IM_STATUS_OK, err);
  CHECK(isfinite(mean2) && mean2 > 0 && spread2 >= 0);

  /* Bad input is named. */
  CHECK_STATUS(im_model_predict(m, "{\"tool\":", config, history, &mean, &spread, err, sizeof err),
               IM_STATUS_INVALID_INPUT, err);
  CHECK(strstr(err, "argument `context_json`: invalid JSON for a run context") != NULL);
  CHECK_STATUS(im_model_predict(m, context, "{\"concurrency\":0,\"cpu_cores\":1,\"memory_bytes\":1}",
                                history, &mean, &spread, err, sizeof err),
               IM_STATUS_INVALID_INPUT, err);
  CHECK(strstr(err, "config.concurrency = 0") != NULL);
  CHECK_STATUS(im_model_predict(NULL, context, config, history, &mean, &spread, err, sizeof err),
               IM_STATUS_NULL_ARGUMENT, err);
  CHECK_STATUS(im_model_predict(m, context, config, history, NULL, &spread, err, sizeof err),
               IM_STATUS_NULL_ARGUMENT, err);
  /* A short error buffer gets a truncated, terminated message. */
  char tiny[9];
  CHECK_STATUS(im_model_predict(m, NULL, config, history, &mean, &spread, tiny, sizeof tiny),
               IM_STATUS_NULL_ARGUMENT, tiny);
  CHECK(strcmp(tiny, "argument") == 0);

  char *names = get_text(feature_names, m, &s, err, sizeof err);
  CHECK_STATUS(s, IM_STATUS_OK, err);
  if (names != NULL) {
    CHECK(names[0] == '[' && strstr(names, "\"concurrency\"") != NULL);
    free(names);
  }
  char *meta = get_text(metadata, m, &s, err, sizeof err);
  CHECK_STATUS(s, IM_STATUS_OK, err);
  if (meta != NULL) {
    CHECK(strstr(meta, "\"model_id\":") != NULL);
    CHECK(strstr(meta, "\"feature_importances\":[") != NULL);
    free(meta);
  }

  /* Suggestions: with the model, and a cold start without. */
  struct suggest_args a = {m, history, context, 42, true};
  char *sug = get_text(suggest, &a, &s, err, sizeof err);
  CHECK_STATUS(s, IM_STATUS_OK, err);
  if (sug != NULL) {
    CHECK(strstr(sug, "\"cold_start\":false") != NULL);
    CHECK(strstr(sug, "\"seed\":42") != NULL);
    CHECK(strstr(sug, "\"rationale\":[") != NULL);
    free(sug);
  }
  struct suggest_args cold = {NULL, "[]", "{\"tool\":\"make\"}", 0, false};
  sug = get_text(suggest, &cold, &s, err, sizeof err);
  CHECK_STATUS(s, IM_STATUS_OK, err);
  if (sug != NULL) {
    CHECK(strstr(sug, "\"cold_start\":true") != NULL);
    free(sug);
  }
  struct suggest_args tight = {m, history,
                               "{\"tool\":\"cmake\",\"capacity\":{\"memory_bytes\":1048576}}", 1, true};
  sug = get_text(suggest, &tight, &s, err, sizeof err);
  CHECK_STATUS(s, IM_STATUS_NO_SAFE_CONFIG, err);
  CHECK(sug == NULL);
  CHECK(strstr(err, "no safe configuration") != NULL);
  size_t len;
  CHECK_STATUS(im_optimizer_suggest(m, NULL, context, 0, false, NULL, 0, &len, err, sizeof err),
               IM_STATUS_NULL_ARGUMENT, err);

  /* Loading errors. */
  im_model *bad = (im_model *)&s;
  CHECK_STATUS(im_model_load("/nonexistent/model.imdm", &bad, err, sizeof err),
               IM_STATUS_NOT_FOUND, err);
  CHECK(bad == NULL);
  CHECK_STATUS(im_model_from_bytes((const uint8_t *)model_bytes, model_len / 2, &bad, err,
                                   sizeof err),
               IM_STATUS_MODEL, err);
  CHECK_STATUS(im_model_from_bytes(NULL, 5, &bad, err, sizeof err), IM_STATUS_NULL_ARGUMENT, err);
  CHECK_STATUS(im_model_load(path, NULL, err, sizeof err), IM_STATUS_NULL_ARGUMENT, err);

  im_model_free(m);
  im_model_free(m2);
  im_model_free(NULL);
  free(path);
  free(context);
  free(config);
  free(history);
  free(expected);
  free(model_bytes);
}

static void test_healing(void) {
  char err[512];
  im_status s;
  size_t log_len = 0;
  char *log = read_file("oom.log", &log_len);
  struct log_args la = {(const uint8_t *)log, log_len};
  char *c = get_text(classify, &la, &s, err, sizeof err);
  CHECK_STATUS(s, IM_STATUS_OK, err);
  if (c != NULL) {
    CHECK(strstr(c, "\"category\":\"oom\"") != NULL);
    CHECK(strstr(c, "\"remediation\":") != NULL);
    free(c);
  }
  struct log_args empty = {NULL, 0};
  c = get_text(classify, &empty, &s, err, sizeof err);
  CHECK_STATUS(s, IM_STATUS_OK, err);
  if (c != NULL) {
    CHECK(strstr(c, "\"category\":\"unknown\"") != NULL);
    free(c);
  }
  free(log);

  char *policies_path = fixture_path("policies.yaml");
  char *policies = read_file("policies.yaml", NULL);
  char *webhook = read_file("webhook.json", NULL);
  im_policy_set *from_file = NULL, *from_yaml = NULL, *from_json = NULL;
  CHECK_STATUS(im_policy_set_from_file(policies_path, &from_file, err, sizeof err), IM_STATUS_OK, err);
  CHECK_STATUS(im_policy_set_from_yaml(policies, &from_yaml, err, sizeof err), IM_STATUS_OK, err);
  CHECK_STATUS(im_policy_set_from_json(
                   "[{\"name\":\"restart\",\"condition\":{\"labels\":{\"alertname\":"
                   "\"KubePodCrashLooping\"}},\"action\":{\"tool\":\"restart_pod\"}}]",
                   &from_json, err, sizeof err),
               IM_STATUS_OK, err);
  size_t n = 0;
  CHECK_STATUS(im_policy_set_len(from_file, &n, err, sizeof err), IM_STATUS_OK, err);
  CHECK(n == 2);
  CHECK_STATUS(im_policy_set_len(from_json, &n, err, sizeof err), IM_STATUS_OK, err);
  CHECK(n == 1);

  struct eval_args dry = {from_file, webhook, true};
  char *e = get_text(evaluate, &dry, &s, err, sizeof err);
  CHECK_STATUS(s, IM_STATUS_OK, err);
  if (e != NULL) {
    CHECK(strstr(e, "\"decisions\":[") != NULL);
    CHECK(strstr(e, "\"policy\":\"restart-crashlooping-pod\"") != NULL);
    CHECK(strstr(e, "\"outcome\":\"matched\"") != NULL);
    CHECK(strstr(e, "\"pod\":\"cart-1\"") != NULL);
    CHECK(strstr(e, "\"dry_run\":true") != NULL);
    free(e);
  }
  /* Real evaluations keep safety state: the same delivery again is suppressed. */
  struct eval_args real = {from_yaml, webhook, false};
  e = get_text(evaluate, &real, &s, err, sizeof err);
  CHECK_STATUS(s, IM_STATUS_OK, err);
  if (e != NULL) {
    CHECK(strstr(e, "\"outcome\":\"matched\"") != NULL);
    CHECK(strstr(e, "\"dry_run\":false") != NULL);
    free(e);
  }
  e = get_text(evaluate, &real, &s, err, sizeof err);
  CHECK_STATUS(s, IM_STATUS_OK, err);
  if (e != NULL) {
    CHECK(strstr(e, "\"outcome\":\"suppressed\"") != NULL);
    free(e);
  }

  /* Bad input. */
  im_policy_set *bad = (im_policy_set *)&s;
  CHECK_STATUS(im_policy_set_from_yaml("- name: x\n", &bad, err, sizeof err),
               IM_STATUS_INVALID_INPUT, err);
  CHECK(bad == NULL);
  CHECK(strstr(err, "policy \"x\"") != NULL);
  CHECK_STATUS(im_policy_set_from_json("{", &bad, err, sizeof err), IM_STATUS_INVALID_INPUT, err);
  CHECK_STATUS(im_policy_set_from_file("/nonexistent.yaml", &bad, err, sizeof err),
               IM_STATUS_NOT_FOUND, err);
  struct eval_args broken = {from_json, "{\"version\":\"4\",\"alerts\":[{}]}", true};
  e = get_text(evaluate, &broken, &s, err, sizeof err);
  CHECK_STATUS(s, IM_STATUS_INVALID_INPUT, err);
  CHECK(e == NULL);
  CHECK(strstr(err, "invalid alert payload") != NULL);
  size_t len;
  CHECK_STATUS(im_policy_set_evaluate(NULL, webhook, true, NULL, 0, &len, err, sizeof err),
               IM_STATUS_NULL_ARGUMENT, err);
  CHECK_STATUS(im_policy_set_len(NULL, &n, err, sizeof err), IM_STATUS_NULL_ARGUMENT, err);
  CHECK_STATUS(im_classify_log(NULL, 4, NULL, 0, &len, err, sizeof err), IM_STATUS_NULL_ARGUMENT,
               err);

  im_policy_set_free(from_file);
  im_policy_set_free(from_yaml);
  im_policy_set_free(from_json);
  im_policy_set_free(NULL);
  free(policies_path);
  free(policies);
  free(webhook);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s FIXTURES_DIR\n", argv[0]);
    return 2;
  }
  fixtures = argv[1];
  test_version_and_status_names();
  test_collector();
  test_model_and_optimizer();
  test_healing();
  printf("test_inframind: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
