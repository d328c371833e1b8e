// The catalogue in use: readers get one consistent snapshot while it is replaced.
#include "evaluation/catalogue.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace lantian::evaluation {
namespace {

// A catalogue whose registry holds `n` vehicles and whose zone version is `n`.
Catalogue numbered(int n) {
  auto registry = std::make_shared<rules::Registry>();
  for (int i = 0; i < n; ++i) {
    rules::VehicleRecord r;
    r.vin = "LFWADRJF0110" + std::to_string(10000 + i);
    registry->upsert(std::move(r));
  }
  return {std::move(registry), std::make_shared<rules::ZoneIndex>(std::vector<rules::Zone>{}, n)};
}

TEST(CurrentCatalogue, ReadersSeeWholeSnapshotsWhileItIsReplaced) {
  CurrentCatalogue current(numbered(0));
  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  std::atomic<int> mixed{0};
  for (int t = 0; t < 3; ++t)
    readers.emplace_back([&] {
      while (!done.load()) {
        const auto snapshot = current.snapshot();
        if (static_cast<int>(snapshot->registry->size()) != snapshot->zone_version()) ++mixed;
      }
    });
  for (int n = 1; n <= 50; ++n) current.replace(numbered(n));
  done = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(mixed.load(), 0);
  EXPECT_EQ(current.snapshot()->zone_version(), 50);
}

}  // namespace
}  // namespace lantian::evaluation
