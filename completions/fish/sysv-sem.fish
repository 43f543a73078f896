# fish completion for sysv-sem(1), part of ipctk.

# Live set ids from /proc/sysvipc/sem, described by key and nsems.
function __fish_sysv_sem_ids
    test -r /proc/sysvipc/sem; or return
    awk 'NR > 1 && NF {
        k = $1 + 0; if (k < 0) k += 4294967296
        printf "%s\tkey 0x%08x, nsems %s\n", $2, k, $4
    }' /proc/sysvipc/sem 2>/dev/null
end

# Keys of the live sets, in hex.
function __fish_sysv_sem_keys
    test -r /proc/sysvipc/sem; or return
    awk 'NR > 1 && NF && $1 != 0 {
        k = $1 + 0; if (k < 0) k += 4294967296
        printf "0x%08x\tset %s, nsems %s\n", k, $2, $4
    }' /proc/sysvipc/sem 2>/dev/null
end

# True once "--" is on the command line: the rest is a command (op, P, V).
function __fish_sysv_sem_after_dashdash
    contains -- -- (commandline -opc)
end

# Completes the command line that follows "--".
function __fish_sysv_sem_command
    set -l tokens (commandline -opc)
    set -l at (contains -i -- -- $tokens)
    set -l rest $tokens[(math $at + 1)..-1] (commandline -ct)
    complete -C (string join -- ' ' (string escape -- $rest[1..-2]) $rest[-1])
end

# The subcommand: the first word after the tool that is not an option (the
# global options take no value).
function __fish_sysv_sem_sub
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
function __fish_sysv_sem_using
    set -l sub (__fish_sysv_sem_sub); or return 1
    contains -- $sub $argv; or return 1
    not __fish_sysv_sem_after_dashdash
end

# Prints the words after the subcommand that are not options or their
# values. With the argument "keyed", prints instead "keyed" and the key (if
# given with --key) when a key names the set, in which case no word is an ID.
function __fish_sysv_sem_words
    set -l tokens (commandline -opc)
    set -l n (count $tokens)
    set -l i 2
    while test $i -le $n
        string match -q -- '-*' $tokens[$i]; or break
        set i (math $i + 1)
    end
    test $i -le $n; or return 1
    set -l words
    set -l keyed 0
    set -l key ''
    set i (math $i + 1)
    while test $i -le $n
        set -l t $tokens[$i]
        set i (math $i + 1)
        switch $t
            case --
                break
            case --key
                set keyed 1
                test $i -le $n; and set key $tokens[$i]
                set i (math $i + 1)
            case '--key=*'
                set keyed 1
                set key (string replace -- '--key=' '' $t)
            case '--key-path=*'
                set keyed 1
            case --key-path
                set keyed 1
                set i (math $i + 1)
            case --proj-id --timeout --conflict-exit-code --by --nsems --mode --init --value --all --uid --gid --owner
                set i (math $i + 1)
            case '-*'
            case '*'
                set -a words $t
        end
    end
    if test "$argv[1]" = keyed
        test $keyed -eq 1; and printf '%s\n' keyed $key
        return 0
    end
    test (count $words) -gt 0; and printf '%s\n' $words
    return 0
end

# True if the next word is the set's ID: none given yet and no key.
function __fish_sysv_sem_wants_id
    set -l keyed (__fish_sysv_sem_words keyed)
    test -z "$keyed"; or return 1
    test (count (__fish_sysv_sem_words)) -eq 0
end

# The number of semaphores of the set named so far (by ID or key).
function __fish_sysv_sem_nsems
    test -r /proc/sysvipc/sem; or return 1
    set -l keyed (__fish_sysv_sem_words keyed)
    set -l words (__fish_sysv_sem_words)
    if test -n "$keyed"
        set -l key $keyed[2]
        string match -qr -- '^(-?[0-9]+|0[xX][0-9a-fA-F]+)$' "$key"; or return 1
        set key (math "$key")
        test $key -gt 2147483647; and set key (math $key - 4294967296)
        awk -v k=$key 'NR > 1 && NF && $1 == k { print $4; exit }' /proc/sysvipc/sem 2>/dev/null
    else
        test (count $words) -gt 0; or return 1
        string match -qr -- '^[0-9]+$' $words[1]; or return 1
        awk -v i=$words[1] 'NR > 1 && NF && $2 == i { print $4; exit }' /proc/sysvipc/sem 2>/dev/null
    end
end

# How many words follow the ID (all words, when a key names the set).
function __fish_sysv_sem_after_id
    set -l n (count (__fish_sysv_sem_words))
    set -l keyed (__fish_sysv_sem_words keyed)
    test -z "$keyed"; and set n (math $n - 1)
    echo $n
