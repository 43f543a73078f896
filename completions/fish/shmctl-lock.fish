# fish completion for shmctl-lock(1), part of ipctk.

# True once "--" is on the command line: the rest is a command (lock).
function __fish_shmctl_lock_after_dashdash
    contains -- -- (commandline -opc)
end

# Completes the command line that follows "--".
function __fish_shmctl_lock_command
    set -l tokens (commandline -opc)
    set -l at (contains -i -- -- $tokens)
    set -l rest $tokens[(math $at + 1)..-1] (commandline -ct)
    complete -C (string join -- ' ' (string escape -- $rest[1..-2]) $rest[-1])
end

# The subcommand: the first word after the tool that is not an option (the
# global options take no value).
function __fish_shmctl_lock_sub
    set -l tokens (commandline -opc)
    for t in $tokens[2..-1]
        switch $t
            case --
                return 1
            case '-*'
                continue
            case '*'
                echo $t
                return 0
        end
    end
    return 1
end

# True if the subcommand is one of $argv, and "--" has not been typed.
function __fish_shmctl_lock_using
    set -l sub (__fish_shmctl_lock_sub); or return 1
    contains -- $sub $argv; or return 1
    not __fish_shmctl_lock_after_dashdash
end

# The words after the subcommand that are not options or their values.
function __fish_shmctl_lock_words
    set -l tokens (commandline -opc)
    set -l n (count $tokens)
    set -l i 2
    while test $i -le $n
        string match -q -- '-*' $tokens[$i]; or break
        set i (math $i + 1)
    end
    set i (math $i + 1)
    while test $i -le $n
        set -l t $tokens[$i]
        set i (math $i + 1)
        switch $t
            case --
                break
            case --path --locks --mode --timeout --owner-pid --conflict-exit-code
                set i (math $i + 1)
            case '-*'
            case '*'
                echo $t
        end
    end
end

# True if no ID has been given yet (lock and unlock take one).
function __fish_shmctl_lock_wants_id
    test (count (__fish_shmctl_lock_words)) -eq 0
end

# The segment the command line names: --path on it, else $SHMCTL_LOCK_PATH,
# else the default (/shmctl-lock for root, /shmctl-lock-UID for others).
# Printed only if it exists already (/dev/shm/NAME for a /NAME, a regular
# file otherwise), so that asking for its lock ids never creates it.
function __fish_shmctl_lock_segment
    set -l tokens (commandline -opc)
    set -l p ''
    set -l n (count $tokens)
    for i in (seq 2 $n)
        switch $tokens[$i]
            case --
                break
            case --path
                test $i -lt $n; and set p $tokens[(math $i + 1)]
            case '--path=*'
                set p (string replace -- '--path=' '' $tokens[$i])
        end
    end
    test -n "$p"; or set p "$SHMCTL_LOCK_PATH"
    if test -z "$p"
        set -l uid (id -u)
        if test "$uid" = 0
            set p /shmctl-lock
        else
            set p /shmctl-lock-$uid
        end
    end
    set p (string replace -r -- '^~/' "$HOME/" $p)
    if string match -qr -- '^/[^/]+$' $p
        test -f /dev/shm/(string sub -s 2 -- $p); or return 1
    else
        test -f $p; and not test -L $p; or return 1
    end
    echo $p
end

# Lock ids of that segment, as `status --path P FILTER` lists them, for
# each FILTER given (--held, --allocated), described by the filter.
function __fish_shmctl_lock_ids
    set -l p (__fish_shmctl_lock_segment); or return
    set -l tool (commandline -opc)[1]
    command -q $tool; or test -x $tool; or return
    set -l seen
    for f in $argv
        set -l what (string replace -- '--' '' $f)
        for id in ($tool status --path $p $f 2>/dev/null | string match -ar -- '"id":[0-9]+' | head -n 4096 | string replace -- '"id":' '')
            contains -- $id $seen; and continue
            set -a seen $id
            printf '%s\t%s\n' $id $what
        end
    end
end

