#include "tool.h"

#include <sys/ipc.h>

#include <cstring>
#include <exception>
#include <sstream>

#include "io.h"
#include "ipctk_version.h"
#include "parse.h"

namespace ipctk {

Tool::Tool(std::string name, std::string description)
    : app_(std::move(description), std::move(name)) {
  app_.add_flag("--pretty", pretty_, "Indent the JSON output");
  app_.set_version_flag("--version", std::string(IPCTK_VERSION));
  app_.require_subcommand(1);
  app_.fallthrough();
}

Subcommand& Tool::add(std::string name, std::string description,
                      Options options, Action action, bool takes_command) {
  subs_.push_back(Subcommand(std::move(name), std::move(description),
                             std::move(options), std::move(action),
                             takes_command));
  return subs_.back();
}

namespace {

/// Whether argv's words may name a table flag, or ask for help (which
/// lists them): a short-flag cluster with t, b or h ("-tb"), or a long flag
/// that starts like one. Declaring the three flags cost a fifth of a
/// `stat` call's instructions (callgrind: ~60K of 300K), so a call that
/// cannot be using them goes without them.
bool may_name_table_flags(const std::vector<std::string>& args) {
  for (const std::string& w : args) {
    if (w.size() < 2 || w[0] != '-') continue;
    if (w[1] != '-') {
      if (w.find_first_of("tbh") != std::string::npos) return true;
      continue;
    }
    for (const char* flag : {"--table", "--no-headings", "--bytes", "--help"})
      if (w.compare(0, std::strlen(flag), flag) == 0) return true;
  }
  return false;
}

}  // namespace

void Tool::build(Subcommand& sub, bool table_flags) {
  sub.app_ = app_.add_subcommand(sub.name_, sub.description_);
  sub.options_(sub.app_);
  if (sub.has_table_ && table_flags) {
    CLI::Option* table = sub.app_->add_flag(
        "-t,--table", sub.table_flag_, "Show a table for people instead of JSON");
    sub.app_->add_flag("--no-headings", sub.no_headings_,
                       "Leave out the heading line (with --table)")
        ->needs(table);
    if (sub.sizes_)
      sub.app_->add_flag("-b,--bytes", sub.bytes_,
                         "Sizes in bytes, not 4K or 1.5M (with --table)")
          ->needs(table);
  }
  if (!sub.examples_.empty()) {
    std::string footer = sub.examples_.size() == 1 ? "\nExample:" : "\nExamples:";
    for (const std::string& e : sub.examples_) footer += "\n  " + e;
    footer += '\n';
    sub.app_->footer(footer);
  }
}

int Tool::print_text(const CLI::Error& e) {
  std::ostringstream out, err;
  int status = app_.exit(e, out, err);
  // Help and version go to `out`; `err` stays empty for them, but nothing
  // CLI11 says is dropped.
  for (auto [fd, text] : {std::pair<int, std::string>(1, out.str()),
                          std::pair<int, std::string>(2, err.str())}) {
    if (text.empty()) continue;
    auto written = write_all(fd, text.data(), text.size(),
                             fd == 1 ? "stdout" : "stderr");
    if (!written && fd == 1) {
      print_error(written.error());
      return kExitFailed;
    }
  }
  return status;
}

int Tool::run(int argc, char** argv) {
  guard_standard_fds();
  try {
    // `--` ends ipctk's own arguments: what follows is a command to run, and
    // CLI11 must not see it (it would fill positionals with it).
    Context ctx;
    std::vector<std::string> args;
    bool has_command = false;
    for (int i = 1; i < argc; ++i) {
      if (!has_command && std::string_view(argv[i]) == "--") {
        has_command = true;
        continue;
      }
      (has_command ? ctx.command : args).emplace_back(argv[i]);
    }
    // The top level has flags only, so the first other word names the
    // subcommand; CLI11 would call a stray word an extra positional.
    const Subcommand* selected = nullptr;
    for (const std::string& word : args) {
      if (word.empty() || word[0] == '-') continue;
      for (const Subcommand& sub : subs_)
        if (sub.name_ == word) selected = &sub;
      if (selected == nullptr) {
        print_error(usage_error("'" + word + "' is not a subcommand",
                                "see '" + app_.get_name() + " --help'"));
        return kExitUsage;
      }
      break;
    }
    for (Subcommand& sub : subs_)
      if (selected == nullptr || selected == &sub)
        build(sub, selected == nullptr || may_name_table_flags(args));
    std::reverse(args.begin(), args.end());
    try {
      app_.parse(args);
    } catch (const CLI::CallForHelp& e) {
      return print_text(e);
    } catch (const CLI::CallForAllHelp& e) {
      return print_text(e);
    } catch (const CLI::CallForVersion& e) {
      return print_text(e);
    } catch (const CLI::ParseError& e) {
      print_error(usage_error(e.what(), "see '" + app_.get_name() +
                                            " --help'"));
      return kExitUsage;
    }
    ctx.pretty = want_pretty(pretty_);
    for (const Subcommand& sub : subs_) {
      if (sub.app_ == nullptr || !sub.app_->parsed()) continue;
      if (sub.table_flag_) ctx.table = TableOptions{!sub.no_headings_, sub.bytes_};
      if (has_command && !sub.takes_command_) {
        print_error(usage_error("'" + sub.app_->get_name() +
                                "' does not run a command after '--'"));
        return kExitUsage;
      }
      if (has_command && ctx.command.empty()) {
        print_error(usage_error("nothing after '--'",
                                "give a command to run, or drop '--'"));
        return kExitUsage;
      }
      auto outcome = sub.action_(ctx);
      if (!outcome) {
        // A subcommand that printed its own document (before holding or
        // running a command) and found no reader ends like the frame does.
        end_if_stdout_broken();
        print_error(outcome.error());
        return outcome.error().exit_status;
      }
      if (outcome->doc) {
        // A view that throws (a document of another shape) is a bug, and
        // reported as one by the catch below, before anything is printed.
        View view = outcome->view ? outcome->view : sub.view_;
        auto printed = ctx.table && view
                           ? print_output(view(*outcome->doc, *ctx.table))
                           : print_document(*outcome->doc, ctx.pretty);
        if (!printed) {
          Error e = printed.error();
          if (outcome->undo) e.hint = outcome->undo();
          else if (!outcome->done.empty()) e.hint = outcome->done;
          end_if_stdout_broken();
          print_error(e);
          return kExitFailed;
        }
      }
      return outcome->exit_status;
    }
    print_error(usage_error("no subcommand given"));
    return kExitUsage;
  } catch (const std::exception& e) {
    print_error(Error{"internal", EPROTO, e.what(), "", kExitFailed});
    return kExitFailed;
  }
}

void add_target_keys(CLI::App* sub, TargetArgs& target,
                     const std::string& noun) {
  CLI::Option* key = add_value(
      sub, "--key", target.key,
      "The " + noun + "'s key (decimal or 0x hex) instead of an id");
  CLI::Option* path = add_value(
      sub, "--key-path", target.key_path,
      "Derive the key with ftok(3) from this existing path");
  CLI::Option* proj = add_value(sub, "--proj-id", target.proj_id,
                                "The ftok project id 1..255 (with --key-path)");
  path->excludes(key)->needs(proj);
  proj->needs(path);
}

Status take_target_id(TargetArgs& target, std::vector<std::string>& words) {
  if (!target.key.empty() || !target.key_path.empty()) return Ok{};
  if (words.empty())
    return usage_error("no target given", "give an ID, --key K, or "
                                          "--key-path P --proj-id N");
  target.id = words.front();
  words.erase(words.begin());
  return Ok{};
}

void add_target(CLI::App* sub, TargetArgs& target, const std::string& noun) {
  CLI::Option* id = sub->add_option("id", target.id, "The " + noun + "'s id");
  add_target_keys(sub, target, noun);
  sub->get_option("--key")->excludes(id);
  sub->get_option("--key-path")->excludes(id);
}

void add_creation_key(CLI::App* sub, std::string& key, bool& is_private,
                      std::string& key_path, std::string& proj_id) {
  CLI::Option* k = add_value(sub, "--key", key,
                             "Key: decimal, 0x hex, or 'private'");
  CLI::Option* p = sub->add_flag("--private", is_private,
                                 "A new object with no key (IPC_PRIVATE)");
  CLI::Option* path = add_value(sub, "--key-path", key_path,
                                "Derive the key with ftok(3) from this path");
  CLI::Option* proj = add_value(sub, "--proj-id", proj_id,
                                "The ftok project id 1..255");
  p->excludes(k);
  path->excludes(k)->excludes(p)->needs(proj);
  proj->needs(path);
}

Result<std::optional<key_t>> target_key(const TargetArgs& t) {
  // Conflicting and incomplete combinations are refused by the options'
  // excludes/needs (add_target); only "none at all" is left to see here.
  if (t.id.empty() && t.key.empty() && t.key_path.empty())
    return usage_error("no target given", "give an ID, --key K, or "
                                          "--key-path P --proj-id N");
  if (!t.key.empty()) {
    auto key = parse_key(t.key);
    if (!key) return key.error();
    if (*key == IPC_PRIVATE)
      return usage_error("--key: a private object has no key to look up",
                         "name it by its id");
    return std::optional<key_t>(*key);
  }
  if (!t.key_path.empty()) {
    auto key = ftok_key(t.key_path, t.proj_id);
    if (!key) return key.error();
    return std::optional<key_t>(*key);
  }
  return std::optional<key_t>();
}

Result<key_t> creation_key(const std::string& key, const std::string& key_path,
                           const std::string& proj_id) {
  if (!key.empty()) return parse_key(key);
  if (!key_path.empty()) return ftok_key(key_path, proj_id);
  return key_t{IPC_PRIVATE};
}

CLI::Option* add_value(CLI::App* sub, const std::string& name,
                       std::string& value, const std::string& help) {
  return sub->add_option(name, value, help)->check(non_empty());
}

CLI::Validator non_empty() {
  // An empty value would read as "not given" and quietly fall back to the
  // default (--path '' to the default segment, --timeout '' to no timeout).
  return CLI::Validator(
      [](std::string& v) {
        return v.empty() ? std::string("an empty value is not allowed")
                         : std::string();
      },
      "", "non-empty");
}

CLI::Option* add_optional(CLI::App* sub, const std::string& name,
                          std::optional<std::string>& value,
                          const std::string& help) {
  return sub->add_option_function<std::string>(
      name, [&value](const std::string& v) { value = v; }, help);
}

std::function<std::string()> remove_again(std::string what,
                                          std::function<Status()> remove) {
  return [what = std::move(what), remove = std::move(remove)]() -> std::string {
    auto rm = remove();
    if (!rm)
      return what + ", which this call created, could not be removed again: " +
             rm.error().message;
    return what + ", which this call created, was removed again";
  };
}

}  // namespace ipctk
