// sysv-shm: System V shared memory segments from the shell, as JSON.
// Each subcommand binds its flags to an args struct and hands it to the
// library; see sysv-shm(1).

#include "shm_cli.h"
#include "tool.h"

using namespace ipctk;

int main(int argc, char** argv) {
  Tool tool("sysv-shm", "System V shared memory segments, as JSON");

  ShmCreateArgs create;
  CLI::App* c = tool.add("create", "Create a segment (or open its key)",
      [&](const Context& ctx) { return shm_create_command(create, ctx); });
  add_value(c, "--size", create.size, "Size in bytes; suffixes K M G (1024), KB MB GB (1000)");
  add_value(c, "--key", create.key, "Key: decimal, 0x hex, or 'private'");
  c->add_flag("--private", create.is_private, "A new segment with no key (IPC_PRIVATE)");
  add_value(c, "--key-path", create.key_path, "Derive the key with ftok(3) from this path");
  add_value(c, "--proj-id", create.proj_id, "The ftok project id 1..255");
  add_value(c, "--mode", create.mode, "Permissions in octal (default 0600)");
  c->add_flag("--excl", create.excl, "Fail with EEXIST if the key exists");
  c->add_flag("--hugetlb", create.hugetlb, "Back the segment with huge pages");
  c->add_flag("--noreserve", create.noreserve, "Do not reserve swap space");

  ShmAttachArgs attach;
  CLI::App* a = tool.add("attach", "Attach and hold: --hold S, until stdin ends, or -- COMMAND",
      [&](const Context& ctx) { return shm_attach_command(attach, ctx); },
      /*takes_command=*/true);
  add_target(a, attach.target, "segment");
  a->add_flag("--readonly", attach.readonly, "Attach read-only (SHM_RDONLY)");
  add_value(a, "--hold", attach.hold, "Hold for this many seconds");

  ShmReadArgs read;
  CLI::App* r = tool.add("read", "Read bytes as JSON, or raw with --raw",
      [&](const Context& ctx) { return shm_read_command(read, ctx); });
  add_target(r, read.target, "segment");
  add_value(r, "--offset", read.offset, "Start at this byte (default 0)");
  add_value(r, "--length", read.length, "Read this many bytes (default: to the end)");
  add_value(r, "--encoding", read.encoding, "base64 (default), hex or utf8");
  r->add_flag("--raw", read.raw, "Write the bytes themselves to stdout");

  ShmWriteArgs write;
  CLI::App* w = tool.add("write", "Write bytes from a flag, a file or stdin",
      [&](const Context& ctx) { return shm_write_command(write, ctx); });
  add_target(w, write.target, "segment");
  add_value(w, "--offset", write.offset, "Start at this byte (default 0)");
  add_value(w, "--length", write.length, "The region written (default: to the end)");
  add_optional(w, "--data", write.data, "The bytes of this string");
  add_optional(w, "--hex", write.hex, "Bytes in hex");
  add_optional(w, "--base64", write.base64, "Bytes in base64");
  add_value(w, "--file", write.file, "Bytes of this file ('-' is stdin, the default)");
  w->add_flag("--zero-fill", write.zero_fill, "Zero the rest of the region");

  ShmRmArgs rm;
  CLI::App* m = tool.add("rm", "Remove segments (deferred while attached)",
      [&](const Context& ctx) { return shm_rm_command(rm, ctx); });
  m->add_option("id", rm.ids, "Segment ids");
  // One key per --key, so that `rm --key K 5` still reads 5 as an id.
  m->add_option("--key", rm.keys, "Segment keys (repeatable)")->allow_extra_args(false);

  ShmStatArgs stat;
  CLI::App* s = tool.add("stat", "Everything IPC_STAT says of a segment",
      [&](const Context& ctx) { return shm_stat_command(stat, ctx); });
  add_target(s, stat.target, "segment");

  ShmListArgs list;
  CLI::App* l = tool.add("list", "Every segment visible to the caller",
      [&](const Context& ctx) { return shm_list_command(list, ctx); });
  add_value(l, "--key", list.key, "Only the segment with this key");
  add_value(l, "--owner", list.owner, "Only segments owned by this uid");
  add_value(l, "--creator-pid", list.creator_pid, "Only segments created by this pid");

  tool.add("info", "The kernel's limits and current usage",
      [&](const Context& ctx) { return shm_info_command(ctx); });

  ShmSetArgs set;
  CLI::App* t = tool.add("set", "Change mode, owner uid or gid (IPC_SET)",
      [&](const Context& ctx) { return shm_set_command(set, ctx); });
  add_target(t, set.target, "segment");
  add_value(t, "--mode", set.mode, "New permissions in octal");
  add_value(t, "--uid", set.uid, "New owner uid");
  add_value(t, "--gid", set.gid, "New owner gid");

  ShmStatArgs lock;
  CLI::App* k = tool.add("lock", "Lock the segment in memory (SHM_LOCK)",
      [&](const Context& ctx) { return shm_lock_command(lock, true, ctx); });
  add_target(k, lock.target, "segment");

  ShmStatArgs unlock;
  CLI::App* u = tool.add("unlock", "Let the segment be swapped again (SHM_UNLOCK)",
      [&](const Context& ctx) { return shm_lock_command(unlock, false, ctx); });
  add_target(u, unlock.target, "segment");

  return tool.run(argc, argv);
}
