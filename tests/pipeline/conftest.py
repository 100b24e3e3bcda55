"""Inputs of the pipeline tests: a tiny saved model, a FASTA and a VCF of
20 lines with bad ones, and the single-process command's outputs on them."""
import gzip
import os

import numpy as np
import pytest
import tf_keras as keras

from enformer_tf import Enformer
from enformer_tf.genomics import variant_files

LENGTH = 1024  # Model window: 4 output bins.
BASES = np.array(list('ACGT'))
HEADER = ('##fileformat=VCFv4.2\n'
          '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n')
NUM_BAD = 5  # Bad records in the VCF below (skipped, reported).


def make_inputs(directory: str) -> dict:
  """Writes model.keras, genome.fa and variants.vcf.gz into `directory`."""
  keras.utils.set_random_seed(3)
  # No transformer layer: the jobs' equality with the commands does not
  # depend on the architecture, and each job loads the model a few times
  # (planning, every worker; ~1 s less per load).
  model = Enformer(channels=48, num_transformer_layers=0, num_heads=2,
                   conv_tower_divisible_by=8, sequence_length=LENGTH,
                   target_length=4, heads={'human': 3})
  model.build((None, LENGTH, 4))
  model_path = os.path.join(directory, 'model.keras')
  model.save(model_path)
  rng = np.random.default_rng(11)
  chroms = {'chr1': ''.join(rng.choice(BASES, 6000)),
            'chr2': ''.join(rng.choice(BASES, 3000))}
  fasta = os.path.join(directory, 'genome.fa')
  with open(fasta, 'w', encoding='utf-8') as f:
    f.write(''.join(f'>{name}\n{seq}\n' for name, seq in chroms.items()))
  lines = []
  for i, (chrom, start) in enumerate(
      [('chr1', s) for s in range(300, 5800, 400)] +
      [('chr2', 500), ('chr2', 510)]):
    ref = chroms[chrom][start]
    alt = 'ACGT'['ACGT'.index(ref) - 1]
    if i == 3:  # An insertion and a deletion among the SNVs.
      alt = ref + 'GATTACA'
    if i == 6:
      ref = chroms[chrom][start:start + 4]
      alt = ref[0]
    lines.append(f'{chrom}\t{start + 1}\tv{i}\t{ref}\t{alt}\t.\t.\t.')
  wrong = 'ACGT'['ACGT'.index(chroms['chr1'][1000]) - 2]
  lines[4:4] = [f'chr1\t1001\twrong_ref\t{wrong}\tA\t.\t.\t.',
                'chr1\tabc\tbad_pos\tA\tG\t.\t.\t.',
                'chrX\t100\tno_chrom\tA\tG\t.\t.\t.']
  lines[10:10] = ['chr1\t100\ttoo_few\tA',
                  'chr1\t2001\tsv\tA\t<DEL>\t.\t.\t.']
  vcf_path = os.path.join(directory, 'variants.vcf.gz')
  with gzip.open(vcf_path, 'wt') as f:
    f.write(HEADER + '\n'.join(lines) + '\n')
  return dict(model=model_path, fasta=fasta, vcf_path=vcf_path,
              head='human')


OPTIONS = dict(rc=True, shifts=(0, 1), batch_size=4)


@pytest.fixture(name='inputs', scope='session')
def _inputs(tmp_path_factory):
  return make_inputs(str(tmp_path_factory.mktemp('pipeline_inputs')))


@pytest.fixture(name='cli_outputs', scope='session')
def _cli_outputs(inputs, tmp_path_factory):
  """The single-process command's TSV and skipped report (bytes)."""
  directory = tmp_path_factory.mktemp('cli')
  out, skipped = directory / 'scores.tsv', directory / 'skipped.tsv'
  variant_files.score_variants_to_files(
      inputs['model'], inputs['fasta'], inputs['vcf_path'], inputs['head'],
      str(out), skipped=str(skipped), **OPTIONS)
  return out.read_bytes(), skipped.read_bytes()
