#ifndef IPCTK_CLOCK_H_
#define IPCTK_CLOCK_H_

#include <time.h>

#include <string>

/// Time as the waits of every tool need it: a monotonic clock in seconds
/// (deadlines that a clock change cannot move), timespecs for the calls
/// that take them, and seconds as a person reads them in a message.
namespace ipctk {

/// CLOCK_MONOTONIC, in seconds.
double monotonic_seconds();

/// `seconds` as a timespec (relative, or an absolute monotonic time);
/// negative values are 0.
struct timespec to_timespec(double seconds);

/// "0.3", "5", "1.5e+06": the shortest text that reads back the same.
std::string seconds_text(double seconds);

}  // namespace ipctk

#endif  // IPCTK_CLOCK_H_
