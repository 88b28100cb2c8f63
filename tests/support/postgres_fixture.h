// PostgreSQL for tests: where the server is, and a schema of its own for each test.
//
// Integration tests never skip for want of a server: they use the one they are given, or start
// a private one with the same launcher as `mqlab services up` (src/services), or fail loudly
// saying how to provide one.
//
// Threading: both functions are thread-safe.
#ifndef MQLAB_TESTS_SUPPORT_POSTGRES_FIXTURE_H_
#define MQLAB_TESTS_SUPPORT_POSTGRES_FIXTURE_H_

#include <string>
#include <string_view>

namespace mqlab::testing {

// The URL of a PostgreSQL server for tests, from the first of:
//   1. MQLAB_POSTGRES_URL in the environment;
//   2. MQLAB_POSTGRES_URL in the env file named by MQLAB_SERVICES_ENV (`mqlab services up` writes
//      RUNTIME_DIR/services.env);
//   3. a private server started on first use for the whole test process, in a temporary folder,
//      stopped (by its PID) and removed when the process exits.
// If none works, records a test failure (ADD_FAILURE) explaining how to provide a server and
// returns "": callers ASSERT that the result is not empty.
std::string TestPostgresUrl();

// A schema name no other test (in this process or another) uses: "<prefix>_<test>_<pid>_<n>",
// lowercase, at most 63 bytes (PostgreSQL's identifier limit).
std::string UniqueSchemaName(std::string_view prefix = "t");

}  // namespace mqlab::testing

#endif  // MQLAB_TESTS_SUPPORT_POSTGRES_FIXTURE_H_
