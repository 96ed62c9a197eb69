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


print('| P | S | fmx tcp us | Open MPI tcp us | ratio | raw tcp us | fmx / raw '
      '| fmx shm us | Open MPI vader us | ratio | raw shm us | fmx / raw |')
print('|---|---|---|---|---|---|---|---|---|---|---|---|')
keys = sorted({(k[2], k[3]) for k in med if k[1] != 'barrier'})
for p, s in keys:
    ft, ot = med.get(('fmx-tcp', 'allgather', p, s)), med.get(('ompi-tcp', 'allgather', p, s))
    fs, ov = med.get(('fmx-shm', 'allgather', p, s)), med.get(('ompi-vader', 'allgather', p, s))
    raw = med.get(('raw-tcp', 'allgather', p, s))
    raws = med.get(('raw-shm', 'allgather', p, s))
    size = f'{s >> 20} MiB' if s >= 1 << 20 else f'{s >> 10} KiB'
    print(f'| {p} | {size} | {cell(ft)} | {cell(ot)} | {ratio(ft, ot)} | {cell(raw)} | '
          f'{ratio(ft, raw)} | {cell(fs)} | {cell(ov)} | {ratio(fs, ov)} | {cell(raws)} | '
          f'{ratio(fs, raws)} |')
print()
print('| P | fmx tcp barrier us | Open MPI tcp | ratio | fmx shm barrier us | Open MPI vader | ratio |')
print('|---|---|---|---|---|---|---|')
for p in sorted({k[2] for k in med if k[1] == 'barrier'}):
    ft, ot = med.get(('fmx-tcp', 'barrier', p, 0)), med.get(('ompi-tcp', 'barrier', p, 0))
    fs, ov = med.get(('fmx-shm', 'barrier', p, 0)), med.get(('ompi-vader', 'barrier', p, 0))
    print(f'| {p} | {cell(ft)} | {cell(ot)} | {ratio(ft, ot)} | {cell(fs)} | {cell(ov)} | '
          f'{ratio(fs, ov)} |')
print()
print('Medians of the slowest member per repetition (after a barrier)'
      + (f', the median over {nruns} runs of each' if nruns > 1 else '')
      + '; S is the total gathered, S/P from each member; raw: fi_pingpong -p tcp|shm -e rdm -m '
      'tagged, one-way time for S/2 bytes.')
