"""Shared reference windows for clustered variants: speed-up, measured.

    python bench/variant_sharing.py [--clusters 24] [--per_cluster 8]

A random genome and a VCF of clusters of SNVs (each cluster within 48 bp)
plus a few indels are scored with `enformer_tf.genomics.variant_scoring.
score_vcf` twice, interleaved run by run: each variant in its own centred
window (the default) and with `share_windows=32` (one reference window per
cluster). Prints one JSON line: median seconds of each, the speed-up, the
windows predicted by each and the seconds spent in the model, and the
largest and median |SAD| difference between the two runs over all variants
(what moving a variant up to 32 bp off its window's centre changes; the
exactness of shared windows is tested in tests/genomics/
test_variant_sharing.py). Tiny random model (48 channels, 2,048 bp): the
ratio follows the windows predicted; absolute times are not Enformer's.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402

import common  # noqa: E402
from enformer_tf import Enformer  # noqa: E402
from enformer_tf.data import genome  # noqa: E402
from enformer_tf.genomics import variant_scoring  # noqa: E402


class Counting:
  def __init__(self, model):
    self.model, self.sequences, self.seconds = model, 0, 0.0
    self.heads, self.sequence_length = model.heads, model.sequence_length
    self.target_length = model.target_length

  def predict_head(self, x, head, training=False):
    self.sequences += len(x)
    start = time.perf_counter()
    y = self.model.predict_head(x, head, training=training).numpy()
    self.seconds += time.perf_counter() - start
    return y


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--clusters', type=int, default=24)
  parser.add_argument('--per_cluster', type=int, default=8)
  parser.add_argument('--runs', type=int, default=3)
  parser.add_argument('--batch_size', type=int, default=16)
  args = parser.parse_args()
  rng = np.random.default_rng(0)
  keras.utils.set_random_seed(0)
  model = Enformer(channels=48, num_transformer_layers=1, num_heads=2,
                   conv_tower_divisible_by=8, sequence_length=2048,
                   target_length=8, heads={'human': 4})
  model.build((None, 2048, 4))
  size = 10_000 + args.clusters * 5_000
  sequence = ''.join(rng.choice(list('ACGT'), size))
  lines, centred = [], []
  for c in range(args.clusters):
    base = 5_000 + c * 5_000
    offsets = sorted(rng.choice(49, args.per_cluster, replace=False))
    for k, o in enumerate(offsets):
      p = base + int(o)
      ref = sequence[p]
      alt = 'ACGT'[('ACGT'.index(ref) + 1) % 4]
      lines.append(f'chr1\t{p + 1}\tc{c}_{k}\t{ref}\t{alt}\t.\t.\t.')
    if c % 6 == 0:  # An indel after some clusters: its own window.
      p = base + 2_000
      lines.append(f'chr1\t{p + 1}\tdel{c}\t{sequence[p:p + 4]}\t'
                   f'{sequence[p]}\t.\t.\t.')
  with tempfile.TemporaryDirectory() as tmp:
    fasta_path = os.path.join(tmp, 'genome.fa')
    with open(fasta_path, 'w') as f:
      f.write(f'>chr1\n{sequence}\n')
    vcf_path = os.path.join(tmp, 'variants.vcf')
    with open(vcf_path, 'w') as f:
      f.write('##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\t'
              'FILTER\tINFO\n' + '\n'.join(lines) + '\n')
    counters = {}
    with genome.FastaExtractor(fasta_path) as fasta:

      def run(share):
        counting = Counting(model)
        counters[share] = counting
        out = os.path.join(tmp, f'{share}.h5')
        variant_scoring.score_vcf(
            counting, fasta, vcf_path, 'human',
            os.path.join(tmp, f'{share}.tsv'), h5=out,
            batch_size=args.batch_size, share_windows=share)
        return None

      alone, shared = common.interleaved_times(lambda: run(None),
                                               lambda: run(32), args.runs, 1)
      import h5py
      with h5py.File(os.path.join(tmp, 'None.h5')) as a, \
          h5py.File(os.path.join(tmp, '32.h5')) as b:
        difference = np.abs(a['sad'][:] - b['sad'][:])
  print(json.dumps(dict(
      bench='variant_sharing', variants=len(lines),
      clusters=args.clusters, per_cluster=args.per_cluster,
      batch_size=args.batch_size,
      seconds_alone=round(statistics.median(alone), 3),
      seconds_shared=round(statistics.median(shared), 3),
      speedup=round(statistics.median(alone) / statistics.median(shared), 2),
      windows_alone=counters[None].sequences,
      windows_shared=counters[32].sequences,
      model_seconds_alone=round(counters[None].seconds, 3),
      model_seconds_shared=round(counters[32].seconds, 3),
      max_abs_sad_difference=float(difference.max()),
      median_abs_sad_difference=float(np.median(difference)))))


if __name__ == '__main__':
  main()
