#pragma once
// Metric families in Prometheus' text exposition format, for the parts that render their own
// (the cluster, the upstream links, the subscribers' deliveries); server/metrics.hpp keeps the
// server's registry.

#include <ostream>
#include <string_view>

namespace lantian::common {

// A family's HELP and TYPE lines; its samples follow (labelled ones, written by the caller).
inline void write_metric_head(std::ostream& out, std::string_view name, std::string_view type,
                              std::string_view help) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}

// A family with one unlabelled sample.
template <class Value>
void write_metric(std::ostream& out, std::string_view name, std::string_view type,
                  std::string_view help, const Value& value) {
  write_metric_head(out, name, type, help);
  out << name << ' ' << value << '\n';
}

}  // namespace lantian::common
