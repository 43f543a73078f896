#include "views.h"

#include <cstdint>
#include <cstdio>
#include <vector>

#include "names.h"
#include "process.h"

namespace ipctk {

namespace {

using Align = Table::Align;

std::string number(const Json& v) {
  if (v.is_null()) return "-";
  return v.dump();
}

std::string user(const Json& v) {
  if (v.is_null()) return "-";
  uint32_t id = v.get<uint32_t>();
  std::string name = user_name(id);
  return name == std::to_string(id) ? name : name + " (" + std::to_string(id) + ")";
}

std::string group(const Json& v) {
  if (v.is_null()) return "-";
  uint32_t id = v.get<uint32_t>();
  std::string name = group_name(id);
  return name == std::to_string(id) ? name : name + " (" + std::to_string(id) + ")";
}

std::string user_only(const Json& v) { return user_name(v.get<uint32_t>()); }
std::string group_only(const Json& v) { return group_name(v.get<uint32_t>()); }

std::string size(const Json& v, const TableOptions& o) {
  if (v.is_null()) return "-";
  return human_size(v.get<uint64_t>(), o.bytes);
}

std::string when(const Json& v) {
  if (v.is_null()) return "-";
  return local_time(v.get<int64_t>());
}

/// A pid with its command name, if the process now running with that pid
/// had started by `acted_at` (Unix seconds): see process_label.
std::string process(const Json& v, int64_t acted_at) {
  if (v.is_null()) return "-";
  return process_label(v.get<pid_t>(), acted_at);
}

int64_t latest(const Json& a, const Json& b) {
  return std::max(a.get<int64_t>(), b.get<int64_t>());
}

std::string yes_no(const Json& v) {
  if (v.is_null()) return "-";
  return v.get<bool>() ? "yes" : "no";
}

std::string shm_status(const Json& seg) {
  std::string s;
  if (seg.at("dest").get<bool>()) s = "dest";
  if (seg.at("locked").get<bool>()) s += s.empty() ? "locked" : ",locked";
  return s;
}

/// FIELD VALUE lines, the field named as in the JSON document.
class Fields {
 public:
  Fields() : table_({{"FIELD"}, {"VALUE"}}) {}
  void add(const std::string& name, std::string value) {
    table_.add_row({name, cell(value)});
  }
  std::string render(const TableOptions& o) const { return table_.render(o.headings); }

