#include "sem_cli.h"

#include <sys/ipc.h>

#include <climits>
#include <cstdint>
#include <optional>

#include "ipc_perm.h"
#include "parse.h"
#include "proc_users.h"
#include "process.h"
#include "sem_set.h"
#include "sysv_list.h"

namespace ipctk {

namespace {

/// How long `get --init` waits for another process's new set to be
/// initialized. Its creator does that in two syscalls right after creating
/// it, so only a creator that died half way makes anyone wait this long.
constexpr double kReadyWait = 5.0;

Outcome document(Json doc) { return Outcome{std::move(doc), kExitOk}; }

/// A document for a change that stays made if it cannot be printed: the
/// error's hint then says so.
Outcome changed(Json doc, std::string done) {
  Outcome out{std::move(doc), kExitOk};
  out.done = std::move(done);
  return out;
}

Result<int> resolve(const TargetArgs& target) {
  auto key = target_key(target);
  if (!key) return key.error();
  if (*key) return sem_find(**key);
  return parse_id(target.id);
}

/// A value above the kernel's SEMVMX is refused before anything changes.
Status check_values(const std::vector<unsigned>& values, const char* what) {
  auto limits = sem_limits();
  if (!limits) return limits.error();
  for (unsigned v : values)
    if (v > limits->semvmx)
      return Error{"usage", ERANGE,
                   std::string(what) + ": " + std::to_string(v) +
                       " is above SEMVMX (" + std::to_string(limits->semvmx) +
                       ")",
                   "a semaphore holds 0.." + std::to_string(limits->semvmx) +
                       "; nothing was changed",
                   kExitUsage};
  return Ok{};
}

/// The values to give a set of `nsems` semaphores: one value for all, or
/// one each.
Result<std::vector<unsigned>> spread(std::vector<unsigned> values,
                                     unsigned nsems, const char* what) {
  if (values.size() == 1) return std::vector<unsigned>(nsems, values[0]);
  if (values.size() != nsems)
    return usage_error(std::string(what) + ": " +
                           std::to_string(values.size()) + " values for " +
                           std::to_string(nsems) + " semaphores",
                       "give one value for all, or one per semaphore");
  return values;
}

/// What op, P and V share once their operations are known: check them,
/// apply them in one call, report the values, and exec the command.
struct OpRun {
  TargetArgs target;
  std::vector<SemOpSpec> ops;
  std::optional<double> timeout;
  std::optional<int> conflict_exit_code;
};

/// --timeout and --conflict-exit-code, as op and P take them.
Status parse_waiting(const std::string& timeout, const std::string& code,
                     OpRun* run) {
  if (!timeout.empty()) {
    auto s = parse_seconds(timeout, "--timeout");
    if (!s) return s.error();
    run->timeout = *s;
  }
  if (!code.empty()) {
    auto c = parse_uint(code, "--conflict-exit-code", 255);
    if (!c) return c.error();
    if (*c == 0)
      return usage_error("--conflict-exit-code: 0 would make a conflict "
                         "look like success",
                         "use 1..255 (the default is 3)");
    run->conflict_exit_code = static_cast<int>(*c);
  }
  return Ok{};
}

Result<Outcome> run_ops(const OpRun& run, const Context& ctx) {
  bool undo = false;
  for (const SemOpSpec& op : run.ops) undo = undo || op.undo;
  if (undo && ctx.command.empty())
    return usage_error(
        "undo without -- COMMAND: the kernel would undo the operation the "
        "moment this tool exits",
        "add '-- COMMAND' to hold it while the command runs, or drop undo");
  Command command;
  if (!ctx.command.empty()) {
    auto found = find_command(ctx.command);
    if (!found) return found.error();
    command = std::move(*found);
  }
  auto id = resolve(run.target);
  if (!id) return id.error();
  // The size is checked first so that a bad NUM names the SPEC; a caller
  // who may alter but not read the set (mode 0200) leaves it to the kernel.
  auto info = sem_stat(*id);
  if (!info && info.error().err != EACCES) return info.error();
  if (info) {
    auto fits = sem_check_ops(run.ops, *info);
    if (!fits) return fits.error();
  }
  if (undo) {
    // Linux gives a process its undo record for the set before it checks
    // the call, and the exit of a process that has one stamps the set's
    // otime (exit_sem): a refused semop with undo would still change the
    // set. So what can be checked ahead is: the permission (from /proc when
    // the set cannot be read) and the semaphore numbers.
    auto seen = info ? Result<SemInfo>(*info) : sem_describe(*id);
    if (!seen) return seen.error();
    auto fits = sem_check_ops(run.ops, *seen);
    if (!fits) return fits.error();
    bool alter = false;  // as semop decides: any change needs alter
    for (const SemOpSpec& op : run.ops) alter = alter || op.delta != 0;
    if (!ipc_allows(seen->uid, seen->cuid, seen->gid, seen->cgid, seen->mode,
                    alter ? kIpcWrite : kIpcRead))
      return sys_error("semop", EACCES, sem_text(*id),
                       alter ? "the set's mode does not let this caller "
                               "alter it"
                             : "the set's mode does not let this caller "
                               "read it");
  }
  {
    // Handlers only where the call can wait: adding to a semaphore, and
    // anything with nowait, returns at once.
    bool may_wait = false;
    for (const SemOpSpec& op : run.ops)
      may_wait = may_wait || (op.delta <= 0 && !op.nowait);
    std::optional<InterruptCatcher> interrupts;
    if (may_wait) interrupts.emplace();
    auto applied = sem_apply(*id, run.ops, run.timeout,
                             interrupts ? &*interrupts : nullptr);
    if (!applied) {
      Error e = applied.error();
      if (e.exit_status == kExitWouldBlock && run.conflict_exit_code)
        e.exit_status = static_cast<ExitStatus>(*run.conflict_exit_code);
      return e;
    }
    // A signal that came as the wait ended: the operations are applied
    // (and reported, when that is all there is to do), but a command is
    // not started for someone who asked this tool to stop.
    int late = interrupts ? interrupts->caught() : 0;
    if (late != 0 && !ctx.command.empty())
      return Error{"semop", EINTR,
                   signal_name(late) + " arrived as the operations were "
                                       "applied; the command was not run",
                   undo ? "undo operations are undone as this tool exits; "
                          "the others stay applied"
                        : "the operations stay applied",
                   static_cast<ExitStatus>(kExitSignalBase + late)};
  }
  Json doc;
  doc["id"] = *id;
  Json ops = Json::array();
  for (const SemOpSpec& op : run.ops) ops.push_back(to_json(op));
  doc["operations"] = std::move(ops);
  // Read right after: other processes may have moved them since.
  doc["values"] = nullptr;
  if (info) {
    auto values = sem_values(*id, info->nsems);
    if (values) doc["values"] = *values;
  }
  // Printed here, not by the frame: the operations are applied, and an
  // output that fails must say so rather than pass for "nothing happened".
  auto printed = print_document(doc, ctx.pretty);
  if (!printed) {
    Error e = printed.error();
    e.hint = "the operations were applied all the same" +
             std::string(undo && !ctx.command.empty()
                             ? " (undo ones are undone as this tool exits)"
                             : "");
    return e;
  }
  if (ctx.command.empty()) return Outcome{std::nullopt, kExitOk};
  // exec, not fork: the undo records are this process's, so they last as
  // long as the command does, however it ends.
  return exec_command(command);
}

}  // namespace

Result<Outcome> sem_get_command(const SemGetArgs& a, const Context&) {
  if (a.key.empty() && a.key_path.empty() && !a.is_private)
    return usage_error("no key given",
                       "give --key K, --key-path P --proj-id N, or --private");
  auto key = creation_key(a.key, a.key_path, a.proj_id);
  if (!key) return key.error();
  bool creating = a.create || *key == IPC_PRIVATE;
  if (a.excl && !creating)
    return usage_error("--excl needs --create");
  if (!a.init.empty() && !creating)
    return usage_error("--init needs --create",
                       "values are given only to a set this call creates");
  auto mode = parse_mode(a.mode);
  if (!mode) return mode.error();
  SemGetRequest request;
  request.key = *key;
  request.mode = *mode;
  request.create = creating;
  request.excl = a.excl;
  bool nsems_given = !a.nsems.empty();
  if (nsems_given) {
    auto n = parse_uint(a.nsems, "--nsems", INT_MAX);
    if (!n) return n.error();
    if (*n == 0 && creating)
      return usage_error("--nsems: a new set has at least 1 semaphore");
    request.nsems = static_cast<unsigned>(*n);
  } else if (creating) {
    request.nsems = 1;
  }
  if (!a.init.empty()) {
    auto values = parse_value_list(a.init, "--init");
    if (!values) return values.error();
    if (!nsems_given) request.nsems = static_cast<unsigned>(values->size());
    auto spreaded = spread(std::move(*values), request.nsems, "--init");
    if (!spreaded) return spreaded.error();
    auto fits = check_values(*spreaded, "--init");
    if (!fits) return fits.error();
    request.init = std::move(*spreaded);
    request.wait_ready = kReadyWait;
  }
  auto got = sem_get(request);
  if (!got) return got.error();
  // A set created with a mode that denies its owner reading (0200) is
  // described from /proc, and its values are null.
  auto info = sem_describe(got->id);
  if (!info) {
    if (got->created) (void)sem_remove(got->id);
    return info.error();
  }
  Json doc = to_json(*info);
  doc["created"] = got->created;
  auto values = sem_values(got->id, info->nsems);
  doc["values"] = values ? Json(*values) : Json(nullptr);
  Outcome out = document(std::move(doc));
  // A set this call made is removed again if no one can be told its id.
  if (got->created) {
    int id = got->id;
    out.undo = remove_again("set " + std::to_string(id),
                            [id] { return sem_remove(id); });
  }
  return out;
}

Result<Outcome> sem_op_command(const SemOpArgs& a, const Context& ctx) {
  OpRun run;
  run.target = a.target;
  std::vector<std::string> words = a.words;
  auto target = take_target_id(run.target, words);
  if (!target) return target.error();
  if (words.empty())
    return usage_error("no operation given",
                       "give at least one SPEC, NUM:DELTA[:undo][:nowait]");
  for (const std::string& word : words) {
    auto spec = parse_sem_op(word);
    if (!spec) return spec.error();
    if (a.undo) spec->undo = true;
    if (a.nowait) spec->nowait = true;
    run.ops.push_back(*spec);
  }
  auto waiting = parse_waiting(a.timeout, a.conflict_exit_code, &run);
  if (!waiting) return waiting.error();
  return run_ops(run, ctx);
}

Result<Outcome> sem_pv_command(const SemPvArgs& a, bool release,
                               const Context& ctx) {
  OpRun run;
  run.target = a.target;
  std::vector<std::string> words = a.words;
  auto target = take_target_id(run.target, words);
  if (!target) return target.error();
  if (words.size() > 1)
    return usage_error("'" + words[1] + "' is one word too many",
                       "the form is ID [NUM]");
  SemOpSpec op;
  if (!words.empty()) {
    auto num = parse_uint(words[0], "NUM", 65535);
    if (!num) return num.error();
    op.num = static_cast<unsigned>(*num);
  }
  auto by = parse_uint(a.by, "--by", 32767);
  if (!by) return by.error();
  if (*by == 0)
    return usage_error("--by: 0 changes nothing",
                       "use 'sysv-sem op ID NUM:0' to wait for zero");
  op.delta = release ? static_cast<int>(*by) : -static_cast<int>(*by);
  op.undo = a.undo;
  op.nowait = a.nowait;
  run.ops.push_back(op);
  auto waiting = parse_waiting(a.timeout, a.conflict_exit_code, &run);
  if (!waiting) return waiting.error();
  return run_ops(run, ctx);
}

Result<Outcome> sem_stat_command(const SemStatArgs& a, const Context&) {
  auto id = resolve(a.target);
  if (!id) return id.error();
  auto info = sem_stat(*id);
  if (!info) return info.error();
  auto states = sem_states(*id, info->nsems);
  if (!states) return states.error();
  Json doc = to_json(*info);
  doc["semaphores"] = to_json(*states);
  if (a.processes) {
    ProcessUses waiters = set_waiters(*id);
    doc["waiting"] = to_json(waiters, /*waiters=*/true);
    doc["waiting_unreadable"] = waiters.unreadable;
  }
  return document(std::move(doc));
}

Result<Outcome> sem_set_command(const SemSetArgs& a, const Context&) {
  bool set_values = !a.values.empty() || !a.all.empty();
  bool set_perm = !a.mode.empty() || !a.uid.empty() || !a.gid.empty();
  if (!set_values && !set_perm)
    return usage_error("nothing to set",
                       "give --value NUM=V, --all V,..., --mode, --uid or --gid");
  if (set_values && set_perm)
    return usage_error("values and permissions are set by separate calls",
                       "run 'sysv-sem set' once for each");
  if (set_perm) {
    auto request = parse_perm_change(a.mode, a.uid, a.gid);
    if (!request) return request.error();
    auto id = resolve(a.target);
    if (!id) return id.error();
    auto current = sem_describe(*id);
    if (!current) return current.error();
    auto set = sem_set_perm(*current, *request);
    if (!set) return set.error();
    auto info = sem_describe(*id);
    if (!info) return info.error();
    return changed(to_json(*info), "the change was made all the same");
  }

  // Values: everything is parsed and checked (numbers in range, values up
  // to SEMVMX, no semaphore named twice) before the first one is set.
  std::vector<SemAssignment> assignments;
  for (const std::string& text : a.values) {
    auto as = parse_assignment(text, "--value");
    if (!as) return as.error();
    for (const SemAssignment& prior : assignments)
      if (prior.num == as->num)
        return usage_error("--value: semaphore " + std::to_string(as->num) +
                           " is given twice");
    assignments.push_back(*as);
  }
  std::vector<unsigned> all;
  if (!a.all.empty()) {
    auto values = parse_value_list(a.all, "--all");
    if (!values) return values.error();
    all = std::move(*values);
  }
  std::vector<unsigned> checked = all;
  for (const SemAssignment& as : assignments) checked.push_back(as.value);
  auto fits = check_values(checked, a.all.empty() ? "--value" : "--all");
  if (!fits) return fits.error();
  auto id = resolve(a.target);
  if (!id) return id.error();
  // Setting values needs alter permission only: a set this caller may not
  // read is described from /proc.
  auto info = sem_describe(*id);
  if (!info) return info.error();
  for (const SemAssignment& as : assignments)
    if (as.num >= info->nsems)
      return Error{"semctl", EFBIG,
                   "--value: semaphore " + std::to_string(as.num) +
                       " is out of range: " + sem_text(*id) + " has " +
                       std::to_string(info->nsems),
                   "nothing was changed", kExitFailed};
  if (!a.all.empty()) {
    auto spreaded = spread(std::move(all), info->nsems, "--all");
    if (!spreaded) return spreaded.error();
    auto set = sem_set_all(*id, *spreaded);
    if (!set) return set.error();
  }
  // One SETVAL each, not GETALL+SETALL: that would overwrite what other
  // processes do to the semaphores not named here in between.
  for (const SemAssignment& as : assignments) {
    auto set = sem_set_value(*id, as.num, as.value);
    if (!set) return set.error();
  }
  auto after = sem_describe(*id);
  if (!after) return after.error();
  auto values = sem_values(*id, after->nsems);
  Json doc = to_json(*after);
  doc["values"] = values ? Json(*values) : Json(nullptr);
  return changed(std::move(doc), "the values were set all the same");
}

Result<Outcome> sem_rm_command(const SemRmArgs& a, const Context&) {
  if (a.ids.empty() && a.keys.empty())
    return usage_error("nothing to remove", "give IDs or --key K");
  // Every target is resolved and checked first, so that a bad one removes
  // nothing.
  std::vector<SemInfo> targets;
  auto add = [&](Result<int> id) -> Status {
    if (!id) return id.error();
    auto info = sem_describe(*id);
    if (!info) return info.error();
    auto owner = sem_check_owner(*info);
    if (!owner) return owner.error();
    for (const SemInfo& t : targets)
      if (t.id == info->id) return Ok{};
    targets.push_back(*info);
    return Ok{};
  };
  for (const auto& text : a.ids) {
    auto added = add(parse_id(text));
    if (!added) return added.error();
  }
  for (const auto& text : a.keys) {
    auto key = parse_key(text);
    if (!key) return key.error();
    auto added = add(sem_find(*key));
    if (!added) return added.error();
  }
  Json removed = Json::array();
  for (const SemInfo& t : targets) {
    auto rm = sem_remove(t.id);
    // Gone between the check and here (someone else removed it): what was
    // asked holds, and the sets already removed must still be reported.
    if (!rm && rm.error().err != EINVAL && rm.error().err != EIDRM)
      return rm.error();
    Json entry;
    entry["id"] = t.id;
    entry["key"] = static_cast<uint32_t>(t.key);
    entry["key_hex"] = key_hex(t.key);
    entry["nsems"] = t.nsems;
    removed.push_back(std::move(entry));
  }
  Json doc;
  doc["removed"] = std::move(removed);
  return changed(std::move(doc), "the sets were removed all the same");
}

Result<Outcome> sem_list_command(const SemListArgs& a, const Context&) {
  std::optional<key_t> key;
  std::optional<uint64_t> owner;
  if (!a.key.empty()) {
    auto k = parse_key(a.key);
    if (!k) return k.error();
    key = *k;
  }
  if (!a.owner.empty()) {
    auto u = parse_uint(a.owner, "--owner", UINT32_MAX);
    if (!u) return u.error();
    owner = *u;
  }
  auto all = list_sem_sets();
  if (!all) return all.error();
  Json sets = Json::array();
  for (const SemInfo& s : *all) {
    if (key && s.key != *key) continue;
    if (owner && s.uid != *owner) continue;
    Json j = to_json(s);
    if (a.values) {
      // A set this caller may not read (or one removed since the listing)
      // has no table rather than failing the whole list.
      auto states = sem_states(s.id, s.nsems);
      j["semaphores"] = states ? to_json(*states) : Json(nullptr);
    }
    sets.push_back(std::move(j));
  }
  Json doc;
  doc["count"] = sets.size();
  doc["sets"] = std::move(sets);
  return document(std::move(doc));
}

Result<Outcome> sem_info_command(const Context&) {
  auto limits = sem_limits();
  if (!limits) return limits.error();
  return document(to_json(*limits));
}

}  // namespace ipctk
