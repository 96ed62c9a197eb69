#!/usr/bin/env python3
"""Reads every sanitizer report the ASan stage wrote (log_path) and fails on any that is fmx's.

LeakSanitizer's own suppressions match a pattern against any frame of a leak's stack, so a
suppression naming a library function also hides fmx's leaks made in callbacks the library runs
(libpmix calls fmx's upcalls from its own thread) and fmx's failures to free what a library call
handed it. Here a leak is judged by where it was allocated, read from the allocation outward
(the stacks are complete: the stage runs with fast_unwind_on_malloc=0):

  - the first frame past the allocator is fmx's code: fmx's leak;
  - the allocation happened inside a library call fmx made: the library's own only when that
    call (the frame just inside fmx's) is an `entry` of the list, a call that gives its caller
    nothing to free (an entry that names frames too covers only allocations whose named frames,
    from the allocation outward to the call itself, begin with them: what that call keeps, not
    what it hands over); otherwise fmx owns what it was given and leaked it;
  - no frame of fmx's at all (a library's own thread or start-up): the library's own only when
    its named frames, from the allocation outward, begin with the names of a `thread` line;
  - an indirect leak (reachable only from other leaked blocks) in a process whose direct leaks
    are all the libraries' own is theirs too.

Any other sanitizer error (AddressSanitizer, UndefinedBehaviorSanitizer) fails as well.
usage: check.py SOURCE_DIR LOG_DIR LIST"""
import os
import re
import sys

FRAME = re.compile(r'^\s+#(\d+) 0x[0-9a-f]+ (?:in (\S+) )?(.*)$')


def load_list(path):
    entries, threads = {}, []
    for n, line in enumerate(open(path), 1):
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        kind, *names = line.split()
        if kind == 'entry' and names:
            entries.setdefault(names[0], []).append(names[1:])
        elif kind == 'thread' and names:
            threads.append(names)
        else:
            sys.exit(f'{path}:{n}: expected "entry FUNCTION [FRAME...]" or "thread FUNCTION..."')
    return entries, threads


def frames_of(record):
    out = []
    for line in record.splitlines()[1:]:
        m = FRAME.match(line)
        if m:
            out.append((m.group(2) or '?', m.group(3)))
    return out


def is_sanitizer(loc):
    return 'libsanitizer' in loc or 'libasan' in loc or 'libubsan' in loc


def begins_with(named, pattern):
    """Whether the frames begin with the pattern's names; "..." stands for any frames (none
    too) before the name that follows it."""
    at = 0
    for k, name in enumerate(pattern):
        if name == '...':
            continue
        if k and pattern[k - 1] == '...':
            if name not in named[at:]:
                return False
            at = named.index(name, at)
        elif at >= len(named) or named[at] != name:
            return False
        at += 1
    return True


def judge(frames, src, entries, threads):
    """None when the leak is a library's own, else a reason it is fmx's."""
    frames = [f for f in frames if not is_sanitizer(f[1])]
    mine = [src in loc for _, loc in frames]
    if mine and mine[0]:
        return 'allocated by fmx'
    if True in mine:
        k = mine.index(True)
        entry = frames[k - 1][0]
        inside = [fn for fn, _ in frames[:k] if fn != '?']
        if any(begins_with(inside, p) for p in entries.get(entry, [])):
            return None
        return f'allocated inside {entry}, called from {frames[k][0]} ({frames[k][1]}): fmx owns it'
    named = [fn for fn, _ in frames if fn != '?']
    for pattern in threads:
        if begins_with(named, pattern):
            return None
    return 'allocated on a library thread at a site the list does not name (' + \
        ' < '.join(named[:4]) + ')'


def main():
    src, logdir, listpath = sys.argv[1:4]
    src = os.path.realpath(src) + '/'
    entries, threads = load_list(listpath)
    if not os.path.exists(os.path.join(logdir, '.armed')):
        print(f'lsan check: {logdir}/.armed is missing: the reports were not collected '
              '(run the stage through scripts/test.sh, which sets log_path)')
        return 1
    theirs = mine = errors = 0
    for name in sorted(n for n in os.listdir(logdir) if not n.startswith('.')):
        text = open(os.path.join(logdir, name), errors='replace').read()
        prog = re.search(r'in main (\S+)', text)
        who = f'{name} ({prog.group(1) if prog else "a process"})'
        if re.search(r'ERROR: AddressSanitizer|runtime error:', text):
            errors += 1
            print(f'=== {who}: a sanitizer error\n{text}')
            continue
        records = [r.strip() for r in text.split('\n\n')
                   if re.match(r'(Direct|Indirect) leak', r.strip())]
        verdicts = [judge(frames_of(r), src, entries, threads) for r in records]
        # an indirect leak is reachable only from other leaked blocks: when every direct leak
        # of the process is a library's own, so is everything they hold
        directs_theirs = all(v is None for r, v in zip(records, verdicts)
                             if r.startswith('Direct'))
        for record, why in zip(records, verdicts):
            if why is None or (directs_theirs and record.startswith('Indirect')):
                theirs += 1
                continue
            mine += 1
            print(f'=== {who}: {why}\n{record}\n')
    print(f'lsan check: {theirs} leak record(s) of the libraries\' own (tests/lsan/library-leaks),'
          f' {mine} of fmx\'s, {errors} other sanitizer report(s)')
    return 1 if mine or errors else 0


if __name__ == '__main__':
    sys.exit(main())
