// shmctl-lock: a lock manager in shared memory that shell scripts can
// drive, as JSON. One row per subcommand: its flags, bound to an args
// struct, and the library call that carries it out. See shmctl-lock(1).

#include "lock_cli.h"
#include "tool.h"
#include "views.h"

using namespace ipctk;

namespace {

void add_path(CLI::App* app, LockSegmentArgs& segment) {
  add_value(app, "--path", segment.path,
            "/name (POSIX shm) or a file path; default $SHMCTL_LOCK_PATH, "
            "else /shmctl-lock (root) or /shmctl-lock-UID");
  app->add_flag("--any-owner", segment.any_owner,
                "Use a segment owned by another user (refused otherwise)");
}

void add_podman(CLI::App* app, bool& podman) {
  app->add_flag("--podman", podman,
                "Read podman's own lock segment, read-only (default path "
                "/libpod_lock, or /libpod_rootless_lock_UID)")
      ->excludes("--any-owner");
}

}  // namespace

int main(int argc, char** argv) {
  Tool tool("shmctl-lock", "A lock manager in shared memory, as JSON");

  LockInitArgs init;
  tool.add("init", "Create a lock segment",
      [&](CLI::App* c) {
        add_path(c, init);
        add_value(c, "--locks", init.locks, "Number of locks, rounded up to a multiple of 64 (default 2048)");
        add_value(c, "--mode", init.mode, "Permissions in octal (default 0600)");
        c->add_flag("--exist-ok", init.exist_ok, "Open it if it exists (and is valid)");
      },
      [&](const Context& ctx) { return lock_init_command(init, ctx); })
      .example("shmctl-lock init --path /ci-locks --locks 64 --mode 0660");

  LockPathArgs info;
  tool.add("info", "The segment's layout and counts",
      [&](CLI::App* c) {
        add_path(c, info);
        add_podman(c, info.podman);
      },
      [&](const Context& ctx) { return lock_info_command(info, ctx); })
      .example("shmctl-lock info --table")
      .example("shmctl-lock info --podman")
      .table(lock_info_view, /*sizes=*/true);

  LockDestroyArgs destroy;
  tool.add("destroy", "Remove the segment (refused while locks are held)",
      [&](CLI::App* c) {
        add_path(c, destroy);
        c->add_flag("--force", destroy.force, "Remove it even with held locks, or when it is not valid");
      },
      [&](const Context& ctx) { return lock_destroy_command(destroy, ctx); })
      .example("shmctl-lock destroy --path /ci-locks");

  LockAllocArgs alloc;
  tool.add("alloc", "Allocate the first free lock, or lock ID",
      [&](CLI::App* c) {
        c->add_option("id", alloc.id, "The lock to allocate")->check(non_empty());
        add_path(c, alloc);
      },
      [&](const Context& ctx) { return lock_alloc_command(alloc, ctx); })
      .example("shmctl-lock alloc")
      .example("shmctl-lock alloc 7 --path /ci-locks");

  LockFreeArgs free;
  tool.add("free", "Free allocated locks (--all --yes: every one)",
      [&](CLI::App* c) {
        c->add_option("id", free.ids, "Locks to free");
        add_path(c, free);
        c->add_flag("--all", free.all, "Free every lock");
        c->add_flag("--yes", free.yes, "Confirm --all");
      },
      [&](const Context& ctx) { return lock_free_command(free, ctx); })
      .example("shmctl-lock free 7")
      .example("shmctl-lock free --all --yes --path /ci-locks");

  LockLockArgs lock;
  tool.add("lock", "Take a lock: held after exit, or while -- COMMAND runs",
      [&](CLI::App* c) {
        c->add_option("id", lock.id, "The lock")->required();
        add_path(c, lock);
        add_value(c, "--timeout", lock.timeout, "Give up after this many seconds (exit 3)");
        c->add_flag("--nowait", lock.nowait, "Fail at once (exit 3) if it is held")->excludes("--timeout");
        add_value(c, "--owner-pid", lock.owner_pid, "The owner to record (default: the parent process)");
        c->add_flag("--steal-stale", lock.steal_stale, "Take it over if its owner is gone");
        add_value(c, "--conflict-exit-code", lock.conflict_exit_code, "Exit status for would-block and timeout (default 3)");
      },
      [&](const Context& ctx) { return lock_lock_command(lock, ctx); },
      /*takes_command=*/true)
      .example("shmctl-lock lock 7 -- make test")
      .example("shmctl-lock lock 7 --timeout 60");

  LockUnlockArgs unlock;
  tool.add("unlock", "Release a lock (its owner's, or --force)",
      [&](CLI::App* c) {
        c->add_option("id", unlock.id, "The lock")->required();
        add_path(c, unlock);
        c->add_flag("--force", unlock.force, "Release it whoever holds it");
      },
      [&](const Context& ctx) { return lock_unlock_command(unlock, ctx); })
      .example("shmctl-lock unlock 7")
      .example("shmctl-lock unlock 7 --force");

  LockStatusArgs status;
  tool.add("status", "Every lock (or the given ones): allocated, locked, owner, stale",
      [&](CLI::App* c) {
        c->add_option("id", status.ids, "Only these locks");
        add_path(c, status);
        c->add_flag("--held", status.held, "Only locked ones");
        c->add_flag("--stale", status.stale, "Only ones whose owner is gone");
        c->add_flag("--allocated", status.allocated, "Only allocated ones");
        add_podman(c, status.podman);
      },
      [&](const Context& ctx) { return lock_status_command(status, ctx); })
      .example("shmctl-lock status --held --table")
      .example("shmctl-lock status 7")
      .example("shmctl-lock status --podman --table")
      .table(nullptr);

  return tool.run(argc, argv);
}