# The POSIX shm objects that are lock segments (their first bytes are the
# segment magic), as /NAME.
function __fish_shmctl_lock_shm_segments
    for f in /dev/shm/*
        test -f $f -a -r $f; and not test -L $f; or continue
        set -l magic (head -c 8 -- $f 2>/dev/null | string collect)
        test "$magic" = ipctkLCK; and printf '/%s\tlock segment (POSIX shm)\n' (basename -- $f)
    end
end

set -l subcommands init info destroy alloc free lock unlock status

complete -c shmctl-lock -f

# Global options (also accepted after the subcommand).
complete -c shmctl-lock -n 'not __fish_shmctl_lock_after_dashdash' -l pretty -d 'Indent the JSON output'
complete -c shmctl-lock -n __fish_use_subcommand -l version -d 'Print the version and exit'
complete -c shmctl-lock -n 'not __fish_shmctl_lock_after_dashdash' -s h -l help -d 'Print help and exit'

# Subcommands.
complete -c shmctl-lock -n __fish_use_subcommand -a init -d 'Create a lock segment'
complete -c shmctl-lock -n __fish_use_subcommand -a info -d "The segment's layout and counts"
complete -c shmctl-lock -n __fish_use_subcommand -a destroy -d 'Remove the segment (refused while locks are held)'
complete -c shmctl-lock -n __fish_use_subcommand -a alloc -d 'Allocate the first free lock, or lock ID'
complete -c shmctl-lock -n __fish_use_subcommand -a free -d 'Free allocated locks (--all --yes: every one)'
complete -c shmctl-lock -n __fish_use_subcommand -a lock -d 'Take a lock: held after exit, or while -- COMMAND runs'
complete -c shmctl-lock -n __fish_use_subcommand -a unlock -d "Release a lock (its owner's, or --force)"
complete -c shmctl-lock -n __fish_use_subcommand -a status -d 'Every lock (or the given ones): allocated, locked, owner, stale'

# Every subcommand names its segment with --path, and may use one that
# another user owns with --any-owner.
complete -c shmctl-lock -n "__fish_shmctl_lock_using $subcommands" -l path -r -F -a '(__fish_shmctl_lock_shm_segments)' -d '/name (POSIX shm) or a file path'
complete -c shmctl-lock -n "__fish_shmctl_lock_using $subcommands" -l any-owner -d 'Use a segment owned by another user (refused otherwise)'

# init
complete -c shmctl-lock -n '__fish_shmctl_lock_using init' -l locks -x -d 'Number of locks, rounded up to a multiple of 64 (default 2048)'
complete -c shmctl-lock -n '__fish_shmctl_lock_using init' -l mode -x -a '0600 0640 0660 0666' -d 'Permissions in octal (default 0600)'
complete -c shmctl-lock -n '__fish_shmctl_lock_using init' -l exist-ok -d 'Open it if it exists (and is valid)'

# destroy
complete -c shmctl-lock -n '__fish_shmctl_lock_using destroy' -l force -d 'Remove it even with held locks, or when it is not valid'

# free
complete -c shmctl-lock -n '__fish_shmctl_lock_using free' -a '(__fish_shmctl_lock_ids --allocated)'
complete -c shmctl-lock -n '__fish_shmctl_lock_using free' -l all -d 'Free every lock (needs --yes)'
complete -c shmctl-lock -n '__fish_shmctl_lock_using free' -l yes -d 'Confirm --all'

# lock
complete -c shmctl-lock -n '__fish_shmctl_lock_using lock; and __fish_shmctl_lock_wants_id' -a '(__fish_shmctl_lock_ids --held --allocated)'
complete -c shmctl-lock -n '__fish_shmctl_lock_using lock' -l timeout -x -d 'Give up after this many seconds (exit 3)'
complete -c shmctl-lock -n '__fish_shmctl_lock_using lock' -l nowait -d 'Fail at once (exit 3) if it is held'
complete -c shmctl-lock -n '__fish_shmctl_lock_using lock' -l owner-pid -x -a '(__fish_complete_pids)' -d 'The owner to record (default: the parent process)'
complete -c shmctl-lock -n '__fish_shmctl_lock_using lock' -l steal-stale -d 'Take it over if its owner is gone'
complete -c shmctl-lock -n '__fish_shmctl_lock_using lock' -l conflict-exit-code -x -d 'Exit status for would-block and timeout (default 3)'
complete -c shmctl-lock -n '__fish_shmctl_lock_after_dashdash; and test (__fish_shmctl_lock_sub) = lock' -a '(__fish_shmctl_lock_command)'

# unlock
complete -c shmctl-lock -n '__fish_shmctl_lock_using unlock; and __fish_shmctl_lock_wants_id' -a '(__fish_shmctl_lock_ids --held)'
complete -c shmctl-lock -n '__fish_shmctl_lock_using unlock' -l force -d 'Release it whoever holds it'

# status
complete -c shmctl-lock -n '__fish_shmctl_lock_using status' -a '(__fish_shmctl_lock_ids --held --allocated)'
complete -c shmctl-lock -n '__fish_shmctl_lock_using status' -l held -d 'Only locked ones'
complete -c shmctl-lock -n '__fish_shmctl_lock_using status' -l stale -d 'Only ones whose owner is gone'
complete -c shmctl-lock -n '__fish_shmctl_lock_using status' -l allocated -d 'Only allocated ones'

# The human view of the subcommands that show objects.
complete -c shmctl-lock -n '__fish_shmctl_lock_using status info' -l podman -d "Read podman's own lock segment, read-only"
complete -c shmctl-lock -n '__fish_shmctl_lock_using status info' -s t -l table -d 'Aligned columns for a person instead of JSON'
complete -c shmctl-lock -n '__fish_shmctl_lock_using status info' -l no-headings -d 'Leave out the header line (with --table)'
complete -c shmctl-lock -n '__fish_shmctl_lock_using info' -s b -l bytes -d 'Sizes in bytes, not as 4K or 1.5M (with --table)'
