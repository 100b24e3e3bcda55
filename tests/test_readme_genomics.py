"""The README's genomics examples run as written, on a `demo_output/` laid
out like the demo's (genome, records and training directory) but holding the
small trained model of tests/synthetic_model.py.

The demo's genome is larger than the test genome, so the one region that
lies beyond the test genome's chr3 is moved inside it; everything else
(commands, arguments, Python) runs verbatim.
"""
import os
import pathlib
import re
import shlex

import numpy as np
import pytest

README = pathlib.Path(__file__).resolve().parent.parent / 'README.md'
SECTION = README.read_text().split(
    '## Genomics: intervals, variant effects, contribution scores, genes'
)[1].split(
        '\n## ')[0]
REGION_MOVES = {'chr3:370000-410000': 'chr3:60000-100000',
                'chr3_370000-410000': 'chr3_60000-100000'}


def _adapt(text):
  for old, new in REGION_MOVES.items():
    text = text.replace(old, new)
  return text


def _blocks(kind):
  return [_adapt(b) for b in re.findall(rf'```{kind}\n(.*?)```', SECTION,
                                        flags=re.S)]


def _block_with(command, blocks):
  [block] = [b for b in blocks if command in b]
  return block


def _commands(block, environment):
  """enformer-* commands of a shell block, continuation lines joined."""
  text = block.replace('\\\n', ' ')
  for name, value in environment.items():
    text = text.replace(f'"${name}"', value).replace(f'${name}', value)
  return [shlex.split(line) for line in text.splitlines()
          if line.strip().startswith('enformer-')]


@pytest.fixture
def demo_output(trained_synthetic, tmp_path, monkeypatch):
  out = tmp_path / 'demo_output'
  out.mkdir()
  fixture_dir = pathlib.Path(trained_synthetic.model_path).parent
  for name in ('genome', 'model', 'records'):
    (out / name).symlink_to(fixture_dir / name)
  monkeypatch.chdir(tmp_path)
  return out


def _main(program):
  from enformer_tf.cli import contrib, evaluate_genes, predict
  from enformer_tf.cli import score_variants
  return {'enformer-predict': predict.main,
          'enformer-score-variants': score_variants.main,
          'enformer-contrib': contrib.main,
          'enformer-evaluate-genes': evaluate_genes.main}[program]


def _first_chr3_promoter(elements):
  for line in open(elements):
    fields = line.split('\t')
    if fields[0] == 'chr3' and fields[6] == 'promoter':
      return f'{fields[0]}:{fields[1]}-{fields[2]}'
  raise AssertionError('no chr3 promoter in the test genome')


@pytest.mark.slow
def test_genomics_section_runs_as_written(demo_output, capsys):
  python_blocks = _blocks('python')
  shell_blocks = _blocks('bash') + _blocks('sh')
  assert len(python_blocks) == 4 and len(shell_blocks) == 4

  # enformer-predict, then its Python equivalent.
  [predict] = _commands(shell_blocks[0], {})
  assert _main(predict[0])(predict[1:]) == 0
  for track in ('cage_promoter', 'cage_distal', 'dnase'):
    assert os.path.getsize(f'predictions/{track}.bw') > 0
  assert os.path.exists('predictions/plots/chr3_60000-100000.png')
  namespace = {}
  exec(compile(python_blocks[0], 'README', 'exec'), namespace)  # noqa: S102
  prediction = namespace['p']
  assert prediction.values.shape[1] == 2
  np.testing.assert_array_equal(prediction.bin_ends - prediction.bin_starts,
                                128)
  assert os.path.exists('cage.bw') and os.path.exists('region.png')

  # Variant effects: the Python block writes variants.vcf, then the CLI.
  exec(compile(python_blocks[1], 'README', 'exec'), {})  # noqa: S102
  [score] = _commands(shell_blocks[1], {})
  capsys.readouterr()
  assert _main(score[0])(score[1:]) == 0
  captured = capsys.readouterr()
  err = captured.err + captured.out
  assert 'line 6: REF mismatch' in err and 'line 7: malformed' in err
  assert 'scored 3 variants, skipped 2 records' in err
  rows = [line.rstrip('\n').split('\t') for line in open('scores.tsv')]
  column = rows[0].index('SAD_cage_promoter')
  assert float(rows[1][column]) < 0  # The SNV in the promoter motif.

  # Contribution scores: the shell block's $REGION, then Python.
  region = _first_chr3_promoter(demo_output / 'genome/human/elements.bed')
  [contrib] = _commands(_block_with('enformer-contrib', shell_blocks),
                        {'REGION': region})
  assert _main(contrib[0])(contrib[1:]) == 0
  assert os.path.exists('demo_output/contrib/grad_x_input.npz')
  namespace = {}
  exec(compile(python_blocks[2], 'README', 'exec'), namespace)  # noqa: S102
  motif = namespace['motif']
  assert namespace['grad'].scores[motif].sum() > 0
  assert namespace['ism'].mean_effect.sum() < 0

  # Genes: the evaluation of held-out genes, then gene sums from Python.
  [evaluate] = _commands(
      _block_with('enformer-evaluate-genes', shell_blocks), {})
  assert _main(evaluate[0])(evaluate[1:] + ['--no_progress']) == 0
  rows = [line.split('\t') for line in
          open('eval_genes/trained_tracks.tsv').read().splitlines()]
  assert [row[0] for row in rows[1:]] == ['cage_promoter', 'cage_distal',
                                          'dnase', 'gc']
  assert int(rows[1][1]) >= 3  # Genes of the valid and test chromosomes.
  namespace = {}
  exec(compile(python_blocks[3], 'README', 'exec'), namespace)  # noqa: S102
  assert namespace['expression'].values.shape == (8, 2)
