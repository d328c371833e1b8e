// Rule evaluation per sample with 1,000 zone polygons loaded (P6: ≤ 5 µs), against the same
// containment by scanning every polygon (the naive reference) in the same run.
//
//   build/bin/rules_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <benchmark/benchmark.h>

#include <boost/geometry/algorithms/correct.hpp>
#include <random>

#include "rules/engine.hpp"

using namespace lantian::rules;

namespace {

// 1,000 zones over Henan: octagons of 1–30 km, a third of them machinery ban zones.
const ZoneIndex& thousand_zones() {
  static const ZoneIndex index = [] {
    std::mt19937 rng(5);
    std::uniform_real_distribution<double> lon(110.5, 116.5), lat(31.5, 36.3), radius(0.01, 0.3);
    std::vector<Zone> zones;
    for (int i = 0; i < 1000; ++i) {
      Zone z;
      z.id = "zone-" + std::to_string(i);
      z.kind = i % 3 == 0 ? ZoneKind::nrmm_ban : ZoneKind::truck_restriction;
      z.applies_to = {"N2", "N3", "nrmm:*"};
      z.banned_max_stage = z.kind == ZoneKind::nrmm_ban ? Stage::NR2 : Stage::CN3;
      const double cx = lon(rng), cy = lat(rng), r = radius(rng);
      GeoPolygon p;
      for (int k = 0; k <= 8; ++k) {
        const double a = (k % 8) * 3.14159265358979 / 4;
        p.outer().emplace_back(cx + r * std::cos(a), cy + r * std::sin(a));
      }
      boost::geometry::correct(p);
      z.area.push_back(p);
      zones.push_back(std::move(z));
    }
    return ZoneIndex(std::move(zones), 1);
  }();
  return index;
}

std::vector<Sample> random_samples() {
  std::mt19937 rng(9);
  std::uniform_real_distribution<double> lon(110.5, 116.5), lat(31.5, 36.3);
  std::vector<Sample> samples(4096);
  std::int64_t t = 1767196800;
  for (auto& s : samples) {
    s.at_unix_s = t += 10;
    s.lon = lon(rng);
    s.lat = lat(rng);
    s.speed_kmh = 50;
    s.engine_rpm = 1400;
    s.coolant_c = 85;
  }
  return samples;
}

void BM_RuleStep_1000Zones(benchmark::State& state) {
  const auto& zones = thousand_zones();
  const auto samples = random_samples();
  VehicleRecord truck;
  truck.vin = "LZZJ5ACA5AF110265";
  truck.category = "N3";
  truck.fuel = "diesel";
  truck.stage = Stage::CN3;
  Engine engine;
  VehicleState vs;
  std::size_t i = 0, violations = 0;
  for (auto _ : state) {
    violations += engine.step(vs, &truck, samples[i++ & 4095], zones).size();
  }
  state.counters["violations"] = static_cast<double>(violations);
}
BENCHMARK(BM_RuleStep_1000Zones);

void BM_NaiveScan_1000Zones(benchmark::State& state) {
  const auto& zones = thousand_zones();
  const auto samples = random_samples();
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& s = samples[i++ & 4095];
    benchmark::DoNotOptimize(zones.containing_by_scan(*s.lon, *s.lat));
  }
}
BENCHMARK(BM_NaiveScan_1000Zones);

void BM_RtreeQuery_1000Zones(benchmark::State& state) {
  const auto& zones = thousand_zones();
  const auto samples = random_samples();
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& s = samples[i++ & 4095];
    benchmark::DoNotOptimize(zones.containing(*s.lon, *s.lat));
  }
}
BENCHMARK(BM_RtreeQuery_1000Zones);

}  // namespace

BENCHMARK_MAIN();
