"""Variants/s of `enformer-score-variants` against `enformer-pipeline`.

    nice -n 5 python bench/pipeline.py [--variants 96] [--sequence_length 4096]

One tiny random model saved to .keras, a random genome and a VCF of SNVs
spread over it, scored three ways on this machine: the single-process
library call of `enformer-score-variants` (`variant_files.
score_variants_to_files`), and the Beam pipeline (`pipeline.driver.run_job`,
the FnApiRunner in multi-process mode) with 1 and 2 worker processes. One
JSON line per run: wall seconds, variants/s, the outputs' equality with the
CLI's, and the machine. The last line derives the engine's overhead: the
pipeline's fixed cost (start-up of Beam and its workers, the driver's
planning) and its cost per record (the pipeline's time per variant above
the CLI's, from two sizes). Tiny model: the per-window cost is not
Enformer's (see bench/README.md for the full model).
"""
import argparse
import gzip
import os
import sys
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402

import common  # noqa: E402
from enformer_tf import Enformer  # noqa: E402
from enformer_tf.genomics import variant_files  # noqa: E402
from enformer_tf.pipeline import driver, jobs  # noqa: E402


def make_inputs(directory, num_variants, length, seed=0):
  keras.utils.set_random_seed(seed)
  model = Enformer(channels=48, num_transformer_layers=1, num_heads=2,
                   conv_tower_divisible_by=8, sequence_length=length,
                   target_length=length // 128 // 2, heads={'human': 8})
  model.build((None, length, 4))
  model_path = os.path.join(directory, 'model.keras')
  model.save(model_path)
  rng = np.random.default_rng(seed)
  size = length * 4 + num_variants * 500
  chrom = ''.join(rng.choice(list('ACGT'), size))
  fasta = os.path.join(directory, 'genome.fa')
  with open(fasta, 'w', encoding='utf-8') as f:
    f.write(f'>chr1\n{chrom}\n')
  vcf_path = os.path.join(directory, 'variants.vcf.gz')
  starts = np.linspace(length, size - length, num_variants).astype(int)
  with gzip.open(vcf_path, 'wt') as f:
    f.write('##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n')
    for i, start in enumerate(starts):
      ref = chrom[start]
      f.write(f'chr1\t{start + 1}\tv{i}\t{ref}\t'
              f'{"ACGT"["ACGT".index(ref) - 1]}\n')
  return model_path, fasta, vcf_path


def run(kind, workers, inputs, directory, num_variants, batch_size):
  model, fasta, vcf_path = inputs
  out = os.path.join(directory, f'{kind}{workers}-{time.time_ns()}.tsv')
  start = time.perf_counter()
  if kind == 'cli':
    variant_files.score_variants_to_files(model, fasta, vcf_path, 'human',
                                          out, batch_size=batch_size)
  else:
    job = jobs.VariantJob(model, fasta, vcf_path, 'human', out,
                          batch_size=batch_size,
                          records_per_shard=max(1, num_variants // 8))
    driver.run_job(job, out + '.work', num_workers=workers)
  seconds = time.perf_counter() - start
  with open(out, 'rb') as f:
    return seconds, f.read()


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--variants', type=int, default=96)
  parser.add_argument('--sequence_length', type=int, default=4096)
  parser.add_argument('--batch_size', type=int, default=8)
  args = parser.parse_args()
  machine = common.machine()
  results = {}
  with tempfile.TemporaryDirectory() as directory:
    for num_variants in (args.variants // 2, args.variants):
      sub = os.path.join(directory, str(num_variants))
      os.mkdir(sub)
      inputs = make_inputs(sub, num_variants, args.sequence_length)
      reference = None
      for kind, workers in (('cli', 1), ('pipeline', 1), ('pipeline', 2)):
        seconds, data = run(kind, workers, inputs, sub, num_variants,
                            args.batch_size)
        reference = data if reference is None else reference
        results[kind, workers, num_variants] = seconds
        common.emit(dict(
            bench='pipeline', kind=kind, workers=workers,
            variants=num_variants, sequence_length=args.sequence_length,
            batch_size=args.batch_size, seconds=round(seconds, 2),
            variants_per_s=round(num_variants / seconds, 2),
            same_tsv_as_cli=data == reference, **machine))
  small, large = args.variants // 2, args.variants
  for workers in (1, 2):
    # Time = fixed + per_record * n, for the CLI and the pipeline.
    pipe = [results['pipeline', workers, n] for n in (small, large)]
    cli = [results['cli', 1, n] for n in (small, large)]
    slope = lambda t: (t[1] - t[0]) / (large - small)  # noqa: E731
    common.emit(dict(
        bench='pipeline_overhead', workers=workers,
        fixed_seconds=round(pipe[0] - slope(pipe) * small
                            - (cli[0] - slope(cli) * small), 2),
        per_record_ms_pipeline=round(1000 * slope(pipe), 2),
        per_record_ms_cli=round(1000 * slope(cli), 2),
        overhead_per_record_ms=round(1000 * (slope(pipe) - slope(cli)), 2),
        **machine))


if __name__ == '__main__':
  main()
