// Continuous batching on the real stories260K model: whatever else shares the batch, a
// greedy request produces exactly the tokens it produces alone.
#include <gtest/gtest.h>

#include <condition_variable>
#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "runtime/scheduler.h"
#include "runtime/session.h"
#include "support/test_support.h"

namespace frugal {
namespace {

struct Fixture {
  std::unique_ptr<Backend> backend = make_cpu_backend(2);
  std::unique_ptr<Model> model = Model::load(test::testdata("stories260K/stories260K.gguf"), *backend);
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

// Blocks until the request finishes; returns its tokens, text and status.
struct Outcome {
  std::vector<TokenId> ids;
  std::string text;
  GenerationStatus status;
};

Outcome wait(const std::shared_ptr<RequestStream>& stream, std::mutex& m, std::condition_variable& cv) {
  Outcome o;
  for (;;) {
    std::vector<TokenEvent> events;
    std::optional<GenerationStatus> status;
    {
      std::unique_lock<std::mutex> lock(m);
      cv.wait_for(lock, std::chrono::milliseconds(50));
    }
    stream->take(events, status);
    for (auto& e : events) {
      o.ids.push_back(e.id);
      o.text += e.text;
    }
    if (status) {
      o.status = *status;
      return o;
    }
  }
}

GenerationRequest greedy(std::vector<TokenId> prompt, int max_tokens) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0.0f;
  r.stop_at_eog = false;
  return r;
}

std::vector<TokenId> solo(const std::vector<TokenId>& prompt, int n) {
  SessionConfig sc;
  sc.n_ctx = 512;
  Session s(*fixture().model, sc);
  GenerateOptions go;
  go.max_tokens = n;
  go.sampling.temperature = 0.0f;
  go.stop_at_eog = false;
  return generate(s, prompt, go).generated_ids;
}

TEST(Scheduler, ConcurrentGreedyRequestsMatchLoneRuns) {
  const Tokenizer& tok = fixture().model->tokenizer();
  std::vector<std::vector<TokenId>> prompts;
  const char* texts[] = {"Once upon a time", "Lily went to the park", "The cat", "One day, a little girl named",
                         "Tom and his dog"};
  for (int i = 0; i < 16; ++i) {
    std::string t = texts[i % 5];
    for (int k = 0; k < i / 5; ++k) t += " and then they played in the big green garden";
    prompts.push_back(tok.encode(t, true, false));
  }
  std::vector<std::vector<TokenId>> expected;
  for (int i = 0; i < 16; ++i) expected.push_back(solo(prompts[static_cast<size_t>(i)], 20 + i));
  SchedulerConfig cfg;
  cfg.n_parallel = 16;
  cfg.n_ctx = 256;
  cfg.n_batch = 24;  // forces chunked prefill next to decoding sequences
  Scheduler sched(*fixture().model, cfg);
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (int i = 0; i < 16; ++i) {
    streams.push_back(sched.submit(greedy(prompts[static_cast<size_t>(i)], 20 + i), [&] { cv.notify_all(); }));
  }
  for (int i = 0; i < 16; ++i) {
    const Outcome o = wait(streams[static_cast<size_t>(i)], m, cv);
    EXPECT_EQ(o.status.finish_reason, "length");
    EXPECT_EQ(o.status.completion_tokens, 20 + i);
    EXPECT_EQ(o.ids, expected[static_cast<size_t>(i)]) << "request " << i;
  }
  const auto st = sched.stats();
  EXPECT_EQ(st.kv_blocks_used, 0);
  EXPECT_EQ(st.running, 0);
  EXPECT_GT(st.forward_passes, 0u);
}

TEST(Scheduler, PrefixCacheReusesASharedPrompt) {
  const Tokenizer& tok = fixture().model->tokenizer();
  const auto prompt = tok.encode(
      "Once upon a time there was a girl named Lily who loved to play in the park with her friends every day", true,
      false);
  const auto expected = solo(prompt, 16);
  SchedulerConfig cfg;
  cfg.n_parallel = 2;
  cfg.n_ctx = 256;
  Scheduler sched(*fixture().model, cfg);
  std::mutex m;
  std::condition_variable cv;
  const Outcome first = wait(sched.submit(greedy(prompt, 16), [&] { cv.notify_all(); }), m, cv);
  const Outcome second = wait(sched.submit(greedy(prompt, 16), [&] { cv.notify_all(); }), m, cv);
  EXPECT_EQ(first.status.cached_tokens, 0);
  EXPECT_EQ(second.status.cached_tokens, static_cast<int>((prompt.size() - 1) / 16 * 16));
  EXPECT_GT(second.status.cached_tokens, 0);
  EXPECT_EQ(first.ids, second.ids);
  EXPECT_EQ(first.ids, expected);
  EXPECT_GT(sched.stats().kv_blocks_cached, 0);
}

TEST(Scheduler, CancelFreesBlocksAtOnce) {
  const auto prompt = fixture().model->tokenizer().encode("The cat", true, false);
  SchedulerConfig cfg;
  cfg.n_parallel = 2;
  cfg.n_ctx = 512;
  cfg.prefix_cache = false;
  Scheduler sched(*fixture().model, cfg);
  std::mutex m;
  std::condition_variable cv;
  auto stream = sched.submit(greedy(prompt, -1), [&] { cv.notify_all(); });
  std::vector<TokenEvent> events;
  std::optional<GenerationStatus> status;
  while (events.size() < 3) {
    std::unique_lock<std::mutex> lock(m);
    cv.wait_for(lock, std::chrono::milliseconds(10));
    stream->take(events, status);
  }
  stream->cancel();
  const Outcome o = wait(stream, m, cv);
  EXPECT_EQ(o.status.finish_reason, "cancelled");
  EXPECT_EQ(sched.stats().kv_blocks_used, 0);
}

TEST(Scheduler, RefusesWhatCannotFitAndBoundsTheQueue) {
  const auto prompt = fixture().model->tokenizer().encode("The cat", true, false);
  SchedulerConfig cfg;
  cfg.n_parallel = 1;
  cfg.n_ctx = 64;
  cfg.max_queue = 1;
  Scheduler sched(*fixture().model, cfg);
  std::vector<TokenId> long_prompt(64, 300);
  EXPECT_THROW(sched.submit(greedy(long_prompt, 1), nullptr), RequestTooLargeError);
  GenerationRequest bad = greedy(prompt, 4);
  bad.sampling.top_p = 0.0f;
  bad.sampling.temperature = 1.0f;
  EXPECT_THROW(sched.submit(bad, nullptr), Error);
  // The first request's notifier holds the scheduler thread until released, so the
  // request is certainly running (not finished) while the queue is filled.
  std::mutex gate_mutex;
  std::condition_variable gate_cv;
  bool entered = false, released = false;
  auto a = sched.submit(greedy(prompt, -1), [&] {
    std::unique_lock<std::mutex> lock(gate_mutex);
    entered = true;
    gate_cv.notify_all();
    gate_cv.wait(lock, [&] { return released; });
  });
  {
    std::unique_lock<std::mutex> lock(gate_mutex);
    gate_cv.wait(lock, [&] { return entered; });
  }
  auto b = sched.submit(greedy(prompt, 4), nullptr);  // waits: the one slot is taken
  EXPECT_THROW(sched.submit(greedy(prompt, 4), nullptr), QueueFullError);
  a->cancel();
  b->cancel();
  {
    std::lock_guard<std::mutex> lock(gate_mutex);
    released = true;
  }
  gate_cv.notify_all();
}

TEST(Scheduler, StopStringsAndTimeout) {
  const auto prompt = fixture().model->tokenizer().encode("Once upon a time", true, false);
  SchedulerConfig cfg;
  cfg.n_parallel = 2;
  cfg.n_ctx = 256;
  Scheduler sched(*fixture().model, cfg);
  std::mutex m;
  std::condition_variable cv;
  GenerationRequest r = greedy(prompt, 64);
  r.stop = {"Lily"};
  const Outcome o = wait(sched.submit(r, [&] { cv.notify_all(); }), m, cv);
  EXPECT_EQ(o.text, ", there was a little girl named ");
  EXPECT_EQ(o.status.finish_reason, "stop");

  GenerationRequest slow = greedy(prompt, -1);
  slow.timeout = std::chrono::milliseconds(1);
  const Outcome t = wait(sched.submit(slow, [&] { cv.notify_all(); }), m, cv);
  EXPECT_EQ(t.status.finish_reason, "timeout");
}

}  // namespace
}  // namespace frugal
