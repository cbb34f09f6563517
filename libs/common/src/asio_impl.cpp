// The one translation unit that compiles Boost.Asio, its SSL support and Beast (separate
// compilation): services and tools include the headers and link outcall::asio.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
