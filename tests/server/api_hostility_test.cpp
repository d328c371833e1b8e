// The HTTPS API against hostile clients: malformed and oversized requests, path traversal on the
// console's files, header injection, misused tokens. Each test asserts the exact answer (status,
// error code) or that the server closed the connection without answering, that nothing leaked, and
// that the server still serves a normal request afterwards.
//
// Requests that ApiClient cannot send (raw header lines, a lying Content-Length, an odd
// Authorization scheme) go through raw_exchange: bytes written as given over TLS, the answer parsed
// with a deadline so that a hang fails the test instead of blocking it.
//
// The last tests pin four defects these cases found (a 500 for a mistyped audit cursor, error
// bodies that were not JSON, requests hidden from the audit log, a non-UTF-8 CSV emptying registry
// records); notes in each say what the server did before.

#include <gtest/gtest.h>

#include <algorithm>

#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <vector>

#include "api_client.hpp"
#include "rule_frames.hpp"
#include "server/api/audit_log.hpp"
#include "server/api/tokens.hpp"
#include "server/clock.hpp"
#include "server_fixture.hpp"

namespace lantian::server {
namespace {
using namespace testing;
using namespace testing::frames;
using verb = boost::beast::http::verb;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace json = boost::json;
namespace fs = std::filesystem;
using asio::ip::tcp;

constexpr const char* cn3_truck = "LZZJ5ACA5AF110265";       // 豫A… 郑州
constexpr const char* luoyang_loader = "NRCNCZVY6RRDY6AGJ";  // registration code 4110… 许昌
constexpr std::size_t max_body = 256 * 1024;
constexpr const char* canary_text = "CANARY-outside-the-web-root";

// What came back for raw bytes: the answer's header fields in the order and spelling sent, or no
// answer and whether the server ended the connection (rather than leaving it hanging).
struct RawAnswer {
  unsigned status = 0;  // 0: no HTTP answer
  std::vector<std::pair<std::string, std::string>> fields;
  std::string body;
  bool closed = false;  // without an answer: the server closed the connection before the deadline
  [[nodiscard]] std::vector<std::string> field_names() const {
    std::vector<std::string> names;
    for (const auto& [name, value] : fields) names.push_back(name);
    return names;
  }
  [[nodiscard]] json::value json() const {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    EXPECT_FALSE(ec) << "not JSON: " << body.substr(0, 300);
    return v;
  }
};

// Sends `request` as it is over TLS and reads one answer (or the end of the connection) within
// `deadline`. The write and the read run together: a server that refuses a request early may stop
// reading it. `from`: the client's address (any loopback address, to play another client).
RawAnswer raw_exchange(std::uint16_t port, const std::string& request,
                       std::chrono::milliseconds deadline = std::chrono::seconds(10),
                       const char* from = "127.0.0.1") {
  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);  // the test certificate is self-made
  asio::ssl::stream<tcp::socket> stream(io, ctx);
  RawAnswer answer;
  boost::system::error_code ec;
  stream.next_layer().open(tcp::v4(), ec);
  if (!ec) stream.next_layer().bind(tcp::endpoint(asio::ip::make_address(from), 0), ec);
  if (!ec)
    stream.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) {
    ADD_FAILURE() << "cannot connect: " << ec.message();
    return answer;
  }
  const auto until = std::chrono::steady_clock::now() + deadline;
  auto run_until_done = [&](const bool& done) {
    io.restart();
    while (!done && std::chrono::steady_clock::now() < until) io.run_one_until(until);
    return done;
  };
  bool handshaken = false;
  stream.async_handshake(asio::ssl::stream_base::client,
                         [&](auto e) { ec = e, handshaken = true; });
  if (!run_until_done(handshaken) || ec) {
    ADD_FAILURE() << "no TLS handshake: " << ec.message();
    return answer;
  }
  bool written = false, read = false;
  boost::system::error_code read_error;
  asio::async_write(stream, asio::buffer(request), [&](auto, std::size_t) { written = true; });
  beast::flat_buffer buffer;
  beast::http::response_parser<beast::http::string_body> parser;
  parser.body_limit(16 << 20);
  beast::http::async_read(stream, buffer, parser, [&](auto e, std::size_t) {
    read_error = e;
    read = true;
  });
  if (!run_until_done(read)) {
    stream.next_layer().close(ec);  // a hang: answer.closed stays false
    io.restart();
    io.run();
    return answer;
  }
  if (read_error) {
    answer.closed = true;  // end of stream, truncation or reset: no answer, but no hang either
    return answer;
  }
  const auto& res = parser.get();
  answer.status = res.result_int();
  for (const auto& field : res)
    answer.fields.emplace_back(std::string(field.name_string()), std::string(field.value()));
  answer.body = res.body();
  stream.next_layer().close(ec);
  io.restart();
  io.run();
  return answer;
}

// The fields of every JSON answer, in order (ApiServer::session sets them).
const std::vector<std::string> json_answer_fields = {
    "Server",          "Content-Type",         "Cache-Control",
    "X-Content-Type-Options", "Strict-Transport-Security", "Content-Security-Policy",
    "Referrer-Policy", "X-Frame-Options",      "Connection",
    "Content-Length"};

class ApiHostilityTest : public ::testing::Test {
 protected:
  ApiHostilityTest() {
    import_samples(dir_.path());
    // A console directory with a canary beside it (and in a sibling whose name starts like the
    // root's), and a link inside the root that points at the canary.
    web_root_ = dir_.path() / "web";
    fs::create_directories(web_root_ / "sub");
    fs::create_directories(dir_.path() / "web-private");
    write(web_root_ / "index.html", "<html>console</html>");
    write(web_root_ / "sub" / "file.txt", "inside");
    canary_ = dir_.path() / "canary.txt";
    write(canary_, canary_text);
    write(dir_.path() / "web-private" / "secret.txt", canary_text);
    fs::create_symlink(canary_, web_root_ / "link.txt");

    auto config = test_config(dir_.path(), {"tcp://127.0.0.1:0?profile=gb17691"});
    config.api.enabled = true;
    config.api.max_body_bytes = max_body;
    config.api.rate_per_second = 1000;
    config.api.burst = 1000;
    config.api.web_root = web_root_;
    server_ = std::make_unique<RunningServer>(config);
    client_ = std::make_unique<ApiClient>(server_->api_port());
    police_ = token(api::Role::police);
    reviewer_ = token(api::Role::reviewer);
    operator_ = token(api::Role::operator_);
    admin_ = token(api::Role::admin);
  }

  static void write(const fs::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
  }

  std::string token(api::Role role, std::set<std::string> cities = {},
                    std::optional<std::int64_t> expires_unix_ms = std::nullopt) {
    return create_token(server_->store(), role, std::move(cities), {}, expires_unix_ms);
  }

