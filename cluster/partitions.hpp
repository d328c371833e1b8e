#pragma once
// Which partition a vehicle belongs to, and which processor owns a partition. Pure functions:
// every node computes the same answers from the same inputs.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/types.hpp"

namespace lantian::cluster {

// The partition of a VIN: a stable hash (FNV-1a, 64 bits, the same on every build and machine)
// modulo `partitions` (> 0).
[[nodiscard]] unsigned partition_of(std::string_view vin, unsigned partitions) noexcept;
[[nodiscard]] unsigned partition_of(const protocol::Vin& vin, unsigned partitions) noexcept;

// The subject frames of `partition` are published on: "<prefix>.<partition, two digits or more>".
[[nodiscard]] std::string partition_subject(std::string_view prefix, unsigned partition);

// The owner of every partition among `members` (node names, any order, no duplicates) by
// rendezvous hashing: each partition goes to the member with the highest hash of (member,
// partition). A member joining or leaving moves only the partitions it gains or held. Empty
// `members`: no owners (an empty map).
[[nodiscard]] std::map<unsigned, std::string> assign_partitions(
    const std::vector<std::string>& members, unsigned partitions);

// Whether `name` may be a node name: 1–64 of [A-Za-z0-9_-] (it goes into consumer names and
// subjects).
[[nodiscard]] bool valid_node_name(std::string_view name) noexcept;

}  // namespace lantian::cluster
