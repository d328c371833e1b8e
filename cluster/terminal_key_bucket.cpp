#include "cluster/terminal_key_bucket.hpp"

#include <nats/nats.h>

#include <algorithm>
#include <cctype>

namespace lantian::cluster {
namespace {

// A bucket key is a subject token: a VIN of letters and digits is one as it is.
bool usable_key(const std::string& vin) {
  return !vin.empty() && std::all_of(vin.begin(), vin.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0;
  });
}

}  // namespace

std::optional<std::string> TerminalKeyBucket::find(const std::string& vin, bool& reachable) {
  reachable = true;
  if (!usable_key(vin)) return std::nullopt;  // no terminal can have activated under it
  kvStore* bucket = link_.terminal_keys();
  if (!bucket || !link_.connected()) {
    reachable = false;
    return std::nullopt;
  }
  kvEntry* entry = nullptr;
  const natsStatus s = kvStore_Get(&entry, bucket, vin.c_str());
  if (s == NATS_NOT_FOUND) return std::nullopt;
  if (s != NATS_OK) {
    reachable = false;
    return std::nullopt;
  }
  std::string value(static_cast<const char*>(kvEntry_Value(entry)),
                    static_cast<std::size_t>(kvEntry_ValueLen(entry)));
  kvEntry_Destroy(entry);
  return value;
}

bool TerminalKeyBucket::add_first(const std::string& vin, const std::string& record,
                                  std::optional<std::string>& existing, std::string& error) {
  existing.reset();
  if (!usable_key(vin)) {
    error = "the VIN is not a key the cluster can share";
    return false;
  }
  kvStore* bucket = link_.terminal_keys();
  if (!bucket || !link_.connected()) {
    error = "the cluster's brokers cannot be reached";
    return false;
  }
  const natsStatus s = kvStore_Create(nullptr, bucket, vin.c_str(), record.data(),
                                      static_cast<int>(record.size()));
  if (s == NATS_OK) return true;
  // Refused: most likely there is a record already (another node's activation won).
  bool reachable = true;
  existing = find(vin, reachable);
  if (!existing) error = "the cluster's key bucket refused the key: " + NatsLink::last_error(s);
  return false;
}

}  // namespace lantian::cluster
