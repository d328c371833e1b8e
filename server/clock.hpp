#pragma once
// The wall clock, as the server records it (receive times, detection times, audit entries): the
// one evaluation stamps violations with.

#include "evaluation/clock.hpp"

namespace lantian::server {

using evaluation::now_unix_ms;

}  // namespace lantian::server
