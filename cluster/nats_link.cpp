#include "cluster/nats_link.hpp"

#include <nats/nats.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>
#include <vector>

namespace lantian::cluster {
namespace {

std::int64_t nanoseconds(std::chrono::nanoseconds d) { return d.count(); }


}  // namespace

NatsLink::NatsLink(ClusterOptions options) : options_(std::move(options)) {}

NatsLink::~NatsLink() { stop(); }

std::string NatsLink::last_error(int status) {
  const char* detail = nats_GetLastError(nullptr);
  std::string out = natsStatus_GetText(static_cast<natsStatus>(status));
  if (detail && *detail && out != detail) out += std::string(": ") + detail;
  return out;
}

bool NatsLink::start(std::function<void(__natsMsg*, const PublishAnswer&)> on_publish_answer,
                     std::string& error) {
  on_publish_answer_ = std::move(on_publish_answer);
  natsOptions* opts = nullptr;
  if (natsOptions_Create(&opts) != NATS_OK) {
    error = "cluster: cannot create client options";
    return false;
  }
  std::vector<const char*> servers;
  for (const auto& s : options_.servers) servers.push_back(s.c_str());
  const std::string name = "lantiand/" + options_.node;
  natsStatus s = natsOptions_SetServers(opts, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK) s = natsOptions_SetName(opts, name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, 2000);  // per broker tried
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);  // for ever
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 250);
  if (s == NATS_OK) s = natsOptions_SetReconnectJitter(opts, 100, 1000);
  // A broker that stops answering is given up after 2 missed pings 1 s apart, not the default
  // 2 minutes: publishes meanwhile fail and terminals wait, rather than the log being silently
  // unreachable.
  if (s == NATS_OK) s = natsOptions_SetPingInterval(opts, 1000);
  if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(opts, 2);
  // While it reconnects, publishes wait in a small buffer (1 MiB, not the default 8 MiB): past it
  // they fail at once and those frames are not answered. A buffered one is answered only if
  // JetStream acknowledges it within the publish timeout after the reconnect.
  if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(opts, 1 << 20);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts, &NatsLink::disconnected, this);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts, &NatsLink::reconnected, this);
  if (s == NATS_OK) s = natsConnection_Connect(&connection_, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    error = "cluster: cannot connect to " + options_.servers.front() +
            (options_.servers.size() > 1 ? " or the other brokers" : "") + ": " + last_error(s);
    connection_ = nullptr;
    return false;
  }
  connected_ = true;
  jsOptions js_opts;
  jsOptions_Init(&js_opts);
  js_opts.Wait = 5000;
  js_opts.PublishAsync.MaxPending = static_cast<int64_t>(options_.max_pending) + 1;
  js_opts.PublishAsync.AckHandler = &NatsLink::publish_answered;
  js_opts.PublishAsync.AckHandlerClosure = this;
  s = natsConnection_JetStream(&jetstream_, connection_, &js_opts);
  if (s != NATS_OK) {
    error = "cluster: no JetStream context: " + last_error(s);
    return false;
  }
  // A broker that has just (re)started, or a stream electing a leader, leaves JetStream's requests
  // unanswered for a few seconds: the checks are tried again for up to 30 s before giving up.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    error.clear();
    if (ensure_stream(error) && ensure_violation_stream(error) && ensure_members_bucket(error))
      break;
    if (configuration_conflict_ || std::chrono::steady_clock::now() > deadline) return false;
    spdlog::warn("event=cluster_not_ready node={} error=\"{}\": trying again", options_.node,
                 error);
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  char url[256] = {0};
  natsConnection_GetConnectedUrl(connection_, url, sizeof url);
  spdlog::info("event=cluster_connected node={} broker={} stream={} partitions={} replicas={}",
               options_.node, url, options_.stream, options_.partitions, options_.replicas);
  return true;
}