  // Black smoke at a roadside check (R05) of a machine registered in 许昌.
  void post_smoke(const std::string& id) {
    const auto r = client_->post(
        "/api/v1/observations", operator_,
        R"({"id":")" + id + R"(","kind":"smoke","vin":")" + luoyang_loader +
            R"(","time":"2026-04-02T10:00:00+08:00","lon":114.30,"lat":34.80,"ringelmann":3})");
    ASSERT_EQ(r.status, 201u) << r.body;
  }

  // A GET with the given Authorization field (none when empty), sent raw.
  RawAnswer get_with_authorization(const std::string& target, const std::string& authorization) {
    return raw_exchange(
        server_->api_port(),
        "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
            (authorization.empty() ? "" : "Authorization: " + authorization + "\r\n") +
            "Connection: close\r\n\r\n");
  }

  // The server still answers an ordinary request.
  void expect_still_serving() {
    const auto me = client_->get("/api/v1/me", police_);
    EXPECT_EQ(me.status, 200u) << me.body;
  }

  std::size_t token_count() {
    return client_->get("/api/v1/tokens", admin_).json().at("items").as_array().size();
  }

  TempDir dir_;
  fs::path web_root_, canary_;
  std::unique_ptr<RunningServer> server_;
  std::unique_ptr<ApiClient> client_;
  std::string police_, reviewer_, operator_, admin_;
};

std::string code_of(const HttpResult& r) {
  return std::string(r.json().at("error").at("code").as_string());
}
std::string message_of(const HttpResult& r) {
  return std::string(r.json().at("error").at("message").as_string());
}
std::string parameter_of(const HttpResult& r) {
  const auto v = r.json();
  const auto* p = v.at("error").as_object().if_contains("parameter");
  return p ? std::string(p->as_string()) : std::string("(none)");
}

// --- malformed JSON ---------------------------------------------------------------------------

TEST_F(ApiHostilityTest, MalformedJsonBodiesAreRefusedWithBadJson) {
  const auto tokens_before = token_count();
  struct Case {
    std::string name, body, message;
  };
  const std::vector<Case> cases{
      {"truncated", R"({"role":"police","cities":["郑)", "the body is not valid JSON: "},
      {"nested 100000 deep", std::string(100000, '['), "the body is not valid JSON: "},
      {"invalid UTF-8", "{\"role\":\"police\",\"label\":\"\xff\xfe\xc3\"}",
       "the body is not valid JSON: "},
      {"overlong UTF-8 slash", "{\"role\":\"police\",\"label\":\"\xc0\xaf\"}",
       "the body is not valid JSON: "},
      {"trailing garbage", R"({"role":"police"} x)", "the body is not valid JSON: "},
      {"two documents", R"({"role":"police"}{"role":"admin"})", "the body is not valid JSON: "},
      {"empty", "", "the body is not valid JSON: "},
      {"an array, not an object", R"([{"role":"admin"}])", "expected an object"},
      {"a string, not an object", R"("admin")", "expected an object"},
  };
  for (const auto& c : cases) {
    const auto r = client_->post("/api/v1/tokens", admin_, c.body);
    EXPECT_EQ(r.status, 400u) << c.name << ": " << r.body;
    EXPECT_EQ(code_of(r), "bad_json") << c.name;
    EXPECT_TRUE(message_of(r).starts_with(c.message)) << c.name << ": " << message_of(r);
  }
  // The other JSON routes answer the same way.
  const auto nested = client_->post("/api/v1/observations", operator_, std::string(100000, '['));
  EXPECT_EQ(nested.status, 400u);
  EXPECT_EQ(code_of(nested), "bad_json");
  const auto put = client_->request(verb::put, std::string("/api/v1/vehicles/") + cn3_truck,
                                    operator_, R"(["plate"])");
  EXPECT_EQ(put.status, 400u);
  EXPECT_EQ(message_of(put), "expected an object");
  EXPECT_EQ(token_count(), tokens_before);  // nothing was created
  expect_still_serving();
}

TEST_F(ApiHostilityTest, WrongTypesInJsonFieldsNameTheField) {
  const auto tokens_before = token_count();
  struct Case {
    std::string body, parameter;
  };
  const std::vector<Case> cases{
      {R"({"role":1})", "role"},
      {R"({"role":["admin"]})", "role"},
      {R"({"role":"police","cities":"郑州"})", "cities"},
      {R"({"role":"police","cities":[1]})", "cities"},
      {R"({"role":"police","cities":[""]})", "cities"},
      {R"({"role":"police","zones":{"id":"x"}})", "zones"},
      {R"({"role":"police","expires_days":"30"})", "expires_days"},
      {R"({"role":"police","expires_days":1.5})", "expires_days"},
      {R"({"role":"police","expires_days":1e300})", "expires_days"},
      {R"({"role":"police","expires_days":-1})", "expires_days"},
      {R"({"role":"police","expires_days":99999999999999999999})", "expires_days"},
  };
  for (const auto& c : cases) {
    const auto r = client_->post("/api/v1/tokens", admin_, c.body);
    EXPECT_EQ(r.status, 400u) << c.body << ": " << r.body;
    EXPECT_EQ(code_of(r), "bad_parameter") << c.body;
    EXPECT_EQ(parameter_of(r), c.parameter) << c.body;
  }
  EXPECT_EQ(token_count(), tokens_before);

  // A review with a decision or comment of the wrong type.
  post_smoke("check-1");
  const std::string review =
      std::string("/api/v1/violations/R05%7C") + luoyang_loader + "%7Ccheck-1/review";
  const auto decision =
      client_->post(review, reviewer_, R"({"decision":["confirmed"],"comment":"x"})");
  EXPECT_EQ(decision.status, 400u);
  EXPECT_EQ(parameter_of(decision), "decision");
  const auto comment = client_->post(review, reviewer_, R"({"decision":"confirmed","comment":42})");
  EXPECT_EQ(comment.status, 400u);
  EXPECT_EQ(parameter_of(comment), "comment");
  // Observations of the wrong shape are listed as rejected, not stored.
  const auto observations = client_->post("/api/v1/observations", operator_,
                                          R"([{"id":1,"kind":"smoke"},{"id":"x","kind":7},42])");
  ASSERT_EQ(observations.status, 200u) << observations.body;
  EXPECT_EQ(observations.json().at("added").as_int64(), 0);
  EXPECT_EQ(observations.json().at("rejected").as_array().size(), 3u);
  expect_still_serving();
}

// --- sizes -------------------------------------------------------------------------------------

