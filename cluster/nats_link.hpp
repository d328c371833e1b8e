#pragma once
// One node's connection to the NATS brokers and its JetStream context (the C client, libnats):
// connecting to any of the configured brokers and reconnecting for ever, the frame stream, the
// violation stream, the membership bucket and the terminal-key bucket made (or checked) at start, availability told to a listener.
//
// Thread-safety: every method may be called from any thread; the listener and the publish
// handler run on the client library's threads and must not block.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "cluster/cluster_options.hpp"

struct __natsConnection;
struct __jsCtx;
struct __kvStore;
struct __natsMsg;
struct __natsSubscription;
struct jsPubAck;
struct jsPubAckErr;

namespace lantian::cluster {

// A JetStream answer to one asynchronous publish: acknowledged (with `duplicate` when the message
// id was seen within the window), or an error (`error` says which; the message is not stored).
struct PublishAnswer {
  bool acknowledged = false;
  bool duplicate = false;
  std::uint64_t sequence = 0;
  std::string error;
};

class NatsLink {
 public:
  explicit NatsLink(ClusterOptions options);
  ~NatsLink();
  NatsLink(const NatsLink&) = delete;
  NatsLink& operator=(const NatsLink&) = delete;

  // Connects to the brokers (any of them; then reconnecting for ever, to any), makes the frame
  // stream and the membership bucket when they do not exist, and checks them when they do. False
  // with `error` set when no broker answers within a few seconds or JetStream refuses.
  // `on_publish_answer` receives every asynchronous publish's answer (set before, never changed).
  bool start(std::function<void(__natsMsg* msg, const PublishAnswer&)> on_publish_answer,
             std::string& error);
  // Drains and closes the connection (publishes in flight are answered first, up to a timeout).
  void stop();

  [[nodiscard]] const ClusterOptions& options() const noexcept { return options_; }
  // Connected to a broker now.
  [[nodiscard]] bool connected() const noexcept { return connected_.load(); }
  // Called whenever connected() changes; nullptr stops the calls.
  void on_connection_change(std::function<void(bool connected)> listener);
  // The broker connected to now ("nats://…"), empty when disconnected.
  [[nodiscard]] std::string connected_url() const;

  __natsConnection* connection() noexcept { return connection_; }
  __jsCtx* jetstream() noexcept { return jetstream_; }
  __kvStore* members() noexcept { return members_; }
  __kvStore* terminal_keys() noexcept { return terminal_keys_; }

  // An ordered consumer of `subject` in `stream` from the message after `after` (0: from the
  // first): ephemeral, in order, without acknowledgements; the client library makes it again from
  // the last message it delivered when a broker or the consumer's leader changes, so the position
  // that survives the node is the caller's own. Up to `pending_messages` wait in the client.
  // nullptr with `error` set when JetStream refused.
  __natsSubscription* subscribe_ordered(const std::string& stream, const std::string& subject,
                                        std::uint64_t after, int pending_messages,
                                        std::string& error);

  // The text of the client library's last error on this thread, for log lines.
  [[nodiscard]] static std::string last_error(int status);

 private:
  static void publish_answered(__jsCtx*, __natsMsg* msg, jsPubAck* ack, jsPubAckErr* error,
                               void* self);
  static void disconnected(__natsConnection*, void* self);
  static void reconnected(__natsConnection*, void* self);
  void tell(bool connected);
  bool ensure_stream(std::string& error);
  bool ensure_violation_stream(std::string& error);
  // The membership bucket and the terminal-key bucket.
  bool ensure_members_bucket(std::string& error);
  bool ensure_bucket(const char* name, const char* description, std::chrono::milliseconds ttl,
                     bool in_memory, __kvStore*& bucket, std::string& error);

  ClusterOptions options_;
  std::function<void(__natsMsg*, const PublishAnswer&)> on_publish_answer_;
  __natsConnection* connection_ = nullptr;
  __jsCtx* jetstream_ = nullptr;
  __kvStore* members_ = nullptr;
  __kvStore* terminal_keys_ = nullptr;
  std::atomic<bool> connected_{false};
  std::atomic<bool> closing_{false};  // stop() began: a disconnection is no outage
  bool configuration_conflict_ = false;  // a stream exists with other subjects
  std::mutex listener_mutex_;
  std::function<void(bool)> listener_;
};

// The membership bucket's name (a JetStream key-value bucket, replicated like the stream).
inline constexpr const char* members_bucket = "lantian_processors";
// The keys terminals registered by activation, shared by every ingest node (file storage, kept).
inline constexpr const char* terminal_keys_bucket = "lantian_terminal_keys";

}  // namespace lantian::cluster
