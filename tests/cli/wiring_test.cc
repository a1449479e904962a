// The SQLite options the command line's store settings ask for (cli/wiring.h SqliteOptionsFor).

#include "cli/wiring.h"

#include <gtest/gtest.h>

namespace medalliance::cli {
namespace {

TEST(WiringTest, AnImportGetsALargerCacheFewerCheckpointsAndTheCheckpointThread) {
  StoreSettings settings;
  settings.db_path = "x.db";
  settings.bulk_load = true;
  auto options = SqliteOptionsFor(settings);
  ASSERT_TRUE(options.has_value()) << options.error().GetMessage();
  EXPECT_EQ(options->path, "x.db");
  EXPECT_EQ(options->writer_cache_size_kib, 256 * 1024);
  EXPECT_EQ(options->wal_autocheckpoint_pages, 8000);
  EXPECT_TRUE(options->background_checkpoint) << "checkpoints off the commit thread";
  EXPECT_EQ(options->synchronous, store::SqliteSync::kFull);

  settings.background_checkpoint = false;
  options = SqliteOptionsFor(settings);
  ASSERT_TRUE(options.has_value());
  EXPECT_FALSE(options->background_checkpoint);
}

TEST(WiringTest, AServerKeepsSqliteDefaultsAndAnUnknownSyncModeIsRefused) {
  StoreSettings settings;
  settings.synchronous = "normal";
  auto options = SqliteOptionsFor(settings);
  ASSERT_TRUE(options.has_value());
  EXPECT_EQ(options->synchronous, store::SqliteSync::kNormal);
  EXPECT_EQ(options->wal_autocheckpoint_pages, 1000);
  EXPECT_EQ(options->writer_cache_size_kib, 0);
  EXPECT_TRUE(options->background_checkpoint);
  settings.synchronous = "off";
  options = SqliteOptionsFor(settings);
  ASSERT_FALSE(options.has_value());
  EXPECT_EQ(options.error().GetCode(), core::ErrorCode::kBadRequest);
}

}  // namespace
}  // namespace medalliance::cli
