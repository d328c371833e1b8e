#include "server/export_command.hpp"

#include "protocol/decode.hpp"
#include "protocol/json.hpp"
#include "protocol/signature.hpp"
#include "storage/store.hpp"

namespace lantian::server {

int run_export(const Config& config, const ExportQuery& query, std::ostream& out,
               std::ostream& errors) {
  std::string error;
  auto store = storage::Store::open_read_only(config.store.dir, error);
  if (!store) {
    errors << "lantiand export: " << error << '\n';
    return 1;
  }
  std::size_t frames = 0;
  store->for_each_frame(
      query.vin, query.from_unix_s, query.to_unix_s,
      [&](const storage::FrameKey& key, const storage::FrameRecord& record) {
        protocol::DecodeOptions options;
        options.profile = record.received.profile;
        auto decoded = protocol::decode_frame(record.raw, options);
        boost::json::object line;
        if (decoded)
          line = protocol::to_json(*decoded);
        else
          line["errors"] = boost::json::array{boost::json::string(decoded.error().message())};
        const auto& r = record.received;
        line["received"] = boost::json::object{
            {"time", protocol::BeijingTime::from_unix_seconds(r.receive_unix_ms / 1000)
                         .iso8601()
                         .value_or("")},
            {"unix_ms", r.receive_unix_ms},
            {"peer", r.peer},
            {"listener", r.listener},
            {"connection_id", r.connection_id},
            {"sequence", key.sequence},
            {"signature", protocol::to_string(r.signature)},
            {"rejected", r.rejected}};
        line["raw"] = protocol::to_hex(record.raw);
        out << protocol::to_json_text(line) << '\n';
        ++frames;
        return static_cast<bool>(out);
      });
  out.flush();
  return out ? 0 : 1;
}

}  // namespace lantian::server
