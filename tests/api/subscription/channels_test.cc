#include <atomic>
#include <chrono>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>

#include "api/subscription_channels.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::api {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// A receiver that accepts one connection and never says a word; it hangs up after `hold`.
class SilentReceiver {
 public:
  explicit SilentReceiver(std::chrono::milliseconds hold)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this, hold] {
      boost::system::error_code ec;
      tcp::socket socket = acceptor_.accept(ec);
      const auto until = Clock::now() + hold;
      while (!stop_ && Clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      socket.close(ec);
    });
  }
  ~SilentReceiver() {
    stop_ = true;
    thread_.join();
  }
  unsigned short Port() const { return port_; }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

subscription::Notification RestHook(const std::string& endpoint) {
  subscription::Notification notification;
  notification.subscription_id = "s1";
  notification.channel = subscription::ChannelType::kRestHook;
  notification.endpoint = endpoint;
  notification.content_type = "application/fhir+json";
  notification.body = R"({"resourceType":"Bundle","type":"history"})";
  return notification;
}

class ChannelsTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<store::SqliteStore> store_ = store::SqliteStore::Open({}).value();
};

// A receiver that accepts and never answers costs a delivery worker request_timeout, not the
// receiver's patience: over https the TLS handshake is bounded too.
TEST_P(ChannelsTest, AReceiverThatNeverAnswersTimesOut) {
  SilentReceiver receiver(std::chrono::seconds(8));
  SubscriptionChannels channels(*store_, nullptr,
                                {.connect_timeout = std::chrono::milliseconds(1000),
                                 .request_timeout = std::chrono::milliseconds(300)});
  const auto start = Clock::now();
  core::Status status = channels.Deliver(
      RestHook(GetParam() + "://127.0.0.1:" + std::to_string(receiver.Port()) + "/hook"));
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kUnavailable);
  EXPECT_LT(elapsed, std::chrono::seconds(3)) << status.error().GetMessage();
}

TEST_P(ChannelsTest, ARefusedConnectionIsAnError) {
  unsigned short port = 0;
  {
    asio::io_context io;
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }
  SubscriptionChannels channels(*store_, nullptr);
  core::Status status =
      channels.Deliver(RestHook(GetParam() + "://127.0.0.1:" + std::to_string(port) + "/hook"));
  ASSERT_FALSE(status.has_value());
  EXPECT_NE(status.error().GetMessage().find("cannot connect"), std::string::npos)
      << status.error().GetMessage();
}

INSTANTIATE_TEST_SUITE_P(Schemes, ChannelsTest, ::testing::Values("http", "https"));

}  // namespace
}  // namespace medalliance::api
