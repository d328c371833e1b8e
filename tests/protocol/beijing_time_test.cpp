#include "protocol/beijing_time.hpp"

#include <gtest/gtest.h>

namespace lantian::protocol {
namespace {

TEST(BeijingTime, SpecExampleBytes) {
  const auto t = BeijingTime::from_fields(2024, 5, 20, 8, 30, 10);
  EXPECT_EQ(t.raw, (std::array<std::uint8_t, 6>{0x18, 0x05, 0x14, 0x08, 0x1E, 0x0A}));
  EXPECT_EQ(t.iso8601(), "2024-05-20T08:30:10+08:00");
  // 2024-05-20 00:30:10 UTC
  EXPECT_EQ(t.to_unix_seconds(), 1716165010);
}

TEST(BeijingTime, FromUnixSecondsIsBeijingWallClock) {
  // 2025-12-31 16:00:00 UTC is 2026-01-01 00:00:00 in Beijing (the R01 phase-out instant).
  const auto t = BeijingTime::from_unix_seconds(1767196800);
  EXPECT_EQ(t.iso8601(), "2026-01-01T00:00:00+08:00");
  EXPECT_EQ(t.to_unix_seconds(), 1767196800);
}

TEST(BeijingTime, InvalidTimesAreNull) {
  EXPECT_FALSE(BeijingTime{}.valid());                                   // all zero
  EXPECT_FALSE(BeijingTime::from_fields(2024, 2, 30, 0, 0, 0).valid());  // no 30 February
  EXPECT_TRUE(BeijingTime::from_fields(2024, 2, 29, 0, 0, 0).valid());   // leap year
  EXPECT_FALSE(BeijingTime::from_fields(2023, 2, 29, 0, 0, 0).valid());
  EXPECT_FALSE(BeijingTime::from_fields(2024, 13, 1, 0, 0, 0).valid());
  EXPECT_FALSE(BeijingTime::from_fields(2024, 1, 1, 24, 0, 0).valid());
  EXPECT_FALSE(BeijingTime::from_fields(2024, 1, 1, 0, 60, 0).valid());
  EXPECT_FALSE(BeijingTime::from_fields(2024, 1, 1, 0, 0, 60).valid());
  EXPECT_EQ(BeijingTime::from_fields(2024, 1, 1, 0, 0, 60).iso8601(), std::nullopt);
  EXPECT_EQ(BeijingTime::from_fields(2024, 1, 1, 0, 0, 60).to_unix_seconds(), std::nullopt);
}

TEST(BeijingTime, OutOfRangeInstantsClamp) {
  EXPECT_EQ(BeijingTime::from_unix_seconds(0).iso8601(), "2000-01-01T00:00:00+08:00");
  EXPECT_EQ(BeijingTime::from_unix_seconds(99999999999).iso8601(), "2255-12-31T23:59:59+08:00");
}

}  // namespace
}  // namespace lantian::protocol
