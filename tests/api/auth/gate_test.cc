#include "api/auth/gate.h"

#include <gtest/gtest.h>

namespace medalliance::api {
namespace {

using auth::Interaction;

bool IsType(std::string_view type) {
  return type == "Patient" || type == "Observation" || type == "Encounter";
}

std::string Describe(const std::vector<NeededAccess>& needed) {
  std::string out;
  for (const NeededAccess& access : needed) {
    if (!out.empty())
      out += " ";
    out += access.type + ":" + std::string(auth::InteractionName(access.interaction));
  }
  return out;
}

std::string Needed(std::string method, std::vector<std::string> segments,
                   rest::QueryParams params = {}, std::string body = {}) {
  rest::FhirRequest request;
  request.method = std::move(method);
  request.segments = std::move(segments);
  request.params = std::move(params);
  request.body = std::move(body);
  request.base_url = "http://x";
  return Describe(RequiredAccess(request, IsType));
}

TEST(RequiredAccessTest, MapsEveryInteractionToItsPermission) {
  EXPECT_EQ(Needed("GET", {"Patient", "1"}), "Patient:read");
  EXPECT_EQ(Needed("GET", {"Patient"}), "Patient:search");
  EXPECT_EQ(Needed("POST", {"Patient", "_search"}), "Patient:search");
  EXPECT_EQ(Needed("POST", {"Patient"}), "Patient:create");
  EXPECT_EQ(Needed("PUT", {"Patient", "1"}), "Patient:update");
  EXPECT_EQ(Needed("PATCH", {"Patient", "1"}), "Patient:update");
  EXPECT_EQ(Needed("DELETE", {"Patient", "1"}), "Patient:delete");
  EXPECT_EQ(Needed("DELETE", {"Patient"}), "Patient:delete Patient:search");
  EXPECT_EQ(Needed("GET", {"Patient", "1", "_history", "2"}), "Patient:read");
  EXPECT_EQ(Needed("GET", {"Patient", "_history"}), "Patient:search");
  EXPECT_EQ(Needed("GET", {"_history"}), "*:search");
  EXPECT_EQ(Needed("GET", {"Patient", "1", "Observation"}), "Patient:read Observation:search");
  EXPECT_EQ(Needed("GET", {"Patient", "1", "$everything"}), "Patient:read *:search");
  EXPECT_EQ(Needed("POST", {"Patient", "$match"}), "Patient:search");
  EXPECT_EQ(Needed("POST", {"Patient", "$merge"}), "Patient:search Patient:create Patient:update");
  EXPECT_EQ(Needed("GET", {"Unknown"}), "*:search");
}

TEST(RequiredAccessTest, IncludesNeedTheirTargets) {
  EXPECT_EQ(Needed("GET", {"Observation"}, {{"_include", "Observation:subject:Patient"}}),
            "Observation:search Patient:read");
  EXPECT_EQ(Needed("GET", {"Observation"}, {{"_include:iterate", "Observation:subject"}}),
            "Observation:search *:read");
  EXPECT_EQ(Needed("GET", {"Patient"}, {{"_revinclude", "Encounter:subject"}}),
            "Patient:search Encounter:search");
}

TEST(RequiredAccessTest, BundlesNeedTheScopeOfEveryEntry) {
  std::string bundle = R"({"resourceType":"Bundle","type":"transaction","entry":[
    {"request":{"method":"POST","url":"Patient"}},
    {"request":{"method":"PUT","url":"http://x/Observation/7"}},
    {"request":{"method":"GET","url":"Encounter?_revinclude=Observation:encounter"}},
    {"request":{"method":"DELETE","url":"https://elsewhere/Patient/1"}}]})";
  EXPECT_EQ(Needed("POST", {}, {}, bundle),
            "Patient:create Observation:update Encounter:search Observation:search *:delete");
}

TEST(RateLimiterTest, RefusesBeyondTheBurstAndSaysWhenToRetry) {
  RateLimiter limiter(2, 3);
  int retry = 0;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Admit("a", &retry));
  EXPECT_FALSE(limiter.Admit("a", &retry));
  EXPECT_EQ(retry, 1);
  EXPECT_TRUE(limiter.Admit("b", &retry));  // another caller has its own bucket
  RateLimiter off(0, 0);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(off.Admit("a", &retry));
}

}  // namespace
}  // namespace medalliance::api
