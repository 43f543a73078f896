#ifndef IPCTK_TOOL_H_
#define IPCTK_TOOL_H_

#include <sys/types.h>

#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cli11.h"
#include "error.h"
#include "json_out.h"
#include "table.h"

/// The frame every ipctk binary shares: CLI11 parsing with errors turned into
/// the contract's JSON usage errors (exit 2), one document printed at the
/// end, `-- COMMAND` split off, and exceptions never escaping as crashes.
namespace ipctk {

/// What a subcommand sees besides its own options.
struct Context {
  bool pretty = false;                // --pretty, or stdout is a terminal
  std::vector<std::string> command;   // the words after `--`
  /// --table: a table for people is drawn instead of the JSON (by the
  /// frame from the document, or by a command that streams its own).
  std::optional<TableOptions> table;
};

/// What a subcommand hands back: a document to print, or (for streaming
/// output or a child's status) nothing to print and the exit status.
struct Outcome {
  Outcome(std::optional<Json> document, int status)
      : doc(std::move(document)), exit_status(status) {}

  std::optional<Json> doc;
  int exit_status = kExitOk;
  /// Called when `doc` cannot be written (a closed or full stdout, a pipe
  /// without a reader): takes back what the command did where that can be
  /// done safely (an object it created, a lock it took), since the caller
  /// is told it failed and is never told the id. Returns the error's hint,
  /// saying what was taken back.
  std::function<std::string()> undo;
  /// When `doc` cannot be written and there is nothing to undo: what stays
  /// done all the same, for the error's hint.
  std::string done;
  /// How --table draws `doc` when it is not the subcommand's usual
  /// document (shmctl-lock info --podman); null: the subcommand's view.
  std::string (*view)(const Json&, const TableOptions&) = nullptr;
};

/// An Outcome::undo that removes an object this call created (`what`, e.g.
/// "segment 5") with `remove`, and says in the hint whether that worked.
std::function<std::string()> remove_again(std::string what,
                                          std::function<Status()> remove);

using Action = std::function<Result<Outcome>(const Context&)>;
/// Declares a subcommand's flags on its CLI11 app.
using Options = std::function<void(CLI::App*)>;
/// Draws a subcommand's document as a table (see views.h).
using View = std::string (*)(const Json&, const TableOptions&);

/// A subcommand as Tool::add makes it, with what can be said of it after:
///   tool.add("list", ...).example("sysv-shm list --table").table(shm_list_view);
class Subcommand {
 public:
  /// A command line shown under "Examples:" at the end of its --help.
  Subcommand& example(std::string command_line) {
    examples_.push_back(std::move(command_line));
    return *this;
  }
  /// Offers --table (-t) and --no-headings; with `sizes`, --bytes (-b).
  /// The frame draws the document with `view`; a null view means the
  /// action draws the table itself (a streamed document).
  Subcommand& table(View view, bool sizes = false) {
    has_table_ = true;
    view_ = view;
    sizes_ = sizes;
    return *this;
  }

 private:
  friend class Tool;
  Subcommand(std::string name, std::string description, Options options,
             Action action, bool takes_command)
      : name_(std::move(name)), description_(std::move(description)),
        options_(std::move(options)), action_(std::move(action)),
        takes_command_(takes_command) {}

  std::string name_;
  std::string description_;
  Options options_;
  Action action_;
  bool takes_command_;
  std::vector<std::string> examples_;
  bool has_table_ = false;
  View view_ = nullptr;
  bool sizes_ = false;
  CLI::App* app_ = nullptr;  // built by Tool::run() when needed
  // The table flags, set by parsing.
  bool table_flag_ = false, no_headings_ = false, bytes_ = false;
};

class Tool {
 public:
  Tool(std::string name, std::string description);

  /// Adds a subcommand. Only those with `takes_command` accept `-- COMMAND`.
  Subcommand& add(std::string name, std::string description, Options options,
                  Action action, bool takes_command = false);

  /// Parses argv and runs the subcommand it names. Only that subcommand's
  /// options are built: building every subcommand's parser was most of the
  /// start-up cost of a one-shot call (callgrind: 933K of ~1M instructions
  /// for `stat`). Without a subcommand (--help) all are built.
  int run(int argc, char** argv);

 private:
  /// Declares the subcommand's options, its table flags (unless
  /// `table_flags` is false: see may_name_table_flags) and its examples.
  void build(Subcommand& sub, bool table_flags);
  /// Prints --help or --version text (through a string and write(2), not
  /// std::cout: see cli11.h) and checks that it got out.
  int print_text(const CLI::Error& e);

  CLI::App app_;
  bool pretty_ = false;
  std::deque<Subcommand> subs_;  // add() hands out references: no vector
};

/// How a command names one object: a positional ID, --key K, or
/// --key-path P with --proj-id N.
struct TargetArgs {
  std::string id;
  std::string key;
  std::string key_path;
  std::string proj_id;
};

/// Adds ID, --key, --key-path, --proj-id to `sub`; CLI11 refuses more than
/// one way, and --key-path without --proj-id or the other way round.
void add_target(CLI::App* sub, TargetArgs& target, const std::string& noun);

/// Adds only --key, --key-path and --proj-id, for a command whose ID is
/// the first of several positional words (see take_target_id).
void add_target_keys(CLI::App* sub, TargetArgs& target, const std::string& noun);

/// For a command whose positionals are `[ID] MORE...`: unless a key names
/// the target, moves the first word into target.id. No words and no key
/// is a usage error.
Status take_target_id(TargetArgs& target, std::vector<std::string>& words);

/// Adds --key, --private, --key-path and --proj-id for creating an object,
/// with the same exclusions.
void add_creation_key(CLI::App* sub, std::string& key, bool& is_private,
                      std::string& key_path, std::string& proj_id);

/// The key given by --key or --key-path/--proj-id; nullopt when the target
/// is an id. No target at all is a usage error.
Result<std::optional<key_t>> target_key(const TargetArgs& target);

/// The key for creating: --key, --key-path/--proj-id, or private.
Result<key_t> creation_key(const std::string& key, const std::string& key_path,
                           const std::string& proj_id);

/// Adds "NAME" as a string option whose parsing (and errors) happen in the
/// library, so that every bad value gets the contract's message.
CLI::Option* add_value(CLI::App* sub, const std::string& name,
                       std::string& value, const std::string& help);

/// Refuses an empty value (a usage error), for options and positionals
/// whose empty string would otherwise mean "not given".
CLI::Validator non_empty();

/// Adds an option whose presence matters even with an empty value
/// (--data '').
CLI::Option* add_optional(CLI::App* sub, const std::string& name,
                          std::optional<std::string>& value,
                          const std::string& help);

}  // namespace ipctk

#endif  // IPCTK_TOOL_H_
