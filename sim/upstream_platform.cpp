#include "sim/upstream_platform.hpp"

#include <sys/resource.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <iostream>
#include <unordered_set>

#include "protocol/beijing_time.hpp"
#include "protocol/decode.hpp"
#include "protocol/encode.hpp"
#include "protocol/framer.hpp"
#include "protocol/platform_link.hpp"

namespace lantian::sim {
namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;

namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

struct Upstream {
  const UpstreamOptions& options;
  UpstreamCounts counts;
  std::unordered_set<std::string> seen;  // VIN + data unit of every report received
  std::uint64_t answered_before_stall = 0;
  bool stalled_once = false;
};

protocol::BeijingTime now_beijing() {
  return protocol::BeijingTime::from_unix_seconds(
      std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
}

template <class Stream>
awaitable<void> serve_link(Stream& stream, Upstream& up) {
  protocol::Framer framer;
  bool logged_in = false;
  for (;;) {
    protocol::Bytes answers;
    for (auto e = framer.next(); e.kind != protocol::FramerEvent::Kind::need_more; e = framer.next()) {
      if (e.kind != protocol::FramerEvent::Kind::frame) continue;
      const auto header = protocol::decode_header(e.frame);
      if (!header) continue;
      std::uint8_t ack = protocol::ack_flag::success;
      if (!logged_in) {
        const auto login = protocol::parse_platform_login(e.frame);
        const bool accepted = login && protocol::is_platform_request(e.frame, 0x05) &&
                              (!up.options.user || (login->user == *up.options.user &&
                                                    login->password == up.options.password));
        ++(accepted ? up.counts.logins : up.counts.logins_refused);
        const auto reply = protocol::make_platform_ack(
            *header, accepted ? protocol::ack_flag::success : protocol::ack_flag::error,
            now_beijing());
        co_await asio::async_write(stream, asio::buffer(reply), nothrow);
        if (!accepted) co_return;
        logged_in = true;
        continue;
      }
      if (protocol::is_platform_request(e.frame, 0x06)) {
        const auto reply = protocol::make_platform_ack(*header, ack, now_beijing());
        answers.insert(answers.end(), reply.begin(), reply.end());
        co_await asio::async_write(stream, asio::buffer(answers), nothrow);
        co_return;
      }
      ++up.counts.reports;
      const std::string identity(e.frame.begin() + 4, e.frame.end() - 1);
      if (up.seen.insert(identity).second)
        ++up.counts.distinct;
      else
        ++up.counts.repeated;
      if (up.options.refuse_every && up.counts.reports % up.options.refuse_every == 0) {
        ack = protocol::ack_flag::error;
        ++up.counts.refused;
      }
      const auto reply = protocol::make_platform_ack(*header, ack, now_beijing());
      answers.insert(answers.end(), reply.begin(), reply.end());
    }
    if (!answers.empty()) {
      if (up.options.stall_after && !up.stalled_once &&
          up.counts.reports >= up.options.stall_after) {
        // A stall: the answers of this read wait (the link's reply deadline may drop it).
        up.stalled_once = true;
        asio::steady_timer stall(co_await asio::this_coro::executor, up.options.stall_for);
        co_await stall.async_wait(nothrow);
      }
      auto [ec, n] = co_await asio::async_write(stream, asio::buffer(answers), nothrow);
      if (ec) co_return;
    }
    auto region = framer.prepare();
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(region.data(), region.size()), nothrow);
    if (ec) co_return;
    framer.commit(n);
  }
}

awaitable<void> accept_links(tcp::acceptor& acceptor, asio::ssl::context* tls, Upstream& up) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(nothrow);
    if (ec) co_return;
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(
        acceptor.get_executor(),
        [s = std::move(socket), tls, &up]() mutable -> awaitable<void> {
          if (!tls) {
            co_await serve_link(s, up);
            co_return;
          }
          asio::ssl::stream<tcp::socket> stream(std::move(s), *tls);
          auto [hs] = co_await stream.async_handshake(asio::ssl::stream_base::server, nothrow);
          if (!hs) co_await serve_link(stream, up);
        },
        asio::detached);
  }
}

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

}  // namespace

UpstreamCounts run_upstream_platform(const UpstreamOptions& options) {
  asio::io_context io(1);
  std::unique_ptr<asio::ssl::context> tls;
  if (options.tls) {
    tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    tls->use_certificate_chain_file(options.tls_cert.string());
    tls->use_private_key_file(options.tls_key.string(), asio::ssl::context::pem);
  }
  tcp::acceptor acceptor(io, {asio::ip::make_address(options.host), options.port});
  std::cout << "listening port=" << acceptor.local_endpoint().port() << std::endl;
  Upstream up{options, {}, {}, 0, false};
  const double cpu0 = process_cpu_seconds();
  asio::co_spawn(io, accept_links(acceptor, tls.get(), up), asio::detached);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
  asio::steady_timer end(io);
  if (options.duration.count() > 0) {
    end.expires_after(std::chrono::duration_cast<std::chrono::milliseconds>(options.duration));
    end.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) io.stop();
    });
  }
  io.run();
  up.counts.cpu_seconds = process_cpu_seconds() - cpu0;
  const auto& c = up.counts;
  const std::string json = "{\"logins\":" + std::to_string(c.logins) +
                           ",\"logins_refused\":" + std::to_string(c.logins_refused) +
                           ",\"reports\":" + std::to_string(c.reports) +
                           ",\"distinct\":" + std::to_string(c.distinct) +
                           ",\"repeated\":" + std::to_string(c.repeated) +
                           ",\"refused\":" + std::to_string(c.refused) +
                           ",\"cpu_seconds\":" + std::to_string(c.cpu_seconds) + "}";
  std::cout << json << std::endl;
  if (!options.json_out.empty()) std::ofstream(options.json_out) << json << '\n';
  return c;
}

}  // namespace lantian::sim
