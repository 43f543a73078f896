# fish completion for sysv-shm(1), part of ipctk.

# Live segment ids from /proc/sysvipc/shm, described by key, size and nattch.
function __fish_sysv_shm_ids
    test -r /proc/sysvipc/shm; or return
    awk 'NR > 1 && NF {
        k = $1 + 0; if (k < 0) k += 4294967296
        printf "%s\tkey 0x%08x, %s bytes, nattch %s\n", $2, k, $4, $7
    }' /proc/sysvipc/shm 2>/dev/null
end

# Keys of the live segments, in hex.
function __fish_sysv_shm_keys
    test -r /proc/sysvipc/shm; or return
    awk 'NR > 1 && NF && $1 != 0 {
        k = $1 + 0; if (k < 0) k += 4294967296
        printf "0x%08x\tsegment %s, %s bytes\n", k, $2, $4
    }' /proc/sysvipc/shm 2>/dev/null
end

# True once "--" is on the command line: the rest is a command (attach).
function __fish_sysv_shm_after_dashdash
    contains -- -- (commandline -opc)
end

# Completes the command line that follows "--".
function __fish_sysv_shm_command
    set -l tokens (commandline -opc)
    set -l at (contains -i -- -- $tokens)
    set -l rest $tokens[(math $at + 1)..-1] (commandline -ct)
    complete -C (string join -- ' ' (string escape -- $rest[1..-2]) $rest[-1])
end

set -l subcommands create attach read write rm stat list info set lock unlock
set -l targeted attach read write stat set lock unlock

complete -c sysv-shm -f

# Global options (also accepted after the subcommand).
complete -c sysv-shm -n 'not __fish_sysv_shm_after_dashdash' -l pretty -d 'Indent the JSON output'
complete -c sysv-shm -n __fish_use_subcommand -l version -d 'Print the version and exit'
complete -c sysv-shm -n 'not __fish_sysv_shm_after_dashdash' -s h -l help -d 'Print help and exit'

# Subcommands.
complete -c sysv-shm -n __fish_use_subcommand -a create -d 'Create a segment (or open its key)'
complete -c sysv-shm -n __fish_use_subcommand -a attach -d 'Attach and hold: --hold S, until stdin ends, or -- COMMAND'
complete -c sysv-shm -n __fish_use_subcommand -a read -d 'Read bytes as JSON, or raw with --raw'
complete -c sysv-shm -n __fish_use_subcommand -a write -d 'Write bytes from a flag, a file or stdin'
complete -c sysv-shm -n __fish_use_subcommand -a rm -d 'Remove segments (deferred while attached)'
complete -c sysv-shm -n __fish_use_subcommand -a stat -d 'Everything IPC_STAT says of a segment'
complete -c sysv-shm -n __fish_use_subcommand -a list -d 'Every segment visible to the caller'
complete -c sysv-shm -n __fish_use_subcommand -a info -d "The kernel's limits and current usage"
complete -c sysv-shm -n __fish_use_subcommand -a set -d 'Change mode, owner uid or gid (IPC_SET)'
complete -c sysv-shm -n __fish_use_subcommand -a lock -d 'Lock the segment in memory (SHM_LOCK)'
complete -c sysv-shm -n __fish_use_subcommand -a unlock -d 'Let the segment be swapped again (SHM_UNLOCK)'

# The segment a command acts on: an id, --key, or --key-path with --proj-id.
complete -c sysv-shm -n "__fish_seen_subcommand_from $targeted; and not __fish_sysv_shm_after_dashdash" -a '(__fish_sysv_shm_ids)'
complete -c sysv-shm -n "__fish_seen_subcommand_from $targeted" -l key -x -a '(__fish_sysv_shm_keys)' -d "The segment's key (decimal or 0x hex) instead of an id"
complete -c sysv-shm -n "__fish_seen_subcommand_from $targeted" -l key-path -r -F -d 'Derive the key with ftok(3) from this existing path'
complete -c sysv-shm -n "__fish_seen_subcommand_from $targeted" -l proj-id -x -d 'The ftok project id 1..255 (with --key-path)'

