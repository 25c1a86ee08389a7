// Server metrics in Prometheus' text exposition format. Counters and histograms are
// updated from the I/O threads; gauges are read from the scheduler when scraped.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace frugal {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // Appends the _bucket/_sum/_count lines of metric `name`.
  void render(std::string& out, const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // one per bound, plus +Inf
  double sum_ = 0.0;
  uint64_t count_ = 0;
};

struct ServerMetrics {
  ServerMetrics();
  void count_request(const std::string& route, int status);
  std::string render_requests() const;

  Histogram queue_time;          // seconds from arrival to admission into the batch
  Histogram time_to_first_token; // seconds from arrival to the first generated token
  Histogram inter_token_latency; // seconds between consecutive tokens of one request
  Histogram request_duration;    // seconds from arrival to the end of generation
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> connections_total{0};
  std::atomic<uint64_t> connections_refused{0};

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
};

}  // namespace frugal
