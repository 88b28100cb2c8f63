// Errors as values (leveldb's Status, in the shape of std::expected).
//
// Every fallible call across a module boundary returns Result<T> (or Status, which is
// Result<void>). Codes are few and mean the same thing everywhere; each adapter translates its
// client library's errors into them at its boundary (one TranslateError per adapter).
//   kUnavailable, kDeadlineExceeded  transient: the caller may retry.
//   kResourceExhausted               a bounded resource is full (queue, pool): shed load.
//   kFailedPrecondition              the object is in a state that forbids the call (e.g. a job
//                                    that already finished); retrying will not help.
//   kAborted                         lost a race (stale attempt, lease taken by another worker).
// No exception crosses a module boundary.
#ifndef MQLAB_COMMON_STATUS_H_
#define MQLAB_COMMON_STATUS_H_

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace mqlab {

enum class ErrorCode {
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kAborted,
  kResourceExhausted,
  kUnavailable,
  kDeadlineExceeded,
  kUnsupported,
  kInternal,
};

std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  // True for errors a caller may retry (the server may come back).
  bool transient() const {
    return code == ErrorCode::kUnavailable || code == ErrorCode::kDeadlineExceeded;
  }
  std::string ToString() const;
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = Result<void>;

inline std::unexpected<Error> MakeError(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}
inline std::unexpected<Error> InvalidArgument(std::string m) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(m));
}
inline std::unexpected<Error> NotFound(std::string m) {
  return MakeError(ErrorCode::kNotFound, std::move(m));
}
inline std::unexpected<Error> AlreadyExists(std::string m) {
  return MakeError(ErrorCode::kAlreadyExists, std::move(m));
}
inline std::unexpected<Error> FailedPrecondition(std::string m) {
  return MakeError(ErrorCode::kFailedPrecondition, std::move(m));
}
inline std::unexpected<Error> Aborted(std::string m) {
  return MakeError(ErrorCode::kAborted, std::move(m));
}
inline std::unexpected<Error> ResourceExhausted(std::string m) {
  return MakeError(ErrorCode::kResourceExhausted, std::move(m));
}
inline std::unexpected<Error> Unavailable(std::string m) {
  return MakeError(ErrorCode::kUnavailable, std::move(m));
}
inline std::unexpected<Error> DeadlineExceeded(std::string m) {
  return MakeError(ErrorCode::kDeadlineExceeded, std::move(m));
}
inline std::unexpected<Error> Unsupported(std::string m) {
  return MakeError(ErrorCode::kUnsupported, std::move(m));
}
inline std::unexpected<Error> Internal(std::string m) {
  return MakeError(ErrorCode::kInternal, std::move(m));
}

inline Status Ok() { return {}; }

}  // namespace mqlab

#endif  // MQLAB_COMMON_STATUS_H_
