#include "cluster/owner_requests.hpp"

#include <nats/nats.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "cluster/partitions.hpp"

namespace lantian::cluster {
namespace {

constexpr std::size_t max_queued = 256;  // requests waiting for a thread; beyond: refused
constexpr std::size_t header_size = 12;

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}
std::uint32_t get_u32(std::string_view in, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in[at + i]);
  return v;
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::uint32_t random_id() {
  std::uint32_t id = 0;
  while (id == 0)
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&id), sizeof id) != 1) id = 1;
  return id;
}

// An answer of count 0: the owner could not answer, the payload says why.
std::string refusal(std::uint32_t responder, std::string_view why) {
  std::string out;
  put_u32(out, responder);
  put_u32(out, 0);
  put_u32(out, 0);
  out.append(why);
  return out;
}

}  // namespace

OwnerRequests::OwnerRequests(NatsLink& link, const Ownership* ownership, Handler handler,
                             int threads)
    : link_(link),
      ownership_(ownership),
      handler_(std::move(handler)),
      threads_(threads < 1 ? 1 : threads),
      responder_id_(random_id()) {}

OwnerRequests::~OwnerRequests() { stop(); }

void OwnerRequests::start() {
  if (!ownership_) return;  // owns nothing: only asks
  subscriptions_ = std::thread([this] { subscriptions_loop(); });
  for (int i = 0; i < threads_; ++i) servers_.emplace_back([this] { serve_loop(); });
}

void OwnerRequests::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_.exchange(true)) return;
  }
  wake_.notify_all();
  work_.notify_all();
  if (subscriptions_.joinable()) subscriptions_.join();
  for (auto& t : servers_) t.join();
  servers_.clear();
  std::lock_guard lock(mutex_);
  for (auto* m : queue_) natsMsg_Destroy(m);
  queue_.clear();
}

std::vector<std::string> OwnerRequests::chunks(std::uint32_t responder, const std::string& answer) {
  const auto count = static_cast<std::uint32_t>(std::max<std::size_t>(
      1, (answer.size() + max_chunk - 1) / max_chunk));
  std::vector<std::string> out;
  out.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string chunk;
    put_u32(chunk, responder);
    put_u32(chunk, i);
    put_u32(chunk, count);
    const auto from = std::size_t{i} * max_chunk;
    if (from < answer.size()) chunk.append(answer, from, max_chunk);
    out.push_back(std::move(chunk));
  }
  return out;
}

bool OwnerRequests::add_chunk(Assembly& a, std::string_view chunk, std::string& error) {
  if (chunk.size() < header_size) {
    error = "an answer chunk shorter than its header";
    return false;
  }
  const auto responder = get_u32(chunk, 0), index = get_u32(chunk, 4), count = get_u32(chunk, 8);
  if (a.responder != 0 && responder != a.responder) return true;  // a second owner: ignored
  if (count == 0) {
    error = std::string(chunk.substr(header_size));
    return false;
  }
  if (index >= count || (a.count != 0 && count != a.count)) {
    error = "an answer chunk out of its sequence";
    return false;
  }
  a.responder = responder;
  a.count = count;
  a.parts[index] = std::string(chunk.substr(header_size));
  return true;
}

std::string OwnerRequests::Assembly::joined() const {
  std::string out;
  for (const auto& [index, part] : parts) out += part;
  return out;
}

