#ifndef IPCTK_JSON_OUT_H_
#define IPCTK_JSON_OUT_H_

#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "error.h"

/// The one writer of every tool's output: one JSON document on stdout, one
/// JSON error line on stderr (see ipctk(7)).
namespace ipctk {

using Json = nlohmann::ordered_json;

/// Opens /dev/null on whichever of fds 0, 1 and 2 is closed, so that no
/// descriptor the tool opens later (a signalfd, an input file) lands there
/// and is taken for stdin or stdout. A closed stdout gets /dev/null opened
/// read-only: every write to it (a document, a raw stream, status) still
/// fails with EBADF, as it would have on the closed descriptor, and none
/// can pass for success. Call first thing.
void guard_standard_fds();

/// Pretty when asked, or when stdout is a terminal (a person is reading).
bool want_pretty(bool pretty_flag);

/// Writes `doc` and a newline to stdout in one write(2) sequence. A closed
/// stdout or a full device is an error; the caller must not report success
/// after it. SIGPIPE is held off during the write, so that a reader that
/// has gone is an EPIPE error too and the caller can undo what it did
/// before it ends (see end_if_stdout_broken).
Status print_document(const Json& doc, bool pretty);

/// Like print_document, for a document already serialized (compact, by
/// hand, where building a tree of thousands of entries would cost more
/// than the rest of the command): writes `text` and a newline.
Status print_json_text(std::string text);

/// Writes `text` to stdout as it is (a --table view), with SIGPIPE held
/// off as print_document does.
Status print_output(std::string_view text);

/// After a document could not be written because its reader had gone
/// (EPIPE) and the caller has cleaned up: if SIGPIPE has its default
/// action (and is not blocked), ends the process with SIGPIPE, quietly, as
/// it would have ended at the write itself (a shell reports 141), like any
/// filter whose reader quit. Returns otherwise: with SIGPIPE ignored, the
/// EPIPE error is for the caller to report.
void end_if_stdout_broken();

/// Like print_document, for a document whose last field is a string too
/// large to build in memory: `doc` holds that field as "", and `fill`
/// writes the string's JSON text (escaped, without quotes) through the
/// sink it is given, piece by piece.
Status print_document_streaming(
    const Json& doc, bool pretty,
    const std::function<Status(const std::function<Status(std::string_view)>&)>&
        fill);

/// Writes {"error":{...}} as one line to stderr. Best effort: there is no
/// one left to tell if stderr fails too.
void print_error(const Error& error);

/// The error object alone, for embedding and for tests.
Json error_json(const Error& error);

}  // namespace ipctk

#endif  // IPCTK_JSON_OUT_H_
