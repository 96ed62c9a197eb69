#!/usr/bin/env python3
"""bench/peers.sh's CSV as a table of medians and ratios: the engine over tcp against Open MPI's
tcp BTL and, at P = 2, against libfabric's own transfer of the same bytes; the engine over shm
against Open MPI's vader and, at P = 2, the shm provider's own transfer. A ratio below 1 means
fmx is faster."""
import csv
import statistics
import sys

rows = list(csv.DictReader(open(sys.argv[1])))
runs = {}
for r in rows:
    if r['median_us']:
        key = (r['who'], r['kind'], int(r['P']), int(r['S_bytes']))
        runs.setdefault(key, []).append(float(r['median_us']))
# several runs of a configuration: the median of their medians
med = {k: statistics.median(v) for k, v in runs.items()}
nruns = max((len(v) for v in runs.values()), default=0)

if '--ratios' in sys.argv:  # for bench/peers.gp: per P, fmx/Open MPI (tcp, shm/vader) per S
    sizes = sorted({k[3] for k in med})
    print('P,' + ','.join(f'tcp_{s},shm_{s}' for s in sizes))
    for p in sorted({k[2] for k in med}):
        cells = []
        for s in sizes:
            kind = 'barrier' if s == 0 else 'allgather'
            ft, ot = med.get(('fmx-tcp', kind, p, s)), med.get(('ompi-tcp', kind, p, s))
            fs, ov = med.get(('fmx-shm', kind, p, s)), med.get(('ompi-vader', kind, p, s))
            cells += [f'{ft / ot:.3f}' if ft and ot else 'NaN', f'{fs / ov:.3f}' if fs and ov else 'NaN']
        print(f'{p},' + ','.join(cells))
    sys.exit(0)


def cell(v):
    return '-' if v is None else (f'{v:.0f}' if v >= 100 else f'{v:.1f}')


def ratio(a, b):
    return '-' if a is None or b is None or b == 0 else f'{a / b:.2f}'


# the two stacks compared: (fmx's, Open MPI's, the raw transfer's) names in the CSV, and titles
if '--set' in sys.argv and sys.argv[sys.argv.index('--set') + 1] == 'ucx':
    A, B = ('fmx-ucx-tcp', 'ompi-ucx-tcp', 'raw-ucx-tcp'), ('fmx-ucx-sm', 'ompi-ucx-sm', 'raw-ucx-sm')
    TA, TB = ('fmx UCX tcp', 'Open MPI UCX tcp', 'ucx_perftest tcp'), \
        ('fmx UCX sm', 'Open MPI UCX sm', 'ucx_perftest sm')
    RAW = ('ucx_perftest -t ucp_am_bw over UCX_TLS=tcp|sm, the time per message of S/2 bytes at '
           'its overall bandwidth')
else:
    A, B = ('fmx-tcp', 'ompi-tcp', 'raw-tcp'), ('fmx-shm', 'ompi-vader', 'raw-shm')
    TA, TB = ('fmx tcp', 'Open MPI tcp', 'raw tcp'), ('fmx shm', 'Open MPI vader', 'raw shm')
    RAW = 'fi_pingpong -p tcp|shm -e rdm -m tagged, one-way time for S/2 bytes'
print(f'| P | S | {TA[0]} us | {TA[1]} us | ratio | {TA[2]} us | fmx / raw '
      f'| {TB[0]} us | {TB[1]} us | ratio | {TB[2]} us | fmx / raw |')
print('|---|---|---|---|---|---|---|---|---|---|---|---|')
keys = sorted({(k[2], k[3]) for k in med if k[1] != 'barrier'})
for p, s in keys:
    ft, ot = med.get((A[0], 'allgather', p, s)), med.get((A[1], 'allgather', p, s))
    fs, ov = med.get((B[0], 'allgather', p, s)), med.get((B[1], 'allgather', p, s))
    raw = med.get((A[2], 'allgather', p, s))
    raws = med.get((B[2], 'allgather', p, s))
    size = f'{s >> 20} MiB' if s >= 1 << 20 else f'{s >> 10} KiB'
    print(f'| {p} | {size} | {cell(ft)} | {cell(ot)} | {ratio(ft, ot)} | {cell(raw)} | '
          f'{ratio(ft, raw)} | {cell(fs)} | {cell(ov)} | {ratio(fs, ov)} | {cell(raws)} | '
          f'{ratio(fs, raws)} |')
print()
print(f'| P | {TA[0]} barrier us | {TA[1]} | ratio | {TB[0]} barrier us | {TB[1]} | ratio |')
print('|---|---|---|---|---|---|---|')
for p in sorted({k[2] for k in med if k[1] == 'barrier'}):
    ft, ot = med.get((A[0], 'barrier', p, 0)), med.get((A[1], 'barrier', p, 0))
    fs, ov = med.get((B[0], 'barrier', p, 0)), med.get((B[1], 'barrier', p, 0))
    print(f'| {p} | {cell(ft)} | {cell(ot)} | {ratio(ft, ot)} | {cell(fs)} | {cell(ov)} | '
          f'{ratio(fs, ov)} |')
print()
print('Medians of the slowest member per repetition (after a barrier)'
      + (f', the median over {nruns} runs of each' if nruns > 1 else '')
      + f'; S is the total gathered, S/P from each member; raw: {RAW}.')
