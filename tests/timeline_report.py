"""Where the suite's minutes go: reads the ENFORMER_TEST_TIMELINE file.

  ENFORMER_TEST_TIMELINE=/tmp/t.jsonl make test
  python tests/timeline_report.py /tmp/t.jsonl [--top 25]

Prints the wall time, each xdist worker's busy time and last finish (an
idle worker at the end is time the split wasted), the slowest tests and the
slowest modules.
"""
import argparse
import collections
import json


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('timeline')
  parser.add_argument('--top', type=int, default=25)
  args = parser.parse_args(argv)
  with open(args.timeline) as f:
    rows = [json.loads(line) for line in f if line.strip()]
  start = min(r['begin'] for r in rows)
  print(f'{len(rows)} tests, wall {(max(r["end"] for r in rows) - start) / 60:.1f}'
        ' min (from the first test start)')
  workers = collections.defaultdict(list)
  for r in rows:
    workers[r['worker']].append(r)
  for name, own in sorted(workers.items()):
    busy = sum(r['end'] - r['begin'] for r in own)
    print(f'  {name}: {len(own)} tests, busy {busy / 60:.1f} min, last end '
          f'{(max(r["end"] for r in own) - start) / 60:.1f} min')
  print(f'slowest {args.top} tests (s):')
  for r in sorted(rows, key=lambda r: r['begin'] - r['end'])[:args.top]:
    print(f'  {r["end"] - r["begin"]:6.1f}  {r["worker"]}  {r["test"]}')
  modules = collections.Counter()
  for r in rows:
    modules[r['test'].split('::')[0]] += r['end'] - r['begin']
  print(f'slowest {args.top} modules (s):')
  for name, seconds in modules.most_common(args.top):
    print(f'  {seconds:6.1f}  {name}')


if __name__ == '__main__':
  main()
