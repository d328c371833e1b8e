#pragma once
// The hand-over from ingest to evaluation: what a session passes on once a batch of frames is
// durable and answered. Ingest knows only this interface, not who evaluates.

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/message.hpp"
#include "protocol/signature.hpp"

namespace lantian::evaluation {

// A stored frame, decoded once by the session that received it.
struct StoredFrame {
  std::string key;  // its archive key (storage::frame_key)
  protocol::DecodedFrame decoded;
  protocol::SignatureCheck signature = protocol::SignatureCheck::not_signed;
  bool rejected = false;  // refused under the reject policy: only its signature failure counts
  std::int64_t receive_unix_ms = 0;
};

class StoredFrameSink {
 public:
  virtual ~StoredFrameSink() = default;
  // `frames` of `vin` are durable (called from any thread, in the order they were stored for one
  // connection). Must not block for long: the caller is an I/O thread.
  virtual void submit(const protocol::Vin& vin, std::vector<StoredFrame> frames) = 0;
};

}  // namespace lantian::evaluation