end

# P and V: the semaphore numbers of the set, once its ID is known.
function __fish_sysv_sem_nums
    test (__fish_sysv_sem_after_id) -eq 0; or return
    set -l nsems (__fish_sysv_sem_nsems); or return
    test -n "$nsems"; or return
    test $nsems -gt 256; and set nsems 256
    for n in (seq 0 (math $nsems - 1))
        printf '%s\tsemaphore %s\n' $n $n
    end
end

# op: SPECs for the set's semaphores, or the flags of a typed NUM:DELTA.
function __fish_sysv_sem_specs
    test (__fish_sysv_sem_after_id) -ge 0; or return
    set -l cur (commandline -ct)
    set -l base (string match -r -- '^[0-9]+:[-+]?[0-9]+' $cur)
    if test -n "$base"
        printf '%s\t%s\n' $base 'the operation as typed' \
            $base:undo 'SEM_UNDO, undone when the command ends' \
            $base:nowait 'IPC_NOWAIT, fail instead of waiting' \
            $base:undo:nowait both $base:nowait:undo both
        return
    end
    set -l nsems (__fish_sysv_sem_nsems); or return
    test -n "$nsems"; or return
    test $nsems -gt 256; and set nsems 256
    for n in (seq 0 (math $nsems - 1))
        printf '%s:-1\ttake one from semaphore %s\n' $n $n
        printf '%s:+1\tgive one to semaphore %s\n' $n $n
        printf '%s:0\twait until semaphore %s is zero\n' $n $n
    end
end

set -l subcommands get op P V stat set rm list info

complete -c sysv-sem -f

# Global options (also accepted after the subcommand).
complete -c sysv-sem -n 'not __fish_sysv_sem_after_dashdash' -l pretty -d 'Indent the JSON output'
complete -c sysv-sem -n __fish_use_subcommand -l version -d 'Print the version and exit'
complete -c sysv-sem -n 'not __fish_sysv_sem_after_dashdash' -s h -l help -d 'Print help and exit'

# Subcommands.
complete -c sysv-sem -n __fish_use_subcommand -a get -d 'Open a set by key, or create one (--create, --private)'
complete -c sysv-sem -n __fish_use_subcommand -a op -d 'Apply NUM:DELTA[:undo][:nowait] SPECs atomically in one semop'
complete -c sysv-sem -n __fish_use_subcommand -a P -d 'Take (wait and decrement) a semaphore'
complete -c sysv-sem -n __fish_use_subcommand -a V -d 'Give (increment) a semaphore'
complete -c sysv-sem -n __fish_use_subcommand -a stat -d 'A set and each semaphore: value, ncnt, zcnt, pid'
complete -c sysv-sem -n __fish_use_subcommand -a set -d 'Set values (SETVAL/SETALL), or mode, uid, gid (IPC_SET)'
complete -c sysv-sem -n __fish_use_subcommand -a rm -d 'Remove sets (waiters fail with EIDRM)'
complete -c sysv-sem -n __fish_use_subcommand -a list -d 'Every semaphore set visible to the caller'
complete -c sysv-sem -n __fish_use_subcommand -a info -d "The kernel's limits and current usage"

# The set a command acts on: an ID, --key, or --key-path with --proj-id.
complete -c sysv-sem -n '__fish_sysv_sem_using op P V stat set; and __fish_sysv_sem_wants_id' -a '(__fish_sysv_sem_ids)'
complete -c sysv-sem -n '__fish_sysv_sem_using op P V stat set' -l key -x -a '(__fish_sysv_sem_keys)' -d "The set's key (decimal or 0x hex) instead of an id"
complete -c sysv-sem -n '__fish_sysv_sem_using op P V stat set' -l key-path -r -F -d 'Derive the key with ftok(3) from this existing path'
complete -c sysv-sem -n '__fish_sysv_sem_using op P V stat set' -l proj-id -x -d 'The ftok project id 1..255 (with --key-path)'

# get
complete -c sysv-sem -n '__fish_sysv_sem_using get' -l key -x -a 'private (__fish_sysv_sem_keys)' -d "Key: decimal, 0x hex, or 'private'"
complete -c sysv-sem -n '__fish_sysv_sem_using get' -l private -d 'A new set with no key (IPC_PRIVATE)'
complete -c sysv-sem -n '__fish_sysv_sem_using get' -l key-path -r -F -d 'Derive the key with ftok(3) from this path'
complete -c sysv-sem -n '__fish_sysv_sem_using get' -l proj-id -x -d 'The ftok project id 1..255'
complete -c sysv-sem -n '__fish_sysv_sem_using get' -l nsems -x -d 'Number of semaphores (default 1 when creating)'
complete -c sysv-sem -n '__fish_sysv_sem_using get' -l create -d 'Create the set if the key has none'
complete -c sysv-sem -n '__fish_sysv_sem_using get' -l excl -d 'With --create: fail with EEXIST if the key has a set'
complete -c sysv-sem -n '__fish_sysv_sem_using get' -l mode -x -a '0600 0640 0660 0666' -d 'Permissions of a new set in octal (default 0600)'
complete -c sysv-sem -n '__fish_sysv_sem_using get' -l init -x -d 'Values of a new set: V for all, or V,V,... one each'

