#include "cluster/partitions.hpp"

#include <algorithm>
#include <cstdio>

namespace lantian::cluster {
namespace {

std::uint64_t fnv1a(std::string_view text, std::uint64_t hash = 14695981039346656037ull) noexcept {
  for (const unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

// FNV-1a alone mixes the last bytes weakly; a final avalanche (splitmix64's) spreads names that
// differ only at the end, as node names often do ("proc-1", "proc-2").
std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

unsigned partition_of(std::string_view vin, unsigned partitions) noexcept {
  return static_cast<unsigned>(mix(fnv1a(vin)) % partitions);
}

unsigned partition_of(const protocol::Vin& vin, unsigned partitions) noexcept {
  return partition_of(protocol::as_text(vin), partitions);
}

std::string partition_subject(std::string_view prefix, unsigned partition) {
  char number[16];
  std::snprintf(number, sizeof number, "%02u", partition);
  std::string subject(prefix);
  subject += '.';
  subject += number;
  return subject;
}

std::map<unsigned, std::string> assign_partitions(const std::vector<std::string>& members,
                                                  unsigned partitions) {
  std::map<unsigned, std::string> owners;
  if (members.empty()) return owners;
  for (unsigned p = 0; p < partitions; ++p) {
    const std::string* best = nullptr;
    std::uint64_t best_weight = 0;
    for (const auto& m : members) {
      const auto weight = mix(fnv1a(m, fnv1a(std::to_string(p) + "/")));
      // Ties (never seen in practice) go to the smaller name, so every node agrees.
      if (!best || weight > best_weight || (weight == best_weight && m < *best)) {
        best = &m;
        best_weight = weight;
      }
    }
    owners.emplace(p, *best);
  }
  return owners;
}

bool valid_node_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
  });
}

}  // namespace lantian::cluster