// Before: unknown fields were dropped without a word (an "expire_days" made a token that never
// expires) and a label of any size or content was kept.
TEST_F(ApiHostilityTest, UnknownBodyFieldsAndOversizedLabelsAreRefusedNamingTheField) {
  const auto tokens_before = token_count();
  struct Case {
    std::string body, parameter, message;
  };
  const std::vector<Case> cases{
      {R"({"role":"police","expire_days":3})", "expire_days", "expire_days: unknown field"},
      {R"({"role":"police","label":")" + std::string(201, 'x') + R"("})", "label",
       "label: longer than 200 bytes"},
      {R"({"role":"police","label":"a\nb"})", "label", "label: holds a control character"},
      {R"({"role":"police","cities":[")" + std::string(65, 'c') + R"("]})", "cities",
       "cities: longer than 64 bytes"},
  };
  for (const auto& c : cases) {
    const auto r = client_->post("/api/v1/tokens", admin_, c.body);
    EXPECT_EQ(r.status, 400u) << c.body;
    EXPECT_EQ(parameter_of(r), c.parameter);
    EXPECT_EQ(message_of(r), c.message);
  }
  EXPECT_EQ(token_count(), tokens_before);
  EXPECT_EQ(client_->post("/api/v1/tokens", admin_, R"({"role":"police","label":")" +
                                                        std::string(200, 'x') + R"("})")
                .status,
            201u);

  const auto put = client_->request(verb::put, std::string("/api/v1/vehicles/") + cn3_truck,
                                    operator_, R"({"category":"N3","stage":"CN6b"})");
  EXPECT_EQ(put.status, 400u);
  EXPECT_EQ(message_of(put), "stage: unknown field");
  // A plate filter is normalised like a stored plate, and refused naming the character.
  const auto formula = client_->get("/api/v1/violations?plate=%3DHYPERLINK(1)", police_);
  EXPECT_EQ(formula.status, 400u);
  EXPECT_EQ(message_of(formula),
            "plate: the plate holds the character U+003D ('='); a plate is letters, digits and "
            "Chinese characters");
  const auto full_width =
      client_->get("/api/v1/violations?plate=%E8%B1%AB%EF%BC%A187590", police_);  // 豫Ａ87590
  EXPECT_EQ(full_width.status, 200u) << full_width.body;
}

TEST_F(ApiHostilityTest, ABodyOverTheLimitIs413) {
  const auto huge =
      client_->post("/api/v1/observations", operator_, std::string(max_body + 1, ' '));
  EXPECT_EQ(huge.status, 413u);
  EXPECT_EQ(code_of(huge), "too_large");
  EXPECT_EQ(message_of(huge), "the request body is larger than 262144 bytes");
  EXPECT_EQ(huge.headers.at("connection"), "close");
  // Exactly the limit is read (and judged as JSON).
  const auto at_limit =
      client_->post("/api/v1/observations", operator_, std::string(max_body, ' '));
  EXPECT_EQ(at_limit.status, 400u);
  EXPECT_EQ(code_of(at_limit), "bad_json");
  expect_still_serving();
}

TEST_F(ApiHostilityTest, AContentLengthOverTheLimitIsRefusedBeforeTheBodyArrives) {
  // 10 GiB announced, 2 bytes sent: the answer comes at once, without waiting for the rest.
  const auto started = std::chrono::steady_clock::now();
  const auto r = raw_exchange(server_->api_port(),
                              "POST /api/v1/observations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Authorization: Bearer " +
                                  operator_ +
                                  "\r\nContent-Type: application/json\r\n"
                                  "Content-Length: 10737418240\r\n\r\n[]");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  EXPECT_EQ(r.status, 413u);
  EXPECT_EQ(r.json().at("error").at("code").as_string(), "too_large");
  EXPECT_EQ(r.field_names(), json_answer_fields);
  expect_still_serving();
}

TEST_F(ApiHostilityTest, AChunkedBodyGrowingPastTheLimitIs413) {
  std::string request =
      "POST /api/v1/observations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Authorization: Bearer " +
      operator_ + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(64 * 1024, ' ');
  for (int i = 0; i < 5; ++i) request += "10000\r\n" + chunk + "\r\n";  // 320 KiB in all
  request += "0\r\n\r\n";
  const auto r = raw_exchange(server_->api_port(), request);
  EXPECT_EQ(r.status, 413u);
  EXPECT_EQ(r.json().at("error").at("code").as_string(), "too_large");
  expect_still_serving();
}

TEST_F(ApiHostilityTest, ContentLengthsThatAreNotNumbersCloseTheConnection) {
  for (const std::string length : {"-1", "99999999999999999999999", "12abc", "1, 2"}) {
    const auto r = raw_exchange(server_->api_port(),
                                "POST /api/v1/observations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                "Authorization: Bearer " +
                                    operator_ + "\r\nContent-Length: " + length + "\r\n\r\n[]");
    EXPECT_EQ(r.status, 0u) << length;
    EXPECT_TRUE(r.closed) << length;
  }
  expect_still_serving();
}