# create
complete -c sysv-shm -n '__fish_seen_subcommand_from create' -l size -x -d 'Size in bytes; suffixes K M G (1024), KB MB GB (1000)'
complete -c sysv-shm -n '__fish_seen_subcommand_from create' -l key -x -a 'private (__fish_sysv_shm_keys)' -d "Key: decimal, 0x hex, or 'private'"
complete -c sysv-shm -n '__fish_seen_subcommand_from create' -l private -d 'A new segment with no key (IPC_PRIVATE)'
complete -c sysv-shm -n '__fish_seen_subcommand_from create' -l key-path -r -F -d 'Derive the key with ftok(3) from this path'
complete -c sysv-shm -n '__fish_seen_subcommand_from create' -l proj-id -x -d 'The ftok project id 1..255'
complete -c sysv-shm -n '__fish_seen_subcommand_from create' -l mode -x -a '0600 0640 0644 0660 0666' -d 'Permissions in octal (default 0600)'
complete -c sysv-shm -n '__fish_seen_subcommand_from create' -l excl -d 'Fail with EEXIST if the key exists'
complete -c sysv-shm -n '__fish_seen_subcommand_from create' -l hugetlb -d 'Back the segment with huge pages'
complete -c sysv-shm -n '__fish_seen_subcommand_from create' -l noreserve -d 'Do not reserve swap space'

# attach
complete -c sysv-shm -n '__fish_seen_subcommand_from attach; and not __fish_sysv_shm_after_dashdash' -l readonly -d 'Attach read-only (SHM_RDONLY)'
complete -c sysv-shm -n '__fish_seen_subcommand_from attach; and not __fish_sysv_shm_after_dashdash' -l hold -x -d 'Hold for this many seconds'
complete -c sysv-shm -n '__fish_seen_subcommand_from attach; and __fish_sysv_shm_after_dashdash' -a '(__fish_sysv_shm_command)'

# read
complete -c sysv-shm -n '__fish_seen_subcommand_from read' -l offset -x -d 'Start at this byte (default 0)'
complete -c sysv-shm -n '__fish_seen_subcommand_from read' -l length -x -d 'Read this many bytes (default: to the end)'
complete -c sysv-shm -n '__fish_seen_subcommand_from read' -l encoding -x -a 'base64 hex utf8' -d 'base64 (default), hex or utf8'
complete -c sysv-shm -n '__fish_seen_subcommand_from read' -l raw -d 'Write the bytes themselves to stdout'

# write
complete -c sysv-shm -n '__fish_seen_subcommand_from write' -l offset -x -d 'Start at this byte (default 0)'
complete -c sysv-shm -n '__fish_seen_subcommand_from write' -l length -x -d 'The region written (default: to the end)'
complete -c sysv-shm -n '__fish_seen_subcommand_from write' -l data -x -d 'The bytes of this string'
complete -c sysv-shm -n '__fish_seen_subcommand_from write' -l hex -x -d 'Bytes in hex'
complete -c sysv-shm -n '__fish_seen_subcommand_from write' -l base64 -x -d 'Bytes in base64'
complete -c sysv-shm -n '__fish_seen_subcommand_from write' -l file -r -F -d "Bytes of this file ('-' is stdin, the default)"
complete -c sysv-shm -n '__fish_seen_subcommand_from write' -l zero-fill -d 'Zero the rest of the region'

# rm
complete -c sysv-shm -n '__fish_seen_subcommand_from rm' -a '(__fish_sysv_shm_ids)'
complete -c sysv-shm -n '__fish_seen_subcommand_from rm' -l key -x -a '(__fish_sysv_shm_keys)' -d 'Segment keys (repeatable)'

# list
complete -c sysv-shm -n '__fish_seen_subcommand_from list' -l key -x -a 'private (__fish_sysv_shm_keys)' -d 'Only the segment with this key'
complete -c sysv-shm -n '__fish_seen_subcommand_from list' -l owner -x -a '(id -u)' -d 'Only segments owned by this uid'
complete -c sysv-shm -n '__fish_seen_subcommand_from list' -l creator-pid -x -a '(__fish_complete_pids)' -d 'Only segments created by this pid'

# set
complete -c sysv-shm -n '__fish_seen_subcommand_from set' -l mode -x -a '0600 0640 0644 0660 0666' -d 'New permissions in octal'
complete -c sysv-shm -n '__fish_seen_subcommand_from set' -l uid -x -a '(id -u)' -d 'New owner uid'
complete -c sysv-shm -n '__fish_seen_subcommand_from set' -l gid -x -a '(id -g)' -d 'New owner gid'

# The human view of the subcommands that show objects.
complete -c sysv-shm -n '__fish_seen_subcommand_from list stat info' -s t -l table -d 'Aligned columns for a person instead of JSON'
complete -c sysv-shm -n '__fish_seen_subcommand_from list stat info' -l no-headings -d 'Leave out the header line (with --table)'
complete -c sysv-shm -n '__fish_seen_subcommand_from list stat info' -s b -l bytes -d 'Sizes in bytes, not as 4K or 1.5M (with --table)'

# stat
complete -c sysv-shm -n '__fish_seen_subcommand_from stat' -l processes -d 'Also the processes that have it attached (from /proc)'