OwnerRequests::Answer OwnerRequests::ask(std::string_view vin, const std::string& request) {
  Answer answer;
  const auto& options = link_.options();
  const unsigned partition = partition_of(vin, options.partitions);
  if (ownership_ && ownership_->owns(partition)) {
    answer.here = true;
    return answer;
  }
  natsConnection* conn = link_.connection();
  if (!conn || !link_.connected()) {
    answer.error = "the cluster's brokers cannot be reached";
    return answer;
  }
  natsInbox* inbox = nullptr;
  natsSubscription* sub = nullptr;
  if (natsInbox_Create(&inbox) != NATS_OK ||
      natsConnection_SubscribeSync(&sub, conn, inbox) != NATS_OK) {
    natsInbox_Destroy(inbox);
    answer.error = "cannot ask the cluster: " + NatsLink::last_error(NATS_ERR);
    return answer;
  }
  natsSubscription_SetPendingLimits(sub, -1, 512 << 20);
  const auto subject = partition_subject(options.api_subject_prefix, partition);
  const auto deadline = std::chrono::steady_clock::now() + options.api_timeout;
  Assembly assembly;
  // The request leads with when the asker gives up (Unix ms): an owner never carries out one
  // whose answer nobody waits for (a review the asker reported as failed).
  std::string message;
  const auto expires = static_cast<std::uint64_t>(unix_ms_now() + options.api_timeout.count());
  put_u32(message, static_cast<std::uint32_t>(expires >> 32));
  put_u32(message, static_cast<std::uint32_t>(expires));
  message += request;
  if (natsConnection_PublishRequest(conn, subject.c_str(), inbox, message.data(),
                                    static_cast<int>(message.size())) != NATS_OK) {
    answer.error = "cannot ask the cluster: " + NatsLink::last_error(NATS_ERR);
  } else {
    while (!assembly.complete()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      natsMsg* msg = nullptr;
      const natsStatus s = left <= 0 ? NATS_TIMEOUT : natsSubscription_NextMsg(&msg, sub, left);
      // libnats reports it as the status (3.4), or as a status message (older releases).
      if (s == NATS_NO_RESPONDERS || (s == NATS_OK && natsMsg_IsNoResponders(msg))) {
        if (msg) natsMsg_Destroy(msg);
        answer.error = "no processor owns partition " + std::to_string(partition) +
                       " now (a handover in progress); try again in a few seconds";
        break;
      }
      if (s == NATS_TIMEOUT) {
        answer.error = "the owner of partition " + std::to_string(partition) +
                       " did not answer within " + std::to_string(options.api_timeout.count()) +
                       " ms";
        break;
      }
      if (s != NATS_OK) {
        answer.error = "the answer of partition " + std::to_string(partition) +
                       "'s owner was lost: " + NatsLink::last_error(s);
        break;
      }
      const bool ok = add_chunk(assembly,
                                std::string_view(natsMsg_GetData(msg),
                                                 static_cast<std::size_t>(natsMsg_GetDataLength(msg))),
                                answer.error);
      natsMsg_Destroy(msg);
      if (!ok) break;
    }
  }
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  natsInbox_Destroy(inbox);
  if (answer.error.empty()) answer.bytes = assembly.joined();
  return answer;
}

// --- answering -----------------------------------------------------------------------------------

void OwnerRequests::on_request(natsConnection*, natsSubscription*, natsMsg* msg, void* self) {
  auto& me = *static_cast<OwnerRequests*>(self);
  {
    std::lock_guard lock(me.mutex_);
    if (!me.stopping_ && me.queue_.size() < max_queued) {
      me.queue_.push_back(msg);
      me.work_.notify_one();
      return;
    }
  }
  if (const char* reply = natsMsg_GetReply(msg)) {
    const auto busy = refusal(me.responder_id_, "the partition's owner is too busy; try again");
    natsConnection_Publish(me.link_.connection(), reply, busy.data(),
                           static_cast<int>(busy.size()));
  }
  natsMsg_Destroy(msg);
}

void OwnerRequests::serve_loop() {
  pthread_setname_np(pthread_self(), "lt-owner-api");
  for (;;) {
    natsMsg* msg = nullptr;
    {
      std::unique_lock lock(mutex_);
      work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      msg = queue_.front();
      queue_.pop_front();
    }
    const char* reply = natsMsg_GetReply(msg);
    const std::string_view data(natsMsg_GetData(msg),
                                static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
    const auto expires = data.size() >= 8 ? (std::uint64_t{get_u32(data, 0)} << 32) | get_u32(data, 4)
                                          : std::uint64_t{0};
    if (expires <= static_cast<std::uint64_t>(unix_ms_now())) {
      // Waited here past the asker's deadline (or not a request of ours): not carried out.
      ++expired_;
    } else if (reply && *reply) {
      const std::string request(data.substr(8));
      for (const auto& chunk : chunks(responder_id_, handler_(request)))
        if (natsConnection_Publish(link_.connection(), reply, chunk.data(),
                                   static_cast<int>(chunk.size())) != NATS_OK)
          break;  // the asker times out
    }
    natsMsg_Destroy(msg);
  }
}

void OwnerRequests::subscriptions_loop() {
  pthread_setname_np(pthread_self(), "lt-owner-subs");
  const auto& options = link_.options();
  while (!stopping_) {
    for (unsigned p = 0; p < options.partitions; ++p) {
      const bool owns = ownership_->owns(p);
      const auto found = subscribed_.find(p);
      if (owns && found == subscribed_.end()) {
        natsSubscription* sub = nullptr;
        const auto subject = partition_subject(options.api_subject_prefix, p);
        // A queue group: while ownership moves two nodes may both subscribe, and only one of
        // them gets each request (a review is carried out once).
        if (natsConnection_QueueSubscribe(&sub, link_.connection(), subject.c_str(),
                                          "lantian-owners", &OwnerRequests::on_request,
                                          this) == NATS_OK)
          subscribed_.emplace(p, sub);
      } else if (!owns && found != subscribed_.end()) {
        natsSubscription_Unsubscribe(found->second);
        natsSubscription_Destroy(found->second);
        subscribed_.erase(found);
      }
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(250), [this] { return stopping_.load(); });
  }
  for (auto& [p, sub] : subscribed_) {
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
  }
  subscribed_.clear();
}

}  // namespace lantian::cluster
