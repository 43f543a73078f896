#include "podman_cli.h"

#include <vector>

#include "lock_segment.h"
#include "parse.h"
#include "podman_locks.h"
#include "process.h"
#include "views.h"

namespace ipctk {

namespace {

Result<PodmanSegment> open_podman(const LockSegmentArgs& a) {
  // podman's rules for the default, not shmctl-lock's ($SHMCTL_LOCK_PATH
  // names shmctl-lock's own segment).
  auto path = parse_segment_path(a.path.empty() ? podman_default_path() : a.path);
  if (!path) return path.error();
  return PodmanSegment::open(path->name, path->placement == Placement::kShm);
}

/// A mutex's state as JSON, with the holder's process where /proc shows a
/// process of that thread that maps the segment; holder_found says whether
/// it did (not: a holder of another pid namespace, a container's, or one
/// gone without the kernel's robust-list clean-up).
Json mutex_json(const PodmanSegment& seg, const MutexState& m,
                Json j = Json::object()) {
  j["held"] = m.held;
  j["owner_died"] = m.owner_died;
  j["not_recoverable"] = m.not_recoverable;
  j["inconsistent"] = m.inconsistent;
  j["waiters"] = m.waiters;
  j["holder_tid"] = m.holder_tid ? Json(m.holder_tid) : Json(nullptr);
  pid_t pid = 0;  // 0: none found
  if (m.held) pid = seg.holder_process(m.holder_tid).value_or(0);
  j["holder_found"] = m.held ? Json(pid != 0) : Json(nullptr);
  j["holder_pid"] = pid != 0 ? Json(pid) : Json(nullptr);
  std::string command = pid != 0 ? process_name(pid) : "";
  j["holder_command"] = command.empty() ? Json(nullptr) : Json(command);
  return j;
}

struct Counts {
  uint64_t allocated = 0, held = 0, owner_died = 0, not_recoverable = 0;

  void add(bool is_allocated, const MutexState& m) {
    allocated += is_allocated;
    held += m.held;
    owner_died += m.owner_died;
    not_recoverable += m.not_recoverable;
  }
};

}  // namespace

Result<Outcome> podman_info_command(const LockPathArgs& a, const Context&) {
  auto seg = open_podman(a);
  if (!seg) return seg.error();
  const PodmanLayout& l = seg->layout();
  Counts c;
  for (uint32_t id = 0; id < l.locks; ++id) {
    c.add(seg->allocated(id), seg->lock(id));
  }
  Json doc;
  doc["path"] = seg->path();
  doc["backend"] = "podman";
  doc["size"] = l.size;
  doc["locks"] = l.locks;
  doc["bitmaps"] = l.bitmaps;
  doc["mutex_size"] = sizeof(pthread_mutex_t);
  doc["allocated"] = c.allocated;
  doc["free"] = l.locks - c.allocated;
  doc["held"] = c.held;
  doc["owner_died"] = c.owner_died;
  doc["not_recoverable"] = c.not_recoverable;
  doc["segment_lock"] = mutex_json(*seg, seg->segment_lock());
  Outcome out{std::move(doc), kExitOk};
  out.view = podman_info_view;
  return out;
}

Result<Outcome> podman_status_command(const LockStatusArgs& a, const Context&) {
  std::vector<uint32_t> ids;
  for (const std::string& text : a.ids) {
    auto id = parse_uint(text, "ID", UINT32_MAX);
    if (!id) return id.error();
    for (uint32_t seen : ids)
      if (seen == *id)
        return usage_error("ID " + std::to_string(*id) + " is given twice");
    ids.push_back(static_cast<uint32_t>(*id));
  }
  auto seg = open_podman(a);
  if (!seg) return seg.error();
  const PodmanLayout& l = seg->layout();
  for (uint32_t id : ids)
    if (id >= l.locks)
      return Error{"status", EINVAL,
                   "lock " + std::to_string(id) + " is out of range: " +
                       seg->path() + " has " + std::to_string(l.locks) + " locks",
                   "", kExitFailed};
  bool all = ids.empty();
  uint64_t n = all ? l.locks : ids.size();
  // Without IDs or filters: the locks in use (allocated, held, or left by
  // a holder that died), not 2,048 free ones.
  bool in_use_only = all && !a.held && !a.stale && !a.allocated;
  Counts c;
  Json status = Json::array();
  for (uint64_t i = 0; i < n; ++i) {
    uint32_t id = all ? static_cast<uint32_t>(i) : ids[i];
    bool allocated = seg->allocated(id);
    MutexState m = seg->lock(id);
    c.add(allocated, m);
    bool locked = m.held || m.owner_died || m.not_recoverable;
    if ((a.held && !locked) || (a.stale && !m.owner_died && !m.not_recoverable) ||
        (a.allocated && !allocated) ||
        (in_use_only && !allocated && !locked))
      continue;
    Json j;
    j["id"] = id;
    j["allocated"] = allocated;
    status.push_back(mutex_json(*seg, m, std::move(j)));
  }
  Json doc;
  doc["path"] = seg->path();
  doc["backend"] = "podman";
  doc["locks"] = l.locks;
  doc["segment_lock"] = mutex_json(*seg, seg->segment_lock());
  Json totals;
  totals["shown"] = status.size();
  totals["allocated"] = c.allocated;
  totals["free"] = n - c.allocated;
  totals["held"] = c.held;
  totals["owner_died"] = c.owner_died;
  totals["not_recoverable"] = c.not_recoverable;
  doc["status"] = std::move(status);
  doc["totals"] = std::move(totals);
  Outcome out{std::move(doc), kExitOk};
  out.view = podman_status_view;
  return out;
}

}  // namespace ipctk