bool NatsLink::ensure_stream(std::string& error) {
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, jetstream_, options_.stream.c_str(), nullptr, &code);
  if (s == NATS_OK) {
    const auto& c = *info->Config;
    const std::string wanted = options_.subject_prefix + ".*";
    const bool subjects_match = c.SubjectsLen == 1 && wanted == c.Subjects[0];
    const auto replicas = c.Replicas;
    jsStreamInfo_Destroy(info);
    if (!subjects_match) {
      configuration_conflict_ = true;  // waiting will not change it
      error = "cluster: stream " + options_.stream + " exists with other subjects than " + wanted;
      return false;
    }
    if (replicas != options_.replicas)
      spdlog::warn("event=cluster_stream_replicas stream={} replicas={} configured={}: the "
                   "stream keeps its own; change it with the nats tool",
                   options_.stream, replicas, options_.replicas);
    return true;
  }
  if (code != JSStreamNotFoundErr && s != NATS_NOT_FOUND) {
    error = "cluster: cannot read stream " + options_.stream + ": " + last_error(s);
    return false;
  }
  const std::string subject = options_.subject_prefix + ".*";
  const char* subjects[] = {subject.c_str()};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = options_.stream.c_str();
  cfg.Description = "lantian: every frame terminals sent, by vehicle partition";
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Retention = js_LimitsPolicy;
  cfg.Replicas = options_.replicas;
  cfg.MaxAge = nanoseconds(options_.retention);
  cfg.Duplicates = nanoseconds(options_.duplicate_window);
  // A full stream refuses new frames (they are then not answered) rather than dropping old ones
  // no processor may have read yet.
  cfg.Discard = js_DiscardNew;
  cfg.DenyDelete = true;
  cfg.DenyPurge = true;
  s = js_AddStream(&info, jetstream_, &cfg, nullptr, &code);
  if (s != NATS_OK) {
    error = "cluster: cannot create stream " + options_.stream + " (replicas " +
            std::to_string(options_.replicas) + "): " + last_error(s);
    return false;
  }
  jsStreamInfo_Destroy(info);
  spdlog::info("event=cluster_stream_created stream={} subjects={} replicas={}", options_.stream,
               subject, options_.replicas);
  return true;
}

bool NatsLink::ensure_violation_stream(std::string& error) {
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const auto& name = options_.violation_stream;
  natsStatus s = js_GetStreamInfo(&info, jetstream_, name.c_str(), nullptr, &code);
  if (s == NATS_OK) {
    const auto& c = *info->Config;
    const bool subjects_match = c.SubjectsLen == 1 && options_.violation_subject == c.Subjects[0];
    jsStreamInfo_Destroy(info);
    if (subjects_match) return true;
    configuration_conflict_ = true;
    error = "cluster: stream " + name + " exists with other subjects than " +
            options_.violation_subject;
    return false;
  }
  if (code != JSStreamNotFoundErr && s != NATS_NOT_FOUND) {
    error = "cluster: cannot read stream " + name + ": " + last_error(s);
    return false;
  }
  const char* subjects[] = {options_.violation_subject.c_str()};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name.c_str();
  cfg.Description = "lantian: every change of a violation, by the node that made it";
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Retention = js_LimitsPolicy;  // no limit set: the whole history stays
  cfg.Replicas = options_.replicas;
  cfg.Duplicates = nanoseconds(options_.duplicate_window);
  cfg.DenyDelete = true;
  cfg.DenyPurge = true;
  s = js_AddStream(&info, jetstream_, &cfg, nullptr, &code);
  if (s != NATS_OK) {
    // Another node may have made it at the same moment.
    if (js_GetStreamInfo(&info, jetstream_, name.c_str(), nullptr, &code) == NATS_OK) {
      jsStreamInfo_Destroy(info);
      return true;
    }
    error = "cluster: cannot create stream " + name + ": " + last_error(s);
    return false;
  }
  jsStreamInfo_Destroy(info);
  spdlog::info("event=cluster_stream_created stream={} subjects={} replicas={}", name,
               options_.violation_subject, options_.replicas);
  return true;
}

bool NatsLink::ensure_bucket(const char* name, const char* description,
                             std::chrono::milliseconds ttl, bool in_memory, __kvStore*& bucket,
                             std::string& error) {
  natsStatus s = js_KeyValue(&bucket, jetstream_, name);
  if (s == NATS_OK) return true;
  kvConfig cfg;
  kvConfig_Init(&cfg);
  cfg.Bucket = name;
  cfg.Description = description;
  cfg.History = 1;
  cfg.TTL = nanoseconds(ttl);
  cfg.Replicas = options_.replicas;
  cfg.StorageType = in_memory ? js_MemoryStorage : js_FileStorage;
  s = js_CreateKeyValue(&bucket, jetstream_, &cfg);
  if (s != NATS_OK) {
    // Another node may have made it at the same moment.
    if (js_KeyValue(&bucket, jetstream_, name) == NATS_OK) return true;
    error = std::string("cluster: cannot create the bucket ") + name + ": " + last_error(s);
    return false;
  }
  return true;
}