 private:
  Table table_;
};

void add_perm_fields(Fields& f, const Json& d) {
  f.add("id", number(d.at("id")));
  f.add("key_hex", d.at("key_hex").get<std::string>());
  f.add("mode_octal", mode_text(d.at("mode").get<unsigned>()));
  f.add("uid", user(d.at("uid")));
  f.add("gid", group(d.at("gid")));
  f.add("cuid", user(d.at("cuid")));
  f.add("cgid", group(d.at("cgid")));
}

/// One line of `lsipc -g`: a limit, what is used of it, and the share.
void add_limit(Table& t, const char* resource, const char* what,
               std::string limit, const Json& limit_value, const Json* used,
               std::string used_text) {
  std::string share = "-";
  // Counts are unsigned (a Json built from int literals holds them signed).
  auto count = [](const Json& v) {
    return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
  };
  if (used != nullptr && count(limit_value) && count(*used)) {
    uint64_t l = limit_value.get<uint64_t>(), u = used->get<uint64_t>();
    if (l > 0) {
      double pct = 100.0 * static_cast<double>(u) / static_cast<double>(l);
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2f%%", pct);
      share = buf;
    }
  }
  t.add_row({resource, what, std::move(limit), used ? std::move(used_text) : "-",
             share});
}

Table limits_table() {
  return Table({{"RESOURCE"}, {"DESCRIPTION"}, {"LIMIT", Align::kRight},
                {"USED", Align::kRight}, {"USE%", Align::kRight}});
}

/// A podman mutex's state in a word, and its holder.
std::string mutex_state_text(const Json& m) {
  if (m.at("not_recoverable").get<bool>()) return "NOT-RECOVERABLE";
  if (m.at("owner_died").get<bool>()) return "OWNER-DIED";
  if (m.at("inconsistent").get<bool>()) return "held-inconsistent";
  return m.at("held").get<bool>() ? "held" : "free";
}

std::string mutex_holder(const Json& m) {
  if (m.at("holder_tid").is_null()) return "-";
  std::string tid = "tid " + number(m.at("holder_tid"));
  if (m.at("owner_died").get<bool>()) return tid + " (gone)";
  if (m.at("holder_pid").is_null()) return tid + " (not found)";
  std::string command = m.at("holder_command").is_null()
                            ? "" : m.at("holder_command").get<std::string>() + " ";
  return tid + " of " + command + "(" + number(m.at("holder_pid")) + ")";
}

}  // namespace

std::string mode_text(unsigned mode) {
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", mode & 0777);
  std::string rwx = " ";
  for (int shift = 6; shift >= 0; shift -= 3) {
    rwx += (mode >> shift) & 4 ? 'r' : '-';
    rwx += (mode >> shift) & 2 ? 'w' : '-';
    rwx += (mode >> shift) & 1 ? 'x' : '-';
  }
  return octal + rwx;
}

std::string shm_list_view(const Json& doc, const TableOptions& o) {
  Table t({{"KEY"}, {"ID", Align::kRight}, {"OWNER"}, {"GROUP"}, {"PERMS"},
           {"SIZE", Align::kRight}, {"NATTCH", Align::kRight}, {"STATUS"},
           {"CPID", Align::kRight}, {"LPID", Align::kRight}, {"CHANGED"},
           {"COMMAND"}});
  for (const Json& s : doc.at("segments")) {
    // The creator's name while it runs (and had started when the segment
    // was made or last changed: not a process that reused its pid).
    std::string command = acting_process_name(s.at("cpid").get<pid_t>(),
                                              s.at("ctime").get<int64_t>());
    t.add_row({s.at("key_hex").get<std::string>(), number(s.at("id")),
               cell(user_only(s.at("uid"))), cell(group_only(s.at("gid"))),
               mode_text(s.at("mode").get<unsigned>()).substr(0, 4),
               size(s.at("size"), o), number(s.at("nattch")), shm_status(s),
               number(s.at("cpid")), number(s.at("lpid")), when(s.at("ctime")),
               cell(command)});
  }
  return t.render(o.headings);
}

std::string shm_stat_view(const Json& d, const TableOptions& o) {
  Fields f;
  add_perm_fields(f, d);
  f.add("size", size(d.at("size"), o));
  f.add("nattch", number(d.at("nattch")));
  f.add("atime", when(d.at("atime")));
  f.add("dtime", when(d.at("dtime")));
  f.add("ctime", when(d.at("ctime")));
  f.add("cpid", process(d.at("cpid"), d.at("ctime").get<int64_t>()));
  f.add("lpid", process(d.at("lpid"), latest(d.at("atime"), d.at("dtime"))));
  f.add("dest", yes_no(d.at("dest")));
  f.add("locked", yes_no(d.at("locked")));
  if (!d.contains("attached")) return f.render(o);
  // --processes: who has it attached.
  f.add("attached_unreadable", number(d.at("attached_unreadable")));
  Table t({{"ATTACHED-PID", Align::kRight}, {"COMMAND"}});
  for (const Json& p : d.at("attached"))
    t.add_row({number(p.at("pid")), cell(p.at("command").get<std::string>())});
  return f.render(o) + "\n" + t.render(o.headings);
}

std::string shm_info_view(const Json& d, const TableOptions& o) {
  const Json& l = d.at("limits");
  const Json& u = d.at("usage");
  uint64_t page = d.at("page_size").get<uint64_t>();
  Table t = limits_table();
  add_limit(t, "SHMMNI", "Shared memory segments", number(l.at("shmmni")),
            l.at("shmmni"), &u.at("segments"), number(u.at("segments")));
  add_limit(t, "SHMALL", "Shared memory pages", number(l.at("shmall")),
            l.at("shmall"), &u.at("pages_total"), number(u.at("pages_total")));
  add_limit(t, "SHMMAX", "Max size of a segment", size(l.at("shmmax"), o),
            l.at("shmmax"), nullptr, "");
  add_limit(t, "SHMMIN", "Min size of a segment", size(l.at("shmmin"), o),
            l.at("shmmin"), nullptr, "");
  add_limit(t, "SHMSEG", "Segments attached per process", number(l.at("shmseg")),
            l.at("shmseg"), nullptr, "");
  std::string out = t.render(o.headings);
  // The pages in use, resident and swapped (no limit of their own).
  auto pages = [&](const Json& n) {
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(n.get<uint64_t>(), page, &bytes))
      return number(n) + " pages";
    return number(n) + " pages (" + human_size(bytes, o.bytes) +
           (o.bytes ? " bytes)" : ")");
  };
  Fields f;
  f.add("pages_resident", pages(u.at("pages_resident")));
  f.add("pages_swapped", pages(u.at("pages_swapped")));
  f.add("page_size", size(d.at("page_size"), o));
  return out + "\n" + f.render(o);
}

