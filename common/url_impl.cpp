// Boost.URL's implementation, compiled once (Debian's Boost 1.81 ships the library header-only).
#include <boost/url/src.hpp>
