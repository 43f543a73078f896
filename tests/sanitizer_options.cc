// The sanitizers' default options in a sanitizer build (meson.build links
// this file into the tools and the unit tests only when b_sanitize is set).
//
// Every report goes to a file of its own, IPCTK_SANITIZER_REPORT_DIR/KIND.PID,
// rather than to stderr: the CLI tests start the tools thousands of times
// and many of them look only at an exit status, or at no stderr at all, so
// a report on stderr could pass unseen. scripts/test fails when any file
// is there after the suite. Running a sanitizer build's tool by hand, look
// there too (or set ASAN_OPTIONS=log_path=stderr and so on: the environment
// overrides each option given here).
//
// A report stops the program with SIGABRT (abort_on_error), which no tool
// exits with on its own, so that even a test that only checks for a
// failure sees something it did not expect. ASan's leak check runs at every
// normal exit; a process that execs (lock -- COMMAND) or ends with _exit
// (forked children in the unit tests) is not checked, by design of LSan.

#ifndef IPCTK_SANITIZER_REPORT_DIR
#error "built only in a sanitizer build (see meson.build)"
#endif

#define IPCTK_REPORT_PATH(kind) "log_path=" IPCTK_SANITIZER_REPORT_DIR "/" kind

extern "C" {

// `used`: nothing in the program calls these; the runtimes look them up.
__attribute__((used, visibility("default"))) const char* __asan_default_options() {
  return IPCTK_REPORT_PATH("asan")
      ":abort_on_error=1:detect_leaks=1:strict_string_checks=1"
      ":check_initialization_order=1:strict_init_order=1";
}

__attribute__((used, visibility("default"))) const char* __ubsan_default_options() {
  return IPCTK_REPORT_PATH("ubsan")
      ":abort_on_error=1:halt_on_error=1:print_stacktrace=1";
}

__attribute__((used, visibility("default"))) const char* __tsan_default_options() {
  return IPCTK_REPORT_PATH("tsan")
      ":abort_on_error=1:halt_on_error=1:second_deadlock_stack=1";
}

}  // extern "C"