bool NatsLink::ensure_members_bucket(std::string& error) {
  return ensure_bucket(members_bucket, "lantian processors alive: one key per node, renewed every heartbeat",
                       options_.lease, true, members_, error) &&
         ensure_bucket(terminal_keys_bucket,
                       "lantian: SM2 keys terminals registered by activation, by VIN (first wins)",
                       std::chrono::milliseconds(0), false, terminal_keys_, error);
}

void NatsLink::stop() {
  closing_ = true;
  on_connection_change(nullptr);  // closing on purpose is no outage to report
  for (auto** bucket : {&members_, &terminal_keys_})
    if (*bucket) {
      kvStore_Destroy(*bucket);
      *bucket = nullptr;
    }
  if (jetstream_) {
    jsPubOptions opts;
    jsPubOptions_Init(&opts);
    opts.MaxWait = 2000;
    js_PublishAsyncComplete(jetstream_, &opts);
    jsCtx_Destroy(jetstream_);
    jetstream_ = nullptr;
  }
  if (connection_) {
    natsConnection_Close(connection_);
    natsConnection_Destroy(connection_);
    connection_ = nullptr;
  }
  tell(false);
}

natsSubscription* NatsLink::subscribe_ordered(const std::string& stream, const std::string& subject,
                                             std::uint64_t after, int pending_messages,
                                             std::string& error) {
  jsSubOptions sub_opts;
  jsSubOptions_Init(&sub_opts);
  sub_opts.Stream = stream.c_str();
  sub_opts.Ordered = true;
  if (after > 0) {
    sub_opts.Config.DeliverPolicy = js_DeliverByStartSequence;
    sub_opts.Config.OptStartSeq = after + 1;
  } else {
    sub_opts.Config.DeliverPolicy = js_DeliverAll;
  }
  natsSubscription* sub = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s =
      js_SubscribeSync(&sub, jetstream_, subject.c_str(), nullptr, &sub_opts, &code);
  if (s != NATS_OK) {
    error = last_error(s);
    return nullptr;
  }
  // Flow control keeps the broker from sending more than the client holds.
  natsSubscription_SetPendingLimits(sub, pending_messages, 256 << 20);
  return sub;
}

void NatsLink::on_connection_change(std::function<void(bool)> listener) {
  std::lock_guard lock(listener_mutex_);
  listener_ = std::move(listener);
}

std::string NatsLink::connected_url() const {
  if (!connection_ || !connected_) return {};
  char url[256] = {0};
  if (natsConnection_GetConnectedUrl(connection_, url, sizeof url) != NATS_OK) return {};
  return url;
}

void NatsLink::tell(bool connected) {
  if (connected_.exchange(connected) == connected) return;
  std::lock_guard lock(listener_mutex_);
  if (listener_) listener_(connected);
}

void NatsLink::disconnected(natsConnection*, void* self) {
  auto& link = *static_cast<NatsLink*>(self);
  if (link.closing_) return;
  spdlog::warn("event=cluster_disconnected node={}: reports are not answered until a broker "
               "takes them",
               link.options_.node);
  link.tell(false);
}

void NatsLink::reconnected(natsConnection* nc, void* self) {
  auto& link = *static_cast<NatsLink*>(self);
  char url[256] = {0};
  natsConnection_GetConnectedUrl(nc, url, sizeof url);
  spdlog::info("event=cluster_reconnected node={} broker={}", link.options_.node, url);
  link.tell(true);
}

void NatsLink::publish_answered(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr* error,
                                void* self) {
  auto& link = *static_cast<NatsLink*>(self);
  PublishAnswer answer;
  if (ack) {
    answer.acknowledged = true;
    answer.duplicate = ack->Duplicate;
    answer.sequence = ack->Sequence;
  } else if (error) {
    answer.error = natsStatus_GetText(error->Err);
    if (error->ErrText && *error->ErrText) answer.error += std::string(": ") + error->ErrText;
  } else {
    answer.error = "no answer";
  }
  if (link.on_publish_answer_) link.on_publish_answer_(msg, answer);
  natsMsg_Destroy(msg);
}

}  // namespace lantian::cluster
