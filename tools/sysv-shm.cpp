// sysv-shm: System V shared memory segments from the shell, as JSON.
// One row per subcommand: its flags, bound to an args struct, and the
// library call that carries it out. See sysv-shm(1).

#include "shm_cli.h"
#include "tool.h"
#include "views.h"

using namespace ipctk;

int main(int argc, char** argv) {
  Tool tool("sysv-shm", "System V shared memory segments, as JSON");

  ShmCreateArgs create;
  tool.add("create", "Create a segment (or open its key)",
      [&](CLI::App* c) {
        add_value(c, "--size", create.size, "Size in bytes; suffixes K M G (1024), KB MB GB (1000)")->required();
        add_creation_key(c, create.key, create.is_private, create.key_path, create.proj_id);
        add_value(c, "--mode", create.mode, "Permissions in octal (default 0600)");
        c->add_flag("--excl", create.excl, "Fail with EEXIST if the key exists");
        c->add_flag("--hugetlb", create.hugetlb, "Back the segment with huge pages");
        c->add_flag("--noreserve", create.noreserve, "Do not reserve swap space");
      },
      [&](const Context& ctx) { return shm_create_command(create, ctx); })
      .example("sysv-shm create --size 1M --key 0x1234 --excl")
      .example("sysv-shm create --size 64K --private --mode 0660");

  ShmAttachArgs attach;
  tool.add("attach", "Attach and hold: --hold S, until stdin ends, or -- COMMAND",
      [&](CLI::App* a) {
        add_target(a, attach.target, "segment");
        a->add_flag("--readonly", attach.readonly, "Attach read-only (SHM_RDONLY)");
        add_value(a, "--hold", attach.hold, "Hold for this many seconds");
      },
      [&](const Context& ctx) { return shm_attach_command(attach, ctx); },
      /*takes_command=*/true)
      .example("sysv-shm attach 5 --hold 30")
      .example("sysv-shm attach --key 0x1234 -- ./client");

  ShmReadArgs read;
  tool.add("read", "Read bytes as JSON, or raw with --raw",
      [&](CLI::App* r) {
        add_target(r, read.target, "segment");
        add_value(r, "--offset", read.offset, "Start at this byte (default 0)");
        add_value(r, "--length", read.length, "Read this many bytes (default: to the end)");
        add_value(r, "--encoding", read.encoding, "base64 (default), hex or utf8");
        r->add_flag("--raw", read.raw, "Write the bytes themselves to stdout");
      },
      [&](const Context& ctx) { return shm_read_command(read, ctx); })
      .example("sysv-shm read 5 --length 16 --encoding hex")
      .example("sysv-shm read 5 --raw > dump.bin");

  ShmWriteArgs write;
  tool.add("write", "Write bytes from a flag, a file or stdin",
      [&](CLI::App* w) {
        add_target(w, write.target, "segment");
        add_value(w, "--offset", write.offset, "Start at this byte (default 0)");
        add_value(w, "--length", write.length, "The region written (default: to the end)");
        CLI::Option* sources[] = {
            add_optional(w, "--data", write.data, "The bytes of this string"),
            add_optional(w, "--hex", write.hex, "Bytes in hex"),
            add_optional(w, "--base64", write.base64, "Bytes in base64"),
            add_value(w, "--file", write.file, "Bytes of this file ('-' is stdin, the default)")};
        for (CLI::Option* a : sources)
          for (CLI::Option* b : sources)
            if (a != b) a->excludes(b);
        w->add_flag("--zero-fill", write.zero_fill, "Zero the rest of the region");
      },
      [&](const Context& ctx) { return shm_write_command(write, ctx); })
      .example("sysv-shm write 5 --data hello --offset 100")
      .example("sysv-shm write 5 --file image.bin");

  ShmRmArgs rm;
  tool.add("rm", "Remove segments (deferred while attached)",
      [&](CLI::App* m) {
        m->add_option("id", rm.ids, "Segment ids");
        // One key per --key, so that `rm --key K 5` still reads 5 as an id.
        m->add_option("--key", rm.keys, "Segment keys (repeatable)")->allow_extra_args(false);
      },
      [&](const Context& ctx) { return shm_rm_command(rm, ctx); })
      .example("sysv-shm rm 5 7")
      .example("sysv-shm rm --key 0x1234");

  ShmStatArgs stat;
  tool.add("stat", "Everything IPC_STAT says of a segment",
      [&](CLI::App* s) {
        add_target(s, stat.target, "segment");
        s->add_flag("--processes", stat.processes, "Also the processes that have it attached (from /proc)");
      },
      [&](const Context& ctx) { return shm_stat_command(stat, ctx); })
      .example("sysv-shm stat 5")
      .example("sysv-shm stat --key 0x1234 --processes --table")
      .table(shm_stat_view, /*sizes=*/true);

  ShmListArgs list;
  tool.add("list", "Every segment visible to the caller",
      [&](CLI::App* l) {
        add_value(l, "--key", list.key, "Only the segment with this key");
        add_value(l, "--owner", list.owner, "Only segments owned by this uid");
        add_value(l, "--creator-pid", list.creator_pid, "Only segments created by this pid");
      },
      [&](const Context& ctx) { return shm_list_command(list, ctx); })
      .example("sysv-shm list --table")
      .example("sysv-shm list --owner 1000")
      .table(shm_list_view, /*sizes=*/true);

  tool.add("info", "The kernel's limits and current usage",
      [](CLI::App*) {},
      [&](const Context& ctx) { return shm_info_command(ctx); })
      .example("sysv-shm info --table")
      .table(shm_info_view, /*sizes=*/true);

  ShmSetArgs set;
  tool.add("set", "Change mode, owner uid or gid (IPC_SET)",
      [&](CLI::App* t) {
        add_target(t, set.target, "segment");
        add_value(t, "--mode", set.mode, "New permissions in octal");
        add_value(t, "--uid", set.uid, "New owner uid");
        add_value(t, "--gid", set.gid, "New owner gid");
      },
      [&](const Context& ctx) { return shm_set_command(set, ctx); })
      .example("sysv-shm set 5 --mode 0640 --gid 100");

  ShmStatArgs lock;
  tool.add("lock", "Lock the segment in memory (SHM_LOCK)",
      [&](CLI::App* k) { add_target(k, lock.target, "segment"); },
      [&](const Context& ctx) { return shm_lock_command(lock, true, ctx); })
      .example("sysv-shm lock 5");

  ShmStatArgs unlock;
  tool.add("unlock", "Let the segment be swapped again (SHM_UNLOCK)",
      [&](CLI::App* u) { add_target(u, unlock.target, "segment"); },
      [&](const Context& ctx) { return shm_lock_command(unlock, false, ctx); })
      .example("sysv-shm unlock 5");

  return tool.run(argc, argv);
}