# op
complete -c sysv-sem -n '__fish_sysv_sem_using op; and not __fish_sysv_sem_wants_id' -a '(__fish_sysv_sem_specs)'
complete -c sysv-sem -n '__fish_sysv_sem_using op' -l timeout -x -d 'Give up after this many seconds (exit 3)'
complete -c sysv-sem -n '__fish_sysv_sem_using op' -l nowait -d 'Fail at once (exit 3) instead of waiting'
complete -c sysv-sem -n '__fish_sysv_sem_using op' -l undo -d 'SEM_UNDO on every SPEC (needs -- COMMAND)'
complete -c sysv-sem -n '__fish_sysv_sem_using op' -l conflict-exit-code -x -d 'Exit status for would-block and timeout (default 3)'

# P
complete -c sysv-sem -n '__fish_sysv_sem_using P V; and not __fish_sysv_sem_wants_id' -a '(__fish_sysv_sem_nums)'
complete -c sysv-sem -n '__fish_sysv_sem_using P' -l by -x -d 'Take this much (default 1)'
complete -c sysv-sem -n '__fish_sysv_sem_using P' -l undo -d 'Give it back when the command ends (needs -- COMMAND)'
complete -c sysv-sem -n '__fish_sysv_sem_using P' -l timeout -x -d 'Give up after this many seconds (exit 3)'
complete -c sysv-sem -n '__fish_sysv_sem_using P' -l nowait -d 'Fail at once (exit 3) instead of waiting'
complete -c sysv-sem -n '__fish_sysv_sem_using P' -l conflict-exit-code -x -d 'Exit status for would-block and timeout (default 3)'

# V
complete -c sysv-sem -n '__fish_sysv_sem_using V' -l by -x -d 'Give this much (default 1)'
complete -c sysv-sem -n '__fish_sysv_sem_using V' -l undo -d 'Take it back when the command ends (needs -- COMMAND)'

# op, P, V: the command after "--".
complete -c sysv-sem -n '__fish_sysv_sem_after_dashdash; and contains -- (__fish_sysv_sem_sub) op P V' -a '(__fish_sysv_sem_command)'

# set
complete -c sysv-sem -n '__fish_sysv_sem_using set' -l value -x -d 'NUM=V: set one semaphore (repeatable)'
complete -c sysv-sem -n '__fish_sysv_sem_using set' -l all -x -d 'V for all, or V,V,... one each (SETALL)'
complete -c sysv-sem -n '__fish_sysv_sem_using set' -l mode -x -a '0600 0640 0660 0666' -d 'New permissions in octal'
complete -c sysv-sem -n '__fish_sysv_sem_using set' -l uid -x -a '(id -u)' -d 'New owner uid'
complete -c sysv-sem -n '__fish_sysv_sem_using set' -l gid -x -a '(id -g)' -d 'New owner gid'

# rm
complete -c sysv-sem -n '__fish_sysv_sem_using rm' -a '(__fish_sysv_sem_ids)'
complete -c sysv-sem -n '__fish_sysv_sem_using rm' -l key -x -a '(__fish_sysv_sem_keys)' -d 'Set keys (repeatable)'

# list
complete -c sysv-sem -n '__fish_sysv_sem_using list' -l key -x -a 'private (__fish_sysv_sem_keys)' -d 'Only the set with this key'
complete -c sysv-sem -n '__fish_sysv_sem_using list' -l owner -x -a '(id -u)' -d 'Only sets owned by this uid'
complete -c sysv-sem -n '__fish_sysv_sem_using list' -l values -d "Add each set's per-semaphore table"

# The human view of the subcommands that show objects.
complete -c sysv-sem -n '__fish_sysv_sem_using list stat info' -s t -l table -d 'Aligned columns for a person instead of JSON'
complete -c sysv-sem -n '__fish_sysv_sem_using list stat info' -l no-headings -d 'Leave out the header line (with --table)'

# stat
complete -c sysv-sem -n '__fish_sysv_sem_using stat' -l processes -d 'Also the threads blocked on it, and their operations (from /proc)'
