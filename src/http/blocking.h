// RunBlocking: the one way an HTTP coroutine calls a blocking client library.
//
// Why: HTTP coroutines share a few io_context threads; one blocking call (a libpq query, a
// SQLite write, a synchronous Redis command) on such a thread stalls every connection served by
// it. So HTTP coroutines never block on a client library: they hand the call to a thread pool
// sized like the library's connection pool and suspend until it returns.
//
//   Result<Job> job = co_await RunBlocking(db_pool, [&] { return store.Get(id); });
//
// The call runs on one of `pool`'s threads; the coroutine resumes on its own executor (its
// connection's strand), never on the pool. While the call runs, the coroutine's io_context is
// kept busy (it will not run out of work and return from run()). An exception thrown by `f` is
// rethrown in the coroutine, but by mqlab's rules `f` returns errors as values (Result<T>).
//
// Threading: `f` runs on a pool thread, so anything it captures by reference must stay alive
// and be safe to use from that thread until the co_await completes (the coroutine is suspended
// meanwhile, so its locals are fine). Cancellation does not interrupt `f`.
#ifndef MQLAB_HTTP_BLOCKING_H_
#define MQLAB_HTTP_BLOCKING_H_

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/message.h"

namespace mqlab::http {
namespace internal {

// Starts `f` on `pool`; completes `handler` on the handler's own executor with (exception, R) or
// (exception) for void. The result travels in an optional so that R need not be
// default-constructible.
template <class R>
struct RunBlockingInitiation {
  net::thread_pool* pool;

  template <class Handler, class F>
  void operator()(Handler handler, F f) const {
    // Tracked work on the caller's executor: its io_context stays alive until we post back.
    auto home = net::prefer(net::get_associated_executor(handler),
                            net::execution::outstanding_work.tracked);
    net::post(*pool, [handler = std::move(handler), f = std::move(f), home]() mutable {
      std::exception_ptr error;
      if constexpr (std::is_void_v<R>) {
        try {
          f();
        } catch (...) {
          error = std::current_exception();
        }
        net::post(home, [handler = std::move(handler), error]() mutable {
          std::move(handler)(error);
        });
      } else {
        std::optional<R> result;
        try {
          result.emplace(f());
        } catch (...) {
          error = std::current_exception();
        }
        net::post(home, [handler = std::move(handler), error,
                         result = std::move(result)]() mutable {
          std::move(handler)(error, std::move(result));
        });
      }
    });
  }
};

}  // namespace internal

// Runs `f()` on `pool` and completes with its result on the calling coroutine's executor.
// REQUIRES: `pool` outlives the call; called from a coroutine (net::awaitable).
template <class F, class R = std::invoke_result_t<F&>>
net::awaitable<R> RunBlocking(net::thread_pool& pool, F f) {
  if constexpr (std::is_void_v<R>) {
    co_await net::async_initiate<const net::use_awaitable_t<>, void(std::exception_ptr)>(
        internal::RunBlockingInitiation<R>{&pool}, net::use_awaitable, std::move(f));
  } else {
    std::optional<R> result =
        co_await net::async_initiate<const net::use_awaitable_t<>,
                                     void(std::exception_ptr, std::optional<R>)>(
            internal::RunBlockingInitiation<R>{&pool}, net::use_awaitable, std::move(f));
    co_return std::move(*result);
  }
}

}  // namespace mqlab::http

#endif  // MQLAB_HTTP_BLOCKING_H_
