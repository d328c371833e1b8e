#include "evaluation/metrics.hpp"

namespace lantian::evaluation {

void CountsByRule::inc(const std::string& rule) {
  std::lock_guard lock(mutex_);
  ++counts_[rule];
}

std::uint64_t CountsByRule::value(const std::string& rule) const {
  std::lock_guard lock(mutex_);
  const auto it = counts_.find(rule);
  return it == counts_.end() ? 0 : it->second;
}

std::map<std::string, std::uint64_t> CountsByRule::values() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

}  // namespace lantian::evaluation
