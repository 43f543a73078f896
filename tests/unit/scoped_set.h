#ifndef IPCTK_TESTS_SCOPED_SET_H_
#define IPCTK_TESTS_SCOPED_SET_H_

#include <sys/ipc.h>

#include <vector>

#include <catch2/catch.hpp>

#include "sem_set.h"

/// A private semaphore set for one test, removed at scope exit, pass or
/// fail.
struct ScopedSet {
  explicit ScopedSet(std::vector<unsigned> init) {
    ipctk::SemGetRequest request;
    request.key = IPC_PRIVATE;
    request.nsems = static_cast<unsigned>(init.size());
    request.create = true;
    request.init = std::move(init);
    auto got = ipctk::sem_get(request);
    REQUIRE(got.ok());
    id = got->id;
  }
  ~ScopedSet() { (void)ipctk::sem_remove(id); }
  ScopedSet(const ScopedSet&) = delete;
  ScopedSet& operator=(const ScopedSet&) = delete;
  int id = -1;
};

#endif  // IPCTK_TESTS_SCOPED_SET_H_