std::string sem_list_view(const Json& doc, const TableOptions& o) {
  const Json& sets = doc.at("sets");
  bool values = false;
  for (const Json& s : sets) values = values || s.contains("semaphores");
  std::vector<Table::Column> cols = {
      {"KEY"}, {"ID", Align::kRight}, {"OWNER"}, {"GROUP"}, {"PERMS"},
      {"NSEMS", Align::kRight}, {"LAST-OP"}, {"CHANGED"}};
  if (values) {
    cols.push_back({"NCNT", Align::kRight});
    cols.push_back({"ZCNT", Align::kRight});
    cols.push_back({"VALUES"});
  }
  Table t(std::move(cols));
  for (const Json& s : sets) {
    std::vector<std::string> row = {
        s.at("key_hex").get<std::string>(), number(s.at("id")),
        cell(user_only(s.at("uid"))), cell(group_only(s.at("gid"))),
        mode_text(s.at("mode").get<unsigned>()).substr(0, 4),
        number(s.at("nsems")), when(s.at("otime")), when(s.at("ctime"))};
    if (values) {
      const Json* states = s.contains("semaphores") ? &s.at("semaphores") : nullptr;
      if (states == nullptr || states->is_null()) {
        row.insert(row.end(), {"-", "-", "(not readable)"});
      } else {
        uint64_t ncnt = 0, zcnt = 0;
        std::string vals;
        for (const Json& sem : *states) {
          ncnt += sem.at("ncnt").get<uint64_t>();
          zcnt += sem.at("zcnt").get<uint64_t>();
          if (!vals.empty()) vals += ',';
          vals += number(sem.at("value"));
        }
        row.insert(row.end(), {std::to_string(ncnt), std::to_string(zcnt), vals});
      }
    }
    t.add_row(std::move(row));
  }
  return t.render(o.headings);
}

std::string sem_stat_view(const Json& d, const TableOptions& o) {
  Fields f;
  add_perm_fields(f, d);
  f.add("nsems", number(d.at("nsems")));
  f.add("otime", when(d.at("otime")));
  f.add("ctime", when(d.at("ctime")));
  bool processes = d.contains("waiting");
  if (processes) f.add("waiting_unreadable", number(d.at("waiting_unreadable")));
  Table t({{"NUM", Align::kRight}, {"VALUE", Align::kRight},
           {"NCNT", Align::kRight}, {"ZCNT", Align::kRight}, {"PID"}});
  for (const Json& s : d.at("semaphores"))
    t.add_row({number(s.at("num")), number(s.at("value")), number(s.at("ncnt")),
               number(s.at("zcnt")),
               process(s.at("pid"), latest(d.at("otime"), d.at("ctime")))});
  std::string out = f.render(o) + "\n" + t.render(o.headings);
  if (!processes) return out;
  // --processes: who waits, in which operations (as `op` takes them).
  Table w({{"WAITING-PID", Align::kRight}, {"TID", Align::kRight},
           {"COMMAND"}, {"OPERATIONS"}});
  for (const Json& p : d.at("waiting")) {
    std::string ops;
    const Json& list = p.at("operations");
    if (list.is_null()) ops = "(not readable)";
    for (const Json& op : list.is_null() ? Json::array() : list) {
      if (!ops.empty()) ops += ' ';
      int delta = op.at("delta").get<int>();
      ops += number(op.at("num")) + ":" + (delta > 0 ? "+" : "") + std::to_string(delta);
      if (op.at("undo").get<bool>()) ops += ":undo";
      if (op.at("nowait").get<bool>()) ops += ":nowait";
    }
    w.add_row({number(p.at("pid")), number(p.at("tid")),
               cell(p.at("command").get<std::string>()), ops});
  }
  return out + "\n" + w.render(o.headings);
}

