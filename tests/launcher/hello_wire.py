#!/usr/bin/env python3
"""The job's secret never crosses a wire: a job of two daemons on this host runs under strace,
which records every execve (with its environment, where each daemon gets the secret) and every
byte any process writes or sends; the secret must be in a daemon's environment and in nothing
written or sent. Control connections carry HELLO with a proof of the secret (auth.h) instead.

    hello_wire.py PMIXRUN
"""
import os
import re
import socket
import subprocess
import sys
import tempfile

ESC = re.compile(rb'\\x([0-9a-f]{2})')


def decoded(line):
    """The bytes of every quoted string strace printed (-xx: all as \\xNN)."""
    return ESC.sub(lambda m: bytes([int(m.group(1), 16)]), line)


def main():
    pmixrun = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, 'trace')
        cmd = ['strace', '-f', '-qq', '-v', '-xx', '-s', '1000000', '-o', log,
               '-e', 'trace=execve,write,writev,sendto,sendmsg',
               pmixrun, '--oversubscribe', '--vnodes', '2', '-n', '2', 'true']
        env = dict(os.environ, FI_PROVIDER='tcp', FI_TCP_IFACE='lo')
        # LeakSanitizer cannot work under ptrace: the sanitizer build's daemons would abort
        env['ASAN_OPTIONS'] = env.get('ASAN_OPTIONS', '') + ':detect_leaks=0'
        run = subprocess.run(cmd, env=env, timeout=120, capture_output=True)
        if run.returncode != 0:
            print(run.stderr.decode(errors='replace'))
            print('FAIL: the job under strace exited %d' % run.returncode)
            return 1
        with open(log, 'rb') as f:
            lines = [decoded(l) for l in f]
    secrets = set()
    for l in lines:
        if b'execve(' in l:
            secrets.update(re.findall(rb'FMX_JOB_SECRET=([0-9a-f]{32})', l))
    if len(secrets) != 1:
        print('FAIL: want the job secret in the daemons\' environment, found %d' % len(secrets))
        return 1
    secret = secrets.pop()
    sent = [l for l in lines if b'execve(' not in l]
    host = socket.gethostname().encode()
    hellos = [l for l in sent if host in l and (b'send' in l or b'write' in l)]
    leaks = [l for l in sent if secret in l]
    if not hellos:
        print('FAIL: no write carried this host\'s name: the control traffic was not recorded')
        return 1
    if leaks:
        print('FAIL: the job secret crossed a wire %d times, e.g.: %s'
              % (len(leaks), leaks[0][:200].decode(errors='replace')))
        return 1
    print('ok: the job secret is in the daemons\' environment only; %d writes and sends checked'
          % len(sent))
    return 0


if __name__ == '__main__':
    sys.exit(main())
