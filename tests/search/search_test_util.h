#pragma once
// Helpers shared by the search unit tests.

#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "search/search.h"
#include "store/store.h"

namespace medalliance::search::testing {

// Searches resources of `type` with `params` in one read transaction of `store`; an error
// fails the calling test (and an empty page is returned).
inline SearchPage SearchIn(store::Store& store, const Searcher& searcher, std::string type,
                           Params params) {
  SearchRequest request;
  request.type = std::move(type);
  request.params = std::move(params);
  SearchPage page;
  auto status = store.Read([&](store::ReadTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(page, searcher.Search(tx, request));
    return {};
  });
  EXPECT_TRUE(status.has_value()) << status.error().GetMessage();
  return page;
}

}  // namespace medalliance::search::testing
