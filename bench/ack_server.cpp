// ack_server: the least a durable terminal server must do — the reference of performance target P1
// (docs/performance.md). Per thread: one epoll loop, TLS with OpenSSL on non-blocking sockets, the
// project's framer, every frame appended to a file, one write + fdatasync per loop round (group
// commit), then the same replies lantiand sends to an hj1239 terminal (same-command replies to login,
// reports, logout and removal alarms; the time-sync reply). No decoding beyond the header, no
// sessions, no rules, no RocksDB.
//
//   ack_server PORT CERT KEY DIR [THREADS]
//       prints "listening PORT" once bound; THREADS (default 1) loops share the port with
//       SO_REUSEPORT, each with its own file DIR/frames-N.bin. Serves until killed.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "protocol/beijing_time.hpp"
#include "protocol/decode.hpp"
#include "protocol/encode.hpp"
#include "protocol/framer.hpp"

namespace {
using namespace lantian::protocol;

struct Connection {
  int fd = -1;
  SSL* ssl = nullptr;
  bool handshaken = false;
  Framer framer;
  std::vector<std::uint8_t> replies;  // answers to frames of this round, sent after the sync
  ~Connection() {
    if (ssl) SSL_free(ssl);
    if (fd >= 0) ::close(fd);
  }
};

int listen_on(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 4096) != 0) {
    std::perror("ack_server: bind/listen");
    std::exit(1);
  }
  return fd;
}

std::uint16_t bound_port(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

Bytes reply_for(ByteView frame) {
  const auto header = decode_header(frame);
  if (!header) return {};
  const auto now = BeijingTime::from_unix_seconds(
      std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  switch (header->command) {
    case command::login:
    case command::realtime:
    case command::resend:
    case command::logout:
    case command::hj_removal_alarm:
      return make_same_command_reply(*header, now);
    case command::time_sync:
      return make_time_sync_reply(*header, now);
    default:
      return {};
  }
}

void serve(int listener, SSL_CTX* tls, const std::string& path) {
  const int file = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0644);
  if (file < 0) {
    std::perror("ack_server: open");
    std::exit(1);
  }
  const int epoll = ::epoll_create1(0);
  epoll_event listen_event{EPOLLIN, {.fd = listener}};
  ::epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &listen_event);
  std::unordered_map<int, std::unique_ptr<Connection>> connections;
  std::vector<std::uint8_t> log;        // this round's frames, written and synced together
  std::vector<Connection*> answering;   // connections with replies waiting for the sync
  std::vector<epoll_event> events(1024);
  auto drop = [&](Connection* c) {
    ::epoll_ctl(epoll, EPOLL_CTL_DEL, c->fd, nullptr);
    connections.erase(c->fd);
  };
  for (;;) {
    const int n = ::epoll_wait(epoll, events.data(), static_cast<int>(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      if (fd == listener) {
        for (;;) {
          const int client = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
          if (client < 0) break;
          const int one = 1;
          ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          auto c = std::make_unique<Connection>();
          c->fd = client;
          c->ssl = SSL_new(tls);
          SSL_set_fd(c->ssl, client);
          SSL_set_accept_state(c->ssl);
          epoll_event e{EPOLLIN, {.fd = client}};
          ::epoll_ctl(epoll, EPOLL_CTL_ADD, client, &e);
          connections[client] = std::move(c);
        }
        continue;
      }
      const auto it = connections.find(fd);
      if (it == connections.end()) continue;
      Connection* c = it->second.get();
      if (!c->handshaken) {
        const int r = SSL_do_handshake(c->ssl);
        if (r == 1) {
          c->handshaken = true;
        } else {
          const int e = SSL_get_error(c->ssl, r);
          if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) drop(c);
          continue;
        }
      }
      bool closed = false;
      const bool had_replies = !c->replies.empty();
      for (;;) {
        const auto region = c->framer.prepare();
        const int r = SSL_read(c->ssl, region.data(), static_cast<int>(region.size()));
        if (r <= 0) {
          const int e = SSL_get_error(c->ssl, r);
          closed = e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
          break;
        }
        c->framer.commit(static_cast<std::size_t>(r));
        for (auto event = c->framer.next(); event.kind != FramerEvent::Kind::need_more;
             event = c->framer.next()) {
          if (event.kind != FramerEvent::Kind::frame) continue;
          log.insert(log.end(), event.frame.begin(), event.frame.end());
          const auto reply = reply_for(event.frame);
          c->replies.insert(c->replies.end(), reply.begin(), reply.end());
        }
      }
      if (closed && c->replies.empty()) {
        drop(c);
        continue;
      }
      if (!had_replies && !c->replies.empty()) answering.push_back(c);
    }
    if (log.empty()) continue;
    // Group commit: every frame of this round is durable before any of them is answered.
    for (std::size_t at = 0; at < log.size();) {
      const auto w = ::write(file, log.data() + at, log.size() - at);
      if (w <= 0) {
        std::perror("ack_server: write");
        std::exit(1);
      }
      at += static_cast<std::size_t>(w);
    }
    if (::fdatasync(file) != 0) {
      std::perror("ack_server: fdatasync");
      std::exit(1);
    }
    log.clear();
    for (Connection* c : answering) {
      // Replies are small: a blocking-free write either takes them whole or the peer is gone.
      if (SSL_write(c->ssl, c->replies.data(), static_cast<int>(c->replies.size())) <= 0) {
        drop(c);
        continue;
      }
      c->replies.clear();
    }
    answering.clear();
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) {
    std::cerr << "usage: ack_server PORT CERT KEY DIR [THREADS]\n";
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  SSL_CTX* tls = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_min_proto_version(tls, TLS1_2_VERSION);
  SSL_CTX_set_mode(tls, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(tls, argv[2]) != 1 ||
      SSL_CTX_use_PrivateKey_file(tls, argv[3], SSL_FILETYPE_PEM) != 1) {
    ERR_print_errors_fp(stderr);
    return 1;
  }
  const int threads = argc == 6 ? std::max(1, std::atoi(argv[5])) : 1;
  std::vector<int> listeners{listen_on(static_cast<std::uint16_t>(std::atoi(argv[1])))};
  const auto port = bound_port(listeners[0]);
  for (int i = 1; i < threads; ++i) listeners.push_back(listen_on(port));
  std::cout << "listening " << port << std::endl;
  std::vector<std::thread> loops;
  for (int i = 0; i < threads; ++i)
    loops.emplace_back(serve, listeners[static_cast<std::size_t>(i)], tls,
                       std::string(argv[4]) + "/frames-" + std::to_string(i) + ".bin");
  for (auto& t : loops) t.join();
}
