#ifndef IPCTK_TESTS_SCOPED_SEGMENT_H_
#define IPCTK_TESTS_SCOPED_SEGMENT_H_

#include <sys/ipc.h>

#include <catch2/catch.hpp>

#include "shm_segment.h"

/// A private segment for one test, removed at scope exit, pass or fail.
struct ScopedSegment {
  explicit ScopedSegment(uint64_t size) {
    auto made = ipctk::shm_create({IPC_PRIVATE, size, 0600, false, false, false});
    REQUIRE(made.ok());
    id = made->id;
  }
  ~ScopedSegment() { (void)ipctk::shm_remove(id); }
  ScopedSegment(const ScopedSegment&) = delete;
  ScopedSegment& operator=(const ScopedSegment&) = delete;
  int id = -1;
};

#endif  // IPCTK_TESTS_SCOPED_SEGMENT_H_
