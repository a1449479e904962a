#include "api/http/gzip.h"

#include <string>

#include <gtest/gtest.h>

#include "api/http/message.h"

namespace medalliance::api::http {
namespace {

TEST(GzipTest, RoundTripsAndShrinksRepetitiveJson) {
  std::string json;
  for (int i = 0; i < 200; ++i) json += "{\"resourceType\":\"Observation\",\"status\":\"final\"},";
  auto compressed = GzipCompress(json);
  ASSERT_TRUE(compressed.has_value());
  EXPECT_LT(compressed->size(), json.size() / 5);
  EXPECT_EQ(static_cast<unsigned char>((*compressed)[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>((*compressed)[1]), 0x8b);
  auto plain = GzipDecompress(compressed.value(), json.size());
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain.value(), json);
}

TEST(GzipTest, DecompressEnforcesTheOutputLimit) {
  auto compressed = GzipCompress(std::string(100000, 'x'));
  ASSERT_TRUE(compressed.has_value());
  auto limited = GzipDecompress(compressed.value(), 99999);
  ASSERT_FALSE(limited.has_value());
  EXPECT_EQ(limited.error().GetCode(), core::ErrorCode::kPayloadTooLarge);
  EXPECT_TRUE(GzipDecompress(compressed.value(), 100000).has_value());
}

TEST(GzipTest, DecompressRejectsCorruptTruncatedAndEmptyInput) {
  auto compressed = GzipCompress(std::string(5000, 'y'));
  ASSERT_TRUE(compressed.has_value());
  std::string truncated = compressed->substr(0, compressed->size() / 2);
  EXPECT_EQ(GzipDecompress(truncated, 1 << 20).error().GetCode(), core::ErrorCode::kBadRequest);
  EXPECT_EQ(GzipDecompress("plain text", 1 << 20).error().GetCode(), core::ErrorCode::kBadRequest);
  EXPECT_FALSE(GzipDecompress("", 1 << 20).has_value());
}

TEST(GzipTest, DecompressJoinsConcatenatedMembers) {
  auto a = GzipCompress("hello ");
  auto b = GzipCompress("world");
  ASSERT_TRUE(a.has_value() && b.has_value());
  auto joined = GzipDecompress(a.value() + b.value(), 100);
  ASSERT_TRUE(joined.has_value());
  EXPECT_EQ(joined.value(), "hello world");
}

TEST(GzipTest, AcceptsGzipFollowsQValues) {
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("deflate, GZIP;q=0.5"));
  EXPECT_TRUE(AcceptsGzip("*"));
  EXPECT_TRUE(AcceptsGzip("br;q=1.0, x-gzip"));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0.0, *"));
  EXPECT_FALSE(AcceptsGzip("*;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzipped"));
}

TEST(HeadersTest, LooksUpNamesIgnoringCase) {
  Headers headers{{"Content-Type", "application/fhir+json"}};
  headers.Add("ETag", "W/\"1\"");
  headers.Add("etag", "W/\"2\"");
  EXPECT_EQ(headers.Get("content-type"), "application/fhir+json");
  EXPECT_TRUE(headers.Has("CONTENT-TYPE"));
  EXPECT_FALSE(headers.Has("Content"));
  EXPECT_EQ(headers.Get("Missing"), "");
  EXPECT_EQ(headers.GetAll("ETAG").size(), 2u);
  headers.Set("Etag", "W/\"3\"");
  EXPECT_EQ(headers.GetAll("etag").size(), 1u);
  EXPECT_EQ(headers.Get("etag"), "W/\"3\"");
  EXPECT_EQ(headers.Remove("ETAG"), 1u);
  EXPECT_EQ(headers.size(), 1u);
  EXPECT_EQ(headers.begin()->first, "Content-Type");
}

}  // namespace
}  // namespace medalliance::api::http
