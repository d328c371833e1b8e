// Boost.JSON's implementation, compiled once for the whole project (Debian's Boost 1.81 ships the
// library header-only). Every target that links lantian::protocol can use Boost.JSON.
#include <boost/json/src.hpp>
