#ifndef IPCTK_CLI11_H_
#define IPCTK_CLI11_H_

/// CLI11, without the start-up cost of <iostream>. Include this, never
/// <CLI/CLI.hpp> itself.
///
/// CLI11 2.1 includes <iostream>, and with libstdc++ before 13 every
/// translation unit that includes <iostream> constructs a static
/// std::ios_base::Init, which builds the eight standard streams and the
/// classic locale with all its facets before main. In a one-shot tool that
/// was a fifth of the instructions of `sysv-shm stat` (44K of 246K,
/// callgrind) and 14 of its 52 page faults, for streams that no command
/// uses: documents and errors are written with write(2) (json_out.h), and
/// --help and --version text goes through a string (Tool::print_text).
/// So <iostream>'s include guard is set here and its declarations are
/// repeated without the Init object. CLI11 names std::cout and std::cerr
/// only as App::exit's default streams, which ipctk always passes, and in
/// warnings for deprecated and retired options, which ipctk has none of.
/// A string stream (CLI11's help formatter) sets the locale up on first
/// use, as it always did. Other standard libraries, and libstdc++ 13 (which
/// sets the streams up once, in the library), get the plain include.

#if defined(__GLIBCXX__) && defined(_GLIBCXX_RELEASE) && \
    _GLIBCXX_RELEASE < 13 && !defined(_GLIBCXX_IOSTREAM)
#include <istream>
#include <ostream>
#define _GLIBCXX_IOSTREAM 1
namespace std {
extern istream cin;
extern ostream cout;
extern ostream cerr;
extern ostream clog;
extern wistream wcin;
extern wostream wcout;
extern wostream wcerr;
extern wostream wclog;
}  // namespace std
#include <CLI/CLI.hpp>
// A later #include <iostream> in the same file (a test's) is the real one.
#undef _GLIBCXX_IOSTREAM
#else
#include <CLI/CLI.hpp>
#endif

#endif  // IPCTK_CLI11_H_
