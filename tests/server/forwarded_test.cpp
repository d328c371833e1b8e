// A request about a vehicle sent to its owner in a cluster, and the answer sent back
// (server/api/forwarded.hpp): what goes over the brokers comes out as it went in.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "server/api/forwarded.hpp"

namespace lantian::server::api {
namespace {
namespace json = boost::json;

TEST(ForwardedRequest, CarriesTheCallersTokenRecordAndTheRequestAsSent) {
  ApiRequest r;
  r.method = http::verb::post;
  r.target = "/api/v1/violations/R01%7CLZZ5CLSB0NA100002%7C2026-12-07/review";
  r.body = "{\"decision\":\"confirmed\",\n\"comment\":\"看过\"}";
  r.content_type = "application/json";
  r.peer = "10.0.0.7";
  r.token.id = "0afb942026db";
  r.token.role = Role::reviewer;
  r.token.label = "郑州 reviewer";
  r.token.jurisdiction.cities = {"郑州", "开封"};
  r.token.created_unix_ms = 1796658415940;

  ApiRequest received;
  ASSERT_TRUE(decode_forwarded_request(encode_forwarded_request(r), received));
  EXPECT_TRUE(received.forwarded);
  EXPECT_EQ(received.method, http::verb::post);
  EXPECT_EQ(received.target, r.target);
  EXPECT_EQ(received.body, r.body);
  EXPECT_EQ(received.content_type, "application/json");
  EXPECT_EQ(received.peer, "10.0.0.7");
  EXPECT_EQ(received.token.id, "0afb942026db");
  EXPECT_EQ(received.token.role, Role::reviewer);
  EXPECT_EQ(received.token.label, "郑州 reviewer");
  EXPECT_EQ(received.token.jurisdiction.cities, (std::set<std::string>{"开封", "郑州"}));
  EXPECT_TRUE(received.token.jurisdiction.zones.empty());
  EXPECT_TRUE(received.segments.empty());  // the owner parses the target itself
  EXPECT_FALSE(received.token.local);
  // A command on the admin socket asks as a local administrator on the owner too.
  r.token.local = true;
  ApiRequest local;
  ASSERT_TRUE(decode_forwarded_request(encode_forwarded_request(r), local));
  EXPECT_TRUE(local.token.local);

  ApiRequest refused;
  EXPECT_FALSE(decode_forwarded_request("not a request", refused));
  EXPECT_FALSE(decode_forwarded_request("{\"method\":\"GET\",\"target\":\"/x\"}\n", refused));
  EXPECT_FALSE(decode_forwarded_request(
      "{\"method\":\"BREW\",\"target\":\"/x\",\"token\":{}}\n", refused));
}

TEST(ForwardedResponse, ComesBackWithItsStatusHeadersAuditFieldsAndBody) {
  ApiResponse response;
  response.status = http::status::conflict;
  response.content_type = "application/geo+json; charset=utf-8";
  response.headers.emplace_back(http::field::retry_after, "3");
  response.records = 1270;
  response.change = {{"violation", "R01|X|2026-12-07"}, {"after", {{"status", "confirmed"}}}};
  response.body = std::string("line one\nline two\n\0binary", 26);

  const auto decoded = decode_forwarded_response(encode_forwarded_response(response));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->status, http::status::conflict);
  EXPECT_EQ(decoded->content_type, "application/geo+json; charset=utf-8");
  ASSERT_EQ(decoded->headers.size(), 1u);
  EXPECT_EQ(decoded->headers[0].first, http::field::retry_after);
  EXPECT_EQ(decoded->headers[0].second, "3");
  EXPECT_EQ(decoded->records, 1270);
  EXPECT_EQ(decoded->change, response.change);
  EXPECT_EQ(decoded->body, response.body);

  EXPECT_FALSE(decode_forwarded_response(""));
  EXPECT_FALSE(decode_forwarded_response("{\"status\":700}\n"));
  EXPECT_FALSE(decode_forwarded_response("{\"status\":200}\n"));  // the other fields are missing
}

}  // namespace
}  // namespace lantian::server::api