TEST_F(ApiHostilityTest, AHugeHeaderClosesTheConnectionWithoutAnAnswer) {
  // A 64 KiB cookie: past the 16 KiB header limit, the server drops the connection.
  const auto r =
      raw_exchange(server_->api_port(),
                   "GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                       police_ + "\r\nCookie: c=" + std::string(64 * 1024, 'x') + "\r\n\r\n");
  EXPECT_EQ(r.status, 0u);
  EXPECT_TRUE(r.closed);
  // Many small header fields adding up past the limit: the same.
  std::string many = "GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 0; i < 2000; ++i) many += "X-F" + std::to_string(i) + ": vvvvvvvvvv\r\n";
  const auto r2 = raw_exchange(server_->api_port(), many + "\r\n");
  EXPECT_EQ(r2.status, 0u);
  EXPECT_TRUE(r2.closed);
  expect_still_serving();
}

// --- path traversal ------------------------------------------------------------------------------

TEST_F(ApiHostilityTest, PathTraversalNeverLeavesTheWebRoot) {
  // The control: files inside the root are served.
  EXPECT_EQ(client_->get("/index.html").body, "<html>console</html>");
  EXPECT_EQ(client_->get("/").body, "<html>console</html>");
  EXPECT_EQ(client_->get("/sub/file.txt").body, "inside");
  EXPECT_EQ(client_->get("/sub/./file.txt").body, "inside");

  const std::string canary_abs = canary_.string();  // /tmp/lantian-server-…/canary.txt
  std::string canary_encoded;
  for (char c : canary_abs) canary_encoded += c == '/' ? std::string("%2f") : std::string(1, c);
  struct Case {
    std::string target;
    unsigned status;
    std::string code;
  };
  const std::vector<Case> cases{
      {"/../canary.txt", 404, "not_found"},
      {"/sub/../../canary.txt", 404, "not_found"},
      {"/../../../../../../etc/passwd", 404, "not_found"},
      {"/%2e%2e/canary.txt", 404, "not_found"},
      {"/%2E%2E/%2e%2e/etc/passwd", 404, "not_found"},
      {"/%2e%2e%2fcanary.txt", 404, "not_found"},  // one segment "../canary.txt"
      {"/sub%2f..%2f..%2fcanary.txt", 404, "not_found"},
      {"/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", 404, "not_found"},
      {"/%252e%252e%252fcanary.txt", 404, "not_found"},  // decoded once: a literal "%2e…" name
      {"/..%5ccanary.txt", 404, "not_found"},            // a backslash is no separator here
      {"/%5c..%5c..%5cetc%5cpasswd", 404, "not_found"},
      {"/..\\canary.txt", 400, "bad_target"},  // a raw backslash is not a valid path character
      {"/index.html%00", 404, "not_found"},
      {"/%00/../canary.txt", 404, "not_found"},
      {"/index.html%00.txt", 404, "not_found"},
      {"/%2fetc%2fpasswd", 404, "not_found"},    // an absolute path in one segment
      {"/" + canary_encoded, 404, "not_found"},  // the canary's own absolute path
      {"/" + canary_abs, 404, "not_found"},      // "//tmp/…": an empty first segment
      {"//etc/passwd", 404, "not_found"},
      {"/../web-private/secret.txt", 404, "not_found"},  // a sibling named like the root
      {"/%2e%2e%2fweb-private%2fsecret.txt", 404, "not_found"},
      {"/link.txt", 404, "not_found"},  // a link inside the root that points outside
      {"/" + std::string(5000, 'a'), 404, "not_found"},
      {"/" + std::string(1000, 'a') + "/../../canary.txt", 404, "not_found"},
      {"/api/%2e%2e/canary.txt", 404, "not_found"},
      {"/api/v1/../../canary.txt", 401, "unauthorized"},  // /api/v1/… needs a token first
  };
  for (const auto& c : cases) {
    const auto r = client_->get(c.target);
    EXPECT_EQ(r.status, c.status) << c.target << ": " << r.body.substr(0, 200);
    if (r.status == c.status) {
      EXPECT_EQ(code_of(r), c.code) << c.target;
    }
    EXPECT_EQ(r.body.find(canary_text), std::string::npos) << c.target;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << c.target;
  }
  // With a token, the API's own paths do not reach files either.
  const auto api_traversal = client_->get("/api/v1/../../canary.txt", police_);
  EXPECT_EQ(api_traversal.status, 404u);
  EXPECT_EQ(code_of(api_traversal), "not_found");
  // A target past the 16 KiB header limit is dropped without an answer.
  const auto long_target =
      raw_exchange(server_->api_port(),
                   "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_EQ(long_target.status, 0u);
  EXPECT_TRUE(long_target.closed);
  expect_still_serving();
}

TEST(ApiHostilityEmbedded, PathTraversalFindsNoFileOfTheMachine) {
  // Without --api-web-root only the compiled-in files exist.
  TempDir dir;
  auto config = test_config(dir.path(), {"tcp://127.0.0.1:0"});
  config.api.enabled = true;
  RunningServer server(config);
  ApiClient client(server.api_port());
  EXPECT_EQ(client.get("/index.html").status, 200u);  // the control
  for (const std::string target :
       {"/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/%2fetc%2fpasswd", "//etc/passwd", "/%252e%252e%252fetc%252fpasswd",
        "/..%5c..%5cetc%5cpasswd", "/etc/passwd%00.html", "/index.html%00"}) {
    const auto r = client.get(target);
    EXPECT_EQ(r.status, 404u) << target;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << target;
  }
}

// --- header injection ----------------------------------------------------------------------------

TEST_F(ApiHostilityTest, EncodedCrLfInTheTargetNeverBecomesAHeader) {
  struct Case {
    std::string target;
    unsigned status;
    std::string code;
  };
  const std::string inject = "%0d%0aSet-Cookie:%20evil=1%0d%0aX-Injected:%20yes";
  const std::vector<Case> cases{
      {"/api/v1/violations?rule=R01" + inject, 400, "bad_parameter"},
      {"/api/v1/violations?x" + inject + "=1", 400, "bad_parameter"},
      {"/api/v1/violations?vin=" + inject, 400, "bad_parameter"},
      {"/api/v1/nothing" + inject, 404, "not_found"},
      {"/api/v1/violations/R01" + inject, 404, "not_found"},
      {"/index.html" + inject, 404, "not_found"},
      {"/api/v1/violations.csv?city=" + inject, 200, ""},  // a filter that matches nothing
  };
  for (const auto& c : cases) {
    const auto r = raw_exchange(server_->api_port(), "GET " + c.target +
                                                         " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                                         "Authorization: Bearer " +
                                                         police_ + "\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(r.status, c.status) << c.target << ": " << r.body;
    if (c.code.empty()) {
      EXPECT_EQ(r.field_names(),
                (std::vector<std::string>{"Server", "Content-Type", "Cache-Control",
                                          "X-Content-Type-Options", "Strict-Transport-Security",
                                          "Content-Security-Policy", "Referrer-Policy",
                                          "X-Frame-Options", "Content-Disposition", "Connection",
                                          "Content-Length"}))
          << c.target;
    } else {
      EXPECT_EQ(r.field_names(), json_answer_fields) << c.target;
      EXPECT_EQ(r.json().at("error").at("code").as_string(), c.code) << c.target;
    }
    for (const auto& [name, value] : r.fields)
      EXPECT_EQ(value.find_first_of("\r\n"), std::string::npos) << c.target << " " << name;
  }
}

TEST_F(ApiHostilityTest, RawCrOrLfInsideAHeaderLineIsRefused) {
  // Each is a request whose head is broken by a stray CR or LF: the server must not read the
  // rest as another field (or another request), and answers nothing.
  const std::string auth = "Authorization: Bearer " + police_ + "\r\n";
  const std::vector<std::string> requests{
      "GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\rSet-Cookie: evil=1\r\n" + auth +
          "\r\n",
      "GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\r\r\n" + auth + "\r\n",
      "GET /api/v1/me\r\nX-A: b HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth + "\r\n",
      "GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nX A: a\r\n" + auth + "\r\n",
      "GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: \x01\x7f\r\n" + auth + "\r\n",
  };
  for (const auto& request : requests) {
    const auto r = raw_exchange(server_->api_port(), request);
    EXPECT_EQ(r.status, 0u) << json::serialize(json::value(request)) << " → " << r.body;
    EXPECT_TRUE(r.closed) << json::serialize(json::value(request));
  }
  // A line starting with a space continues the field before it (obsolete line folding, RFC 9112
  // §5.2): Beast joins it to that field with a space, so it never becomes a field of its own.
  const auto folded = raw_exchange(server_->api_port(),
                                   "GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\n "
                                   "Authorization: Bearer " +
                                       police_ + "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(folded.status, 401u);
  EXPECT_EQ(folded.json().at("error").at("message").as_string(), "a bearer token is required");
  expect_still_serving();
}

// --- tokens --------------------------------------------------------------------------------------

TEST_F(ApiHostilityTest, AWrongRoleIs403Forbidden) {
  struct Case {
    std::string role_token, who;
    verb method;
    std::string target, body;
  };
  const std::vector<Case> cases{
      {police_, "police", verb::post, "/api/v1/tokens", R"({"role":"admin"})"},
      {police_, "police", verb::get, "/api/v1/audit", ""},
      {reviewer_, "reviewer", verb::delete_, "/api/v1/tokens/000000000000", ""},
      {operator_, "operator", verb::get, "/api/v1/violations", ""},
      {admin_, "admin", verb::get, "/api/v1/violations", ""},
      {admin_, "admin", verb::post, "/api/v1/observations", "[]"},
  };
  for (const auto& c : cases) {
    const auto r = client_->request(c.method, c.target, c.role_token, c.body);
    EXPECT_EQ(r.status, 403u) << c.who << " " << c.target;
    EXPECT_EQ(code_of(r), "forbidden") << c.who << " " << c.target;
    EXPECT_EQ(message_of(r), "the role '" + c.who + "' may not do this");
  }
  EXPECT_EQ(token_count(), 4u);  // the police's try created nothing
}

TEST_F(ApiHostilityTest, AnotherCitysRecordsAreNotFoundAndNothingLeaks) {
  post_smoke("check-1");  // a violation of a vehicle registered in 许昌
  const auto zhengzhou = token(api::Role::reviewer, {"郑州"});
  const auto xuchang = token(api::Role::reviewer, {"许昌"});
  const std::string id = std::string("R05|") + luoyang_loader + "|check-1";
  const std::string escaped = std::string("R05%7C") + luoyang_loader + "%7Ccheck-1";
  ASSERT_EQ(client_->get("/api/v1/violations/" + escaped, xuchang).status, 200u);  // the control

  // The same answer as for a violation that does not exist: existence is not revealed.
  const auto other = client_->get("/api/v1/violations/" + escaped, zhengzhou);
  EXPECT_EQ(other.status, 404u);
  EXPECT_EQ(other.body,
            R"({"error":{"code":"not_found","message":"violation )" + id + R"( not found"}})");
  const auto review = client_->post("/api/v1/violations/" + escaped + "/review", zhengzhou,
                                    R"({"decision":"dismissed","comment":"not mine"})");
  EXPECT_EQ(review.status, 404u);
  EXPECT_EQ(code_of(review), "not_found");
  EXPECT_EQ(client_->get("/api/v1/violations/" + escaped, xuchang)
                .json()
                .at("violation")
                .at("status")
                .as_string(),
            "open");  // the refused review changed nothing
  const auto vehicle = client_->get(std::string("/api/v1/vehicles/") + luoyang_loader, zhengzhou);
  EXPECT_EQ(vehicle.status, 404u);
  EXPECT_EQ(vehicle.body, R"({"error":{"code":"not_found","message":"vehicle )" +
                              std::string(luoyang_loader) + R"( not found"}})");
  const auto frames = client_->get(
      std::string("/api/v1/vehicles/") + cn3_truck + "/frames?from=2026-03-01&to=2026-03-02",
      xuchang);
  EXPECT_EQ(frames.status, 404u);
  // Filters naming the other city or vehicle find nothing rather than widening the jurisdiction.
  for (const auto& target : {std::string("/api/v1/violations?city=%E8%AE%B8%E6%98%8C"),  // 许昌
                             std::string("/api/v1/violations?vin=") + luoyang_loader,
                             std::string("/api/v1/violations?rule=R05&include_withdrawn=true")}) {
    const auto r = client_->get(target, zhengzhou);
    ASSERT_EQ(r.status, 200u) << target << ": " << r.body;
    EXPECT_EQ(r.json().at("items").as_array().size(), 0u) << target;
    EXPECT_EQ(r.body.find(luoyang_loader), std::string::npos) << target;
  }
  const auto search = client_->get("/api/v1/vehicles?q=NRCN", zhengzhou);
  EXPECT_EQ(search.json().at("items").as_array().size(), 0u);
  const auto csv = client_->get("/api/v1/violations.csv", zhengzhou);
  EXPECT_EQ(csv.body.find(luoyang_loader), std::string::npos);
  const auto online = client_->get(
      "/api/v1/stats/online?from=2026-04-01&to=2026-04-02&city=%E8%AE%B8%E6%98%8C", zhengzhou);
  EXPECT_EQ(online.json().at("vehicles").as_array().size(), 0u);
}

TEST_F(ApiHostilityTest, ARevokedTokenReplayedIs401) {
  const auto created = client_->post("/api/v1/tokens", admin_, R"({"role":"police"})");
  ASSERT_EQ(created.status, 201u) << created.body;
  const std::string secret(created.json().at("token").as_string());
  const std::string id(created.json().at("record").at("id").as_string());
  ASSERT_EQ(client_->get("/api/v1/violations", secret).status, 200u);
  ASSERT_EQ(client_->request(verb::delete_, "/api/v1/tokens/" + id, admin_).status, 204u);
  for (const auto* target : {"/api/v1/me", "/api/v1/violations", "/api/v1/violations/feed"}) {
    const auto r = client_->get(target, secret);
    EXPECT_EQ(r.status, 401u) << target;
    EXPECT_EQ(code_of(r), "unauthorized");
    EXPECT_EQ(message_of(r), "the token was revoked");
    EXPECT_EQ(r.headers.at("www-authenticate"), "Bearer realm=\"lantian\"");
  }
  // Revoking again changes nothing; the token stays revoked.
  EXPECT_EQ(client_->request(verb::delete_, "/api/v1/tokens/" + id, admin_).status, 204u);
  EXPECT_EQ(client_->get("/api/v1/me", secret).status, 401u);
}

TEST_F(ApiHostilityTest, AnExpiredTokenIs401) {
  const auto expired = token(api::Role::admin, {}, 1000);
  const auto r = client_->get("/api/v1/tokens", expired);
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(code_of(r), "unauthorized");
  EXPECT_EQ(message_of(r), "the token has expired");
  // A token is checked on every request: one that expires while in use stops working then.
  const auto soon = token(api::Role::police, {}, now_unix_ms() + 300);
  EXPECT_EQ(client_->get("/api/v1/me", soon).status, 200u);
  EXPECT_TRUE(eventually([&] { return client_->get("/api/v1/me", soon).status == 401u; },
                         std::chrono::seconds(3)));
  EXPECT_EQ(message_of(client_->get("/api/v1/me", soon)), "the token has expired");
}

TEST_F(ApiHostilityTest, ATokenOnlyCountsInTheAuthorizationHeader) {
  for (const auto& target : {"/api/v1/me?access_token=" + police_, "/api/v1/me?token=" + police_,
                             "/api/v1/me?authorization=Bearer%20" + police_}) {
    const auto r = client_->get(target);
    EXPECT_EQ(r.status, 401u) << target;
    EXPECT_EQ(code_of(r), "unauthorized");
    EXPECT_EQ(message_of(r), "a bearer token is required");
  }
  // In a cookie, or in another header, neither.
  const auto cookie =
      raw_exchange(server_->api_port(),
                   "GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: token=" + police_ +
                       "\r\nX-Api-Key: " + police_ + "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(cookie.status, 401u);
}

// A token refused in the query is still a secret: the audit log keeps the request, not the token.
// Two Authorization headers are refused (which one a proxy would use is ambiguous).
TEST_F(ApiHostilityTest, SecretsInTheTargetAreRedactedAndTwoAuthorizationHeadersRefused) {
  EXPECT_EQ(client_->get("/api/v1/me?access_token=" + police_ + "&m=1").status, 401u);
  const auto audit = client_->get("/api/v1/audit?limit=1000", admin_);
  ASSERT_EQ(audit.status, 200u) << audit.body;
  EXPECT_EQ(audit.body.find(police_), std::string::npos);
  bool found = false;
  const auto log = audit.json();
  for (const auto& e : log.at("items").as_array())
    found = found || e.at("target").as_string() == "/api/v1/me?access_token=REDACTED&m=1";
  EXPECT_TRUE(found);
  const auto twice = raw_exchange(server_->api_port(),
                                  "GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
                                  "Bearer " + police_ + "\r\nAuthorization: Bearer " + police_ +
                                      "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(twice.status, 401u);
}

TEST(CsvCells, AFormulaIsExportedAsTextAndQuotingFollowsRfc4180) {
  EXPECT_EQ(api::csv_cell("豫A87590"), "豫A87590");
  EXPECT_EQ(api::csv_cell("=HYPERLINK(\"http://x\",\"豫A1\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"豫A1\"\")\"");
  EXPECT_EQ(api::csv_cell("+1"), "\"'+1\"");
  EXPECT_EQ(api::csv_cell("-1+2"), "\"'-1+2\"");
  EXPECT_EQ(api::csv_cell("@SUM(A1)"), "\"'@SUM(A1)\"");
  EXPECT_EQ(api::csv_cell("a,b"), "\"a,b\"");
  EXPECT_EQ(api::csv_cell(""), "");
}

// Every answer carries the browser defences: HTTPS only, no framing, no foreign script, no
// Referer.
TEST_F(ApiHostilityTest, EveryAnswerCarriesTheSecurityHeaders) {
  for (const auto& r : {client_->get("/api/v1/me", police_), client_->get("/"),
                        client_->get("/api/v1/nothing", police_)}) {
    EXPECT_EQ(r.headers.at("strict-transport-security"), "max-age=31536000");
    EXPECT_NE(r.headers.at("content-security-policy").find("frame-ancestors 'none'"),
              std::string::npos);
    EXPECT_EQ(r.headers.at("referrer-policy"), "no-referrer");
    EXPECT_EQ(r.headers.at("x-content-type-options"), "nosniff");
  }
}

TEST_F(ApiHostilityTest, TheBearerSchemeIsCaseInsensitiveAndTheTokenExact) {
  struct Case {
    std::string authorization;
    unsigned status;
    std::string message;  // of a 401
  };
  const std::vector<Case> cases{
      {"Bearer " + police_, 200, ""},
      {"bearer " + police_, 200, ""},  // RFC 7235: the scheme is case-insensitive
      {"BEARER " + police_, 200, ""},
      {"", 401, "a bearer token is required"},
      {"Bearer", 401, "a bearer token is required"},
      {"Bearer ", 401, "a bearer token is required"},
      {"Bearer     ", 401, "a bearer token is required"},
      {"Basic " + police_, 401, "a bearer token is required"},
      {"Token " + police_, 401, "a bearer token is required"},
      {police_, 401, "a bearer token is required"},
      {"Bearer  " + police_, 401, "unknown token"},  // the token is exact: no extra space
      {"Bearer " + police_ + "x", 401, "unknown token"},
      {"Bearer " + police_.substr(0, 40), 401, "unknown token"},
      {"Bearer " + api::sha256_hex(police_), 401, "unknown token"},  // the stored hash is no key
      {"Bearer " + std::string(257, 'a'), 401, "unknown token"},
      {"Bearer " + std::string(12000, 'a'), 401, "unknown token"},  // long, within the header limit
  };
  for (const auto& c : cases) {
    const auto r = get_with_authorization("/api/v1/me", c.authorization);
    EXPECT_EQ(r.status, c.status) << c.authorization.substr(0, 80);
    if (c.status == 401u) {
      EXPECT_EQ(r.json().at("error").at("code").as_string(), "unauthorized");
      EXPECT_EQ(r.json().at("error").at("message").as_string(), c.message)
          << c.authorization.substr(0, 80);
    } else {
      EXPECT_EQ(r.json().at("role").as_string(), "police");
    }
  }
  // Past the header limit: no answer, and the server goes on.
  const auto too_long = get_with_authorization("/api/v1/me", "Bearer " + std::string(20000, 'a'));
  EXPECT_EQ(too_long.status, 0u);
  EXPECT_TRUE(too_long.closed);
  expect_still_serving();
}

// --- the audit log -------------------------------------------------------------------------------

TEST_F(ApiHostilityTest, RefusedRequestsAreAuditedButUnreadableOnesAreNot) {
  const auto expired = token(api::Role::police, {}, 1000);
  // Each refusal carries a marker in its target, to find it in the log.
  client_->get("/api/v1/me?m=no-token");
  client_->get("/api/v1/me?m=expired", expired);
  client_->get("/api/v1/audit?m=wrong-role", police_);
  client_->post("/api/v1/tokens?m=bad-json", admin_, "{");
  client_->post("/api/v1/observations?m=too-large", operator_, std::string(max_body + 1, ' '));
  client_->get("/..\\m=bad-target");
  client_->get("/%2e%2e%2fcanary.txt?m=traversal");
  raw_exchange(server_->api_port(),
               "GET /api/v1/me?m=huge-header HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Cookie: " +
                   std::string(64 * 1024, 'x') + "\r\n\r\n");
  raw_exchange(server_->api_port(),
               "GET /api/v1/me?m=bare-cr HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "X-A: a\rb\r\n\r\n");

  const auto audit = client_->get("/api/v1/audit?limit=1000", admin_);
  ASSERT_EQ(audit.status, 200u) << audit.body;
  std::map<std::string, json::object> by_target;
  const auto log = audit.json();
  for (const auto& e : log.at("items").as_array())
    by_target[std::string(e.at("target").as_string())] = e.as_object();
  struct Expected {
    std::string target;
    std::int64_t status;
    std::string token_id, role;  // empty: null in the log
  };
  const auto id = [](const std::string& secret) { return api::sha256_hex(secret).substr(0, 12); };
  const std::vector<Expected> expected{
      {"/api/v1/me?m=no-token", 401, "", ""},
      {"/api/v1/me?m=expired", 401, "", ""},
      {"/api/v1/audit?m=wrong-role", 403, id(police_), "police"},
      {"/api/v1/tokens?m=bad-json", 400, id(admin_), "admin"},
      // Refused on its size before the token is read: the log does not name it.
      {"/api/v1/observations?m=too-large", 413, "", ""},
      {"/..\\m=bad-target", 400, "", ""},
      {"/%2e%2e%2fcanary.txt?m=traversal", 404, "", ""},
  };
  for (const auto& e : expected) {
    ASSERT_TRUE(by_target.count(e.target)) << e.target << " is not in the audit log";
    const auto& entry = by_target.at(e.target);
    EXPECT_EQ(entry.at("status").as_int64(), e.status) << e.target;
    EXPECT_EQ(entry.at("records").as_int64(), 0) << e.target;
    EXPECT_EQ(entry.at("peer").as_string(), "127.0.0.1") << e.target;
    if (e.token_id.empty()) {
      EXPECT_TRUE(entry.at("token_id").is_null()) << e.target;
      EXPECT_TRUE(entry.at("role").is_null()) << e.target;
    } else {
      EXPECT_EQ(entry.at("token_id").as_string(), e.token_id) << e.target;
      EXPECT_EQ(entry.at("role").as_string(), e.role) << e.target;
    }
  }
  // Requests that are not HTTP the server can read get no answer and no entry.
  EXPECT_FALSE(by_target.count("/api/v1/me?m=huge-header"));
  EXPECT_FALSE(by_target.count("/api/v1/me?m=bare-cr"));
}

// --- defects these tests found -----------------------------------------------------------------

TEST_F(ApiHostilityTest, AnAuditCursorThatIsNotHexIs400) {
  // Before the fix the cursor's halves were converted unchecked: letters answered 500, a sign or
  // a space was read as part of a number.
  for (const std::string& cursor : {std::string(32, 'z'), "-000000000000001" + std::string(16, '0'),
                                    "%20" + std::string(31, '0')}) {
    const auto r = client_->get("/api/v1/audit?cursor=" + cursor, admin_);
    EXPECT_EQ(r.status, 400u) << cursor << ": " << r.body;
    EXPECT_EQ(code_of(r), "bad_parameter");
    EXPECT_EQ(parameter_of(r), "cursor");
  }
  // The largest cursor is well-formed and past every entry (before the fix: 500, out of range).
  const auto last = client_->get("/api/v1/audit?cursor=" + std::string(32, 'f'), admin_);
  ASSERT_EQ(last.status, 200u) << last.body;
  EXPECT_EQ(last.json().at("items").as_array().size(), 0u);
}

TEST_F(ApiHostilityTest, ATargetThatDecodesToInvalidUtf8Is400AndTheAnswerStaysJson) {
  // Before the fix these answered with the decoded bytes quoted in the message: not JSON.
  for (const std::string target :
       {"/api/v1/violations?limit=%ff%fe", "/api/v1/violations?%ff=1",
        "/api/v1/violations?city=%e9%83", "/api/v1/violations/%c0%af", "/%ff%fe.html",
        "/api/v1/violations?city=%ed%a0%80"}) {  // a surrogate
    const auto r = client_->get(target, police_);
    EXPECT_EQ(r.status, 400u) << target;
    EXPECT_EQ(code_of(r), "bad_target") << target;
    EXPECT_EQ(message_of(r), "the request target is not a valid path and query");
  }
  // The control: UTF-8 in a parameter (郑州) is a filter like any other.
  EXPECT_EQ(client_->get("/api/v1/violations?city=%E9%83%91%E5%B7%9E", police_).status, 200u);
}

TEST_F(ApiHostilityTest, ARawNonAsciiByteInTheTargetDoesNotHideTheRequestFromTheAuditLog) {
  const auto r = raw_exchange(server_->api_port(),
                              "GET /api/v1/me?m=\xff\xfe HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Connection: close\r\n\r\n");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.json().at("error").at("code").as_string(), "bad_target");
  // Before the fix the entry held the raw bytes, was not JSON, and the listing skipped it.
  const auto audit = client_->get("/api/v1/audit?limit=1000", admin_);
  const auto log = audit.json();
  std::vector<std::string> statuses;
  for (const auto& e : log.at("items").as_array())
    if (e.at("target").as_string() == "/api/v1/me?m=%FF%FE")
      statuses.push_back(std::to_string(e.at("status").as_int64()));
  EXPECT_EQ(statuses, (std::vector<std::string>{"400"}));
}

TEST_F(ApiHostilityTest, ARegistryCsvThatIsNotUtf8IsRefusedWholeAndTheRegistryKept) {
  ASSERT_EQ(client_->get(std::string("/api/v1/vehicles/") + cn3_truck, police_).status, 200u);
  // The owner in GBK (许昌 is D0ED B2FD): before the fix the import answered "imported": 1 and
  // the vehicle was gone from the registry (its record no longer JSON).
  const auto r = client_->request(verb::post, "/api/v1/registry", operator_,
                                  "vin,plate,category,fuel,emission_stage,owner\n"
                                  "LZZJ5ACA5AF110265,豫A87590,N3,diesel,国三,\xd0\xed\xb2\xfd\n",
                                  "text/csv");
  EXPECT_EQ(r.status, 400u) << r.body;
  EXPECT_EQ(code_of(r), "bad_parameter");
  EXPECT_EQ(parameter_of(r), "body");
  const auto vehicle = client_->get(std::string("/api/v1/vehicles/") + cn3_truck, police_);
  ASSERT_EQ(vehicle.status, 200u) << vehicle.body;
  EXPECT_EQ(vehicle.json().at("registry").at("plate").as_string(), "豫A87590");
}

// --- floods from one address -------------------------------------------------------------------

// A server whose limits on requests without a valid token are low enough to reach in a test.
struct FloodedServer {
  explicit FloodedServer(const std::function<void(Config&)>& adjust) {
    import_samples(dir.path());
    auto config = test_config(dir.path(), {"tcp://127.0.0.1:0?profile=gb17691"});
    config.api.enabled = true;
    adjust(config);
    server = std::make_unique<RunningServer>(config);
    admin = create_token(server->store(), api::Role::admin);
  }
  TempDir dir;
  std::unique_ptr<RunningServer> server;
  std::string admin;
};

// Before: the limiter's answer for requests without a valid token was ignored — 38,920 × 401 and
// no 429 in 20 s — and each wrote an audit entry of up to 2,000 characters (+83 MB in 20 s).
TEST(ApiFloods, RequestsWithoutAValidTokenAreLimitedPerAddressAndAuditedBySample) {
  FloodedServer f([](Config& c) {
    c.api.anonymous_rate_per_second = 0.01;  // no refill within the test
    c.api.anonymous_burst = 5;
    c.api.audit_anonymous_per_minute = 3;
  });
  const auto port = f.server->api_port();
  const auto guess = [&](int i) {
    return raw_exchange(port,
                        "GET /api/v1/me?guess=" + std::to_string(i) +
                            " HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer wrong-" +
                            std::to_string(i) + "\r\nConnection: close\r\n\r\n",
                        std::chrono::seconds(10), "127.0.0.2");
  };
  for (int i = 0; i < 5; ++i) EXPECT_EQ(guess(i).status, 401u) << i;
  for (int i = 5; i < 12; ++i) {
    const auto refused = guess(i);
    EXPECT_EQ(refused.status, 429u) << i;
    EXPECT_EQ(refused.json().at("error").at("code").as_string(), "rate_limited");
  }
  // Before the token is checked: a valid token from that address is refused too (the limit of
  // this defence: clients behind one address share its budget).
  const auto admin_from_there = raw_exchange(
      port, "GET /api/v1/me HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + f.admin +
                "\r\nConnection: close\r\n\r\n",
      std::chrono::seconds(10), "127.0.0.2");
  EXPECT_EQ(admin_from_there.status, 429u);
  // Every other address is served.
  ApiClient client(port);
  EXPECT_EQ(client.get("/api/v1/me", f.admin).status, 200u);
  EXPECT_EQ(client.get("/api/v1/me").status, 401u);
  EXPECT_EQ(f.server->metrics().api_refused.value("anonymous_rate"), 8u);
  // 13 requests from 127.0.0.2 without a valid token (the admin's was refused before its token
  // was read): 3 have entries of their own, 10 are counted.
  EXPECT_EQ(f.server->metrics().api_audit_unlogged.value(), 10u);
  const auto data_dir = f.server->config().store.dir;
  f.server->stop();  // writes the summaries still pending

  std::string error;
  auto store = storage::Store::open_read_only(data_dir, error);
  ASSERT_TRUE(store) << error;
  api::AuditLog log(*store);
  std::string next;
  std::vector<std::string> seen;
  for (const auto& e : log.read({.limit = 1000}, next)) {
    if (e.at("peer").as_string() != "127.0.0.2") continue;
    const auto* unlogged = e.if_contains("unlogged");
    seen.push_back(std::string(e.at("target").as_string()) + " " +
                   std::to_string(e.at("status").as_int64()) +
                   (unlogged ? " unlogged=" + std::to_string(unlogged->as_int64()) : ""));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "/api/v1/me?guess=0 401", "/api/v1/me?guess=1 401",
                      "/api/v1/me?guess=2 401",
                      "* 0 unlogged=10"}));
}

// Before: 1,000 idle connections to the API port locked every user out for ≈ 28 s.
TEST(ApiFloods, IdleConnectionsFromOneAddressCannotLockOthersOut) {
  FloodedServer f([](Config& c) {
    c.api.max_connections_per_address = 20;
    c.api.handshake_timeout = std::chrono::seconds(1);
  });
  const auto port = f.server->api_port();
  asio::io_context io;
  std::vector<std::unique_ptr<tcp::socket>> idle;
  for (int i = 0; i < 50; ++i) {
    auto s = std::make_unique<tcp::socket>(io);
    s->open(tcp::v4());
    s->bind(tcp::endpoint(asio::ip::make_address("127.0.0.2"), 0));
    s->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    idle.push_back(std::move(s));
  }
  // 30 are refused as soon as they are accepted.
  ASSERT_TRUE(eventually(
      [&] { return f.server->metrics().api_refused.value("max_connections_per_address") == 30; }));
  // Another address is served at once.
  ApiClient client(port);
  EXPECT_EQ(client.get("/api/v1/me", f.admin).status, 200u);
  // The 20 that were let in and never sent a TLS hello are closed after the handshake deadline,
  // after which the address is served again.
  const auto closed = [&](tcp::socket& s) {
    char byte;
    boost::system::error_code ec;
    s.non_blocking(true);
    s.read_some(asio::buffer(&byte, 1), ec);
    return ec && ec != asio::error::would_block;
  };
  ASSERT_TRUE(eventually(
      [&] { return std::all_of(idle.begin(), idle.end(), [&](auto& s) { return closed(*s); }); },
      std::chrono::seconds(5)));
  const auto served = raw_exchange(
      port, "GET /api/v1/me HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + f.admin +
                "\r\nConnection: close\r\n\r\n",
      std::chrono::seconds(10), "127.0.0.2");
  EXPECT_EQ(served.status, 200u);
}

// A client that completes the handshake but never sends its request head is closed after the
// handshake deadline, not the request timeout.
TEST(ApiFloods, AConnectionThatSendsNoRequestIsClosedAfterTheHandshakeDeadline) {
  FloodedServer f([](Config& c) {
    c.api.handshake_timeout = std::chrono::seconds(1);
    c.api.request_timeout = std::chrono::seconds(60);
  });
  const auto started = std::chrono::steady_clock::now();
  const auto answer = raw_exchange(f.server->api_port(), "GET /api/v1/me HTTP/1.1\r\n",
                                   std::chrono::seconds(20));
  EXPECT_EQ(answer.status, 0u);
  EXPECT_TRUE(answer.closed);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

TEST(AuditLog, RetentionDeletesOldEntriesAndTheReserveIsKeptForFrames) {
  TempDir dir;
  std::uint64_t free_bytes = 10ull << 30;
  storage::StoreOptions options;
  options.dir = dir.path();
  options.sync = storage::SyncPolicy::off;
  options.min_free_bytes = 100ull << 20;
  options.free_bytes = [&] { return free_bytes; };
  std::string error;
  auto store = storage::Store::open(options, error);
  ASSERT_TRUE(store) << error;
  api::AuditLog log(*store);
  const auto entry = [](std::int64_t unix_ms, std::string token_id, std::string target) {
    api::AuditEntry e;
    e.unix_ms = unix_ms;
    e.token_id = std::move(token_id);
    e.peer = "10.0.0.1";
    e.method = "GET";
    e.target = std::move(target);
    e.status = 200;
    return e;
  };
  ASSERT_TRUE(log.append(entry(1'000'000, "t1", "/old"), error)) << error;
  ASSERT_TRUE(log.append(entry(2'000'000, "t1", "/new"), error)) << error;
  ASSERT_TRUE(log.append(entry(2'000'001, "", "/anonymous"), error)) << error;
  ASSERT_TRUE(log.trim(2'000'000, error)) << error;
  const auto targets = [&] {
    std::string next;
    std::vector<std::string> out;
    for (const auto& e : log.read({}, next)) out.emplace_back(e.at("target").as_string());
    return out;
  };
  EXPECT_EQ(targets(), (std::vector<std::string>{"/new", "/anonymous"}));

  free_bytes = 150ull << 20;  // above the reserve, below twice it
  EXPECT_TRUE(log.append(entry(3'000'000, "t1", "/with-token"), error)) << error;
  EXPECT_FALSE(log.append(entry(3'000'001, "", "/without-token"), error));
  EXPECT_EQ(error, "the disk is within the archive's free-space reserve");
  free_bytes = 50ull << 20;  // within the reserve
  EXPECT_FALSE(log.append(entry(3'000'002, "t1", "/with-token-too"), error));
  EXPECT_EQ(targets(), (std::vector<std::string>{"/new", "/anonymous", "/with-token"}));
  store->close();
}

}  // namespace
}  // namespace lantian::server
