// sysv-sem: System V semaphore sets from the shell, as JSON.
// One row per subcommand: its flags, bound to an args struct, and the
// library call that carries it out. See sysv-sem(1).

#include "sem_cli.h"
#include "tool.h"
#include "views.h"

using namespace ipctk;

int main(int argc, char** argv) {
  Tool tool("sysv-sem", "System V semaphore sets, as JSON");

  SemGetArgs get;
  tool.add("get", "Open a set by key, or create one (--create, --private)",
      [&](CLI::App* g) {
        add_creation_key(g, get.key, get.is_private, get.key_path, get.proj_id);
        add_value(g, "--nsems", get.nsems, "Number of semaphores (default 1 when creating)");
        g->add_flag("--create", get.create, "Create the set if the key has none");
        g->add_flag("--excl", get.excl, "With --create: fail with EEXIST if the key has a set");
        add_value(g, "--mode", get.mode, "Permissions of a new set in octal (default 0600)");
        add_value(g, "--init", get.init, "Values of a new set: V for all, or V,V,... one each");
      },
      [&](const Context& ctx) { return sem_get_command(get, ctx); })
      .example("sysv-sem get --key 0x5e11 --create --nsems 2 --init 1,0")
      .example("sysv-sem get --key 0x5e11");

  SemOpArgs op;
  tool.add("op", "Apply SPECs NUM:DELTA[:undo][:nowait] atomically in one semop",
      [&](CLI::App* o) {
        o->add_option("words", op.words, "ID (unless --key), then SPECs");
        add_target_keys(o, op.target, "set");
        add_value(o, "--timeout", op.timeout, "Give up after this many seconds (exit 3)");
        o->add_flag("--nowait", op.nowait, "Fail at once (exit 3) instead of waiting")->excludes("--timeout");
        o->add_flag("--undo", op.undo, "SEM_UNDO on every SPEC (needs -- COMMAND)");
        add_value(o, "--conflict-exit-code", op.conflict_exit_code, "Exit status for would-block and timeout (default 3)");
      },
      [&](const Context& ctx) { return sem_op_command(op, ctx); },
      /*takes_command=*/true)
      .example("sysv-sem op 3 0:-1 1:+1")
      .example("sysv-sem op 3 0:-1:undo --timeout 5 -- make install");

  SemPvArgs p;
  tool.add("P", "Take (wait and decrement) semaphore NUM (default 0)",
      [&](CLI::App* c) {
        c->add_option("words", p.words, "ID (unless --key), then NUM");
        add_target_keys(c, p.target, "set");
        add_value(c, "--by", p.by, "Take this much (default 1)");
        c->add_flag("--undo", p.undo, "Give it back when the command ends (needs -- COMMAND)");
        add_value(c, "--timeout", p.timeout, "Give up after this many seconds (exit 3)");
        c->add_flag("--nowait", p.nowait, "Fail at once (exit 3) instead of waiting")->excludes("--timeout");
        add_value(c, "--conflict-exit-code", p.conflict_exit_code, "Exit status for would-block and timeout (default 3)");
      },
      [&](const Context& ctx) { return sem_pv_command(p, false, ctx); },
      /*takes_command=*/true)
      .example("sysv-sem P 3 --timeout 10")
      .example("sysv-sem P 3 --undo -- ./critical-section");

  SemPvArgs v;
  tool.add("V", "Give (increment) semaphore NUM (default 0)",
      [&](CLI::App* c) {
        c->add_option("words", v.words, "ID (unless --key), then NUM");
        add_target_keys(c, v.target, "set");
        add_value(c, "--by", v.by, "Give this much (default 1)");
        c->add_flag("--undo", v.undo, "Take it back when the command ends (needs -- COMMAND)");
      },
      [&](const Context& ctx) { return sem_pv_command(v, true, ctx); },
      /*takes_command=*/true)
      .example("sysv-sem V 3")
      .example("sysv-sem V 3 1 --by 2");

  SemStatArgs stat;
  tool.add("stat", "A set and, per semaphore, value, ncnt, zcnt and pid",
      [&](CLI::App* s) {
        add_target(s, stat.target, "set");
        s->add_flag("--processes", stat.processes, "Also the threads blocked on it, and their operations (from /proc)");
      },
      [&](const Context& ctx) { return sem_stat_command(stat, ctx); })
      .example("sysv-sem stat 3 --processes --table")
      .table(sem_stat_view);

  SemSetArgs set;
  tool.add("set", "Set values (SETVAL/SETALL), or mode, uid, gid (IPC_SET)",
      [&](CLI::App* t) {
        add_target(t, set.target, "set");
        t->add_option("--value", set.values, "NUM=V: set one semaphore (repeatable)")->allow_extra_args(false);
        add_value(t, "--all", set.all, "V for all, or V,V,... one each (SETALL)")->excludes("--value");
        add_value(t, "--mode", set.mode, "New permissions in octal");
        add_value(t, "--uid", set.uid, "New owner uid");
        add_value(t, "--gid", set.gid, "New owner gid");
      },
      [&](const Context& ctx) { return sem_set_command(set, ctx); })
      .example("sysv-sem set 3 --all 1,0")
      .example("sysv-sem set 3 --mode 0660");

  SemRmArgs rm;
  tool.add("rm", "Remove sets (waiters fail with EIDRM)",
      [&](CLI::App* m) {
        m->add_option("id", rm.ids, "Set ids");
        // One key per --key, so that `rm --key K 5` still reads 5 as an id.
        m->add_option("--key", rm.keys, "Set keys (repeatable)")->allow_extra_args(false);
      },
      [&](const Context& ctx) { return sem_rm_command(rm, ctx); })
      .example("sysv-sem rm 3")
      .example("sysv-sem rm --key 0x5e11");

  SemListArgs list;
  tool.add("list", "Every semaphore set visible to the caller",
      [&](CLI::App* l) {
        add_value(l, "--key", list.key, "Only the set with this key");
        add_value(l, "--owner", list.owner, "Only sets owned by this uid");
        l->add_flag("--values", list.values, "Add each set's per-semaphore table");
      },
      [&](const Context& ctx) { return sem_list_command(list, ctx); })
      .example("sysv-sem list --table --values")
      .table(sem_list_view);

  tool.add("info", "The kernel's limits and current usage",
      [](CLI::App*) {},
      [&](const Context& ctx) { return sem_info_command(ctx); })
      .example("sysv-sem info --table")
      .table(sem_info_view);

  return tool.run(argc, argv);
}
