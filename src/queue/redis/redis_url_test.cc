// ParseRedisUrl: the forms users give, and errors that never echo a password.
#include <gtest/gtest.h>

#include "queue/redis/redis_client.h"

namespace mqlab::queue::redis {
namespace {

TEST(RedisUrlTest, HostPortAndDatabase) {
  auto e = ParseRedisUrl("redis://10.0.0.5:6400/3");
  ASSERT_TRUE(e) << e.error().ToString();
  EXPECT_EQ(e->host, "10.0.0.5");
  EXPECT_EQ(e->port, 6400);
  EXPECT_EQ(e->db, 3);
  EXPECT_TRUE(e->password.empty());
  EXPECT_EQ(e->Display(), "redis://10.0.0.5:6400/3");
}

TEST(RedisUrlTest, DefaultsPortAndDatabase) {
  auto e = ParseRedisUrl("redis://cache.internal");
  ASSERT_TRUE(e) << e.error().ToString();
  EXPECT_EQ(e->host, "cache.internal");
  EXPECT_EQ(e->port, 6379);
  EXPECT_EQ(e->db, 0);
  EXPECT_TRUE(ParseRedisUrl("redis://h:1/").has_value());
}

TEST(RedisUrlTest, PasswordUserAndPercentEncoding) {
  auto e = ParseRedisUrl("redis://:s%40cret@127.0.0.1:7000/0");
  ASSERT_TRUE(e) << e.error().ToString();
  EXPECT_EQ(e->password, "s@cret");
  EXPECT_TRUE(e->user.empty());
  EXPECT_EQ(e->Display().find("cret"), std::string::npos) << "Display() must hide the password";

  auto acl = ParseRedisUrl("redis://worker:pw@127.0.0.1:7000");
  ASSERT_TRUE(acl);
  EXPECT_EQ(acl->user, "worker");
  EXPECT_EQ(acl->password, "pw");

  auto bare = ParseRedisUrl("redis://justpassword@127.0.0.1");
  ASSERT_TRUE(bare);
  EXPECT_TRUE(bare->user.empty());
  EXPECT_EQ(bare->password, "justpassword");
}

TEST(RedisUrlTest, Ipv6Host) {
  auto e = ParseRedisUrl("redis://[::1]:6390/1");
  ASSERT_TRUE(e) << e.error().ToString();
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->Display(), "redis://[::1]:6390/1");
}

TEST(RedisUrlTest, RejectsOtherFormsWithoutEchoingThePassword) {
  for (const char* bad :
       {"rediss://:topsecret@h:1/0", "http://:topsecret@h/0", "redis://:topsecret@h:0/0",
        "redis://:topsecret@h:1/x", "redis://:topsecret@h:1/-1", "redis://:topsecret@:1/0",
        "not a url topsecret"}) {
    auto e = ParseRedisUrl(bad);
    ASSERT_FALSE(e) << bad;
    EXPECT_EQ(e.error().code, ErrorCode::kInvalidArgument) << bad;
    EXPECT_EQ(e.error().message.find("topsecret"), std::string::npos) << e.error().message;
  }
}

}  // namespace
}  // namespace mqlab::queue::redis
