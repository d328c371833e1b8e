// jemalloc's settings, read by jemalloc when the process starts (docs/adr/0010). Linked into the
// executables that hold terminals (lantiand, and bench/tls_hold, its P3/P4 reference).
//   background_thread  freed pages go back to the kernel from jemalloc's own thread, with no lock
//                      a session waits on (glibc's malloc_trim held each arena's lock for 0.1–0.5 s
//                      while it walked a heap of 10,000 sessions: replies stalled behind it);
//   dirty_decay_ms     how long freed pages stay ready for reuse before they are returned (over
//                      that time, gradually) — a burst's buffers serve the next burst, and are
//                      given back within seconds when none comes (idle terminals keep little);
//   muzzy_decay_ms:0   returned pages are released at once, not kept lazily (RSS tells the truth).
extern "C" {
// NOLINTNEXTLINE: the name and type are jemalloc's.
extern const char* malloc_conf;
const char* malloc_conf = "background_thread:true,dirty_decay_ms:10000,muzzy_decay_ms:0";
}