std::string sem_info_view(const Json& d, const TableOptions& o) {
  const Json& l = d.at("limits");
  const Json& u = d.at("usage");
  Table t = limits_table();
  add_limit(t, "SEMMNI", "Semaphore sets", number(l.at("semmni")),
            l.at("semmni"), &u.at("sets"), number(u.at("sets")));
  add_limit(t, "SEMMNS", "Semaphores in all sets", number(l.at("semmns")),
            l.at("semmns"), &u.at("semaphores"), number(u.at("semaphores")));
  add_limit(t, "SEMMSL", "Semaphores per set", number(l.at("semmsl")),
            l.at("semmsl"), nullptr, "");
  add_limit(t, "SEMOPM", "Operations per semop", number(l.at("semopm")),
            l.at("semopm"), nullptr, "");
  add_limit(t, "SEMVMX", "Semaphore max value", number(l.at("semvmx")),
            l.at("semvmx"), nullptr, "");
  add_limit(t, "SEMAEM", "Max undo adjustment", number(l.at("semaem")),
            l.at("semaem"), nullptr, "");
  return t.render(o.headings);
}

std::string podman_status_view(const Json& d, const TableOptions& o) {
  Table t({{"ID", Align::kRight}, {"ALLOCATED"}, {"STATE"}, {"WAITERS"},
           {"HOLDER"}});
  for (const Json& s : d.at("status"))
    t.add_row({number(s.at("id")), yes_no(s.at("allocated")), mutex_state_text(s),
               yes_no(s.at("waiters")), mutex_holder(s)});
  std::string out = t.render(o.headings);
  if (!o.headings) return out;
  const Json& tot = d.at("totals");
  const Json& seg = d.at("segment_lock");
  return out + "\n" + number(tot.at("shown")) + " shown; " +
         number(tot.at("allocated")) + " allocated, " + number(tot.at("held")) +
         " held, " + number(tot.at("owner_died")) + " owner died, " +
         number(tot.at("not_recoverable")) + " not recoverable, of " +
         number(d.at("locks")) + " locks in " + cell(d.at("path").get<std::string>()) +
         " (podman)\nsegment lock: " + mutex_state_text(seg) +
         (seg.at("holder_tid").is_null() ? "" : ", " + mutex_holder(seg)) + "\n";
}

std::string podman_info_view(const Json& d, const TableOptions& o) {
  Fields f;
  f.add("path", d.at("path").get<std::string>());
  f.add("backend", d.at("backend").get<std::string>());
  f.add("size", size(d.at("size"), o));
  f.add("locks", number(d.at("locks")));
  f.add("bitmaps", number(d.at("bitmaps")));
  f.add("mutex_size", number(d.at("mutex_size")));
  f.add("allocated", number(d.at("allocated")));
  f.add("free", number(d.at("free")));
  f.add("held", number(d.at("held")));
  f.add("owner_died", number(d.at("owner_died")));
  f.add("not_recoverable", number(d.at("not_recoverable")));
  const Json& seg = d.at("segment_lock");
  f.add("segment_lock", mutex_state_text(seg) +
                            (seg.at("holder_tid").is_null() ? "" : ", " + mutex_holder(seg)));
  return f.render(o);
}

std::string lock_info_view(const Json& d, const TableOptions& o) {
  Fields f;
  f.add("path", cell(d.at("path").get<std::string>()));
  f.add("backend", d.at("backend").get<std::string>());
  f.add("version", number(d.at("version")));
  f.add("locks", number(d.at("locks")));
  f.add("size", size(d.at("size"), o));
  f.add("allocated", number(d.at("allocated")));
  f.add("free", number(d.at("free")));
  f.add("held", number(d.at("held")));
  f.add("stale", number(d.at("stale")));
  return f.render(o);
}

}  // namespace ipctk
