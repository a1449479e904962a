#pragma once
// MA_ASSERT: invariant checked in debug builds. MA_CHECK: also in release, where going on
// would corrupt data. Never use either on anything a client can send.

#include <cstdio>
#include <cstdlib>

#define MA_CHECK(cond, why)                                                                   \
  do {                                                                                        \
    if (!(cond)) {                                                                            \
      std::fprintf(stderr, "%s:%d: check failed: %s (%s)\n", __FILE__, __LINE__, #cond, why); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (false)

#ifdef NDEBUG
#define MA_ASSERT(cond, why) \
  do {                       \
  } while (false)
#else
#define MA_ASSERT(cond, why) MA_CHECK(cond, why)
#endif
