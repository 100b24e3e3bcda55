"""Basenji2 TFRecords: writer/reader round trips, the published format by
hand, statistics.json validation, corrupt files."""
import json
import logging
import os

import numpy as np
import pytest
import tensorflow as tf

from enformer_tf.data import basenji, encoding

# Tiny but consistent: (64 - 2 * 8) // 8 = 6 bins.
L, POOL, CROP, T, N = 64, 8, 8, 6, 3
STATS = dict(num_targets=N, train_seqs=0, valid_seqs=0, test_seqs=0,
             seq_length=L, pool_width=POOL, crop_bp=CROP, target_length=T)


def make_examples(count, seed=0):
  """`count` (one-hot [L, 4] with some N rows, target [T, N]) pairs."""
  rng = np.random.RandomState(seed)
  sequences = np.eye(5, 4, dtype=np.float32)[rng.randint(0, 5, (count, L))]
  targets = rng.gamma(1.0, 3.0, (count, T, N)).astype(np.float32)
  targets[:, 0, 0] = 0.1  # Not exact in float16.
  return list(zip(sequences, targets))


def write_dataset(data_dir, examples, split='train', seq_1hot=False,
                  seqs_per_file=4):
  count = basenji.write_tfrecords(data_dir, split, examples,
                                  seqs_per_file=seqs_per_file,
                                  seq_1hot=seq_1hot)
  basenji.write_statistics(data_dir, **{**STATS, f'{split}_seqs': count},
                           seq_1hot=seq_1hot)
  return count


def read_all(data_dir, split='train', **kwargs):
  return [{k: v.numpy() for k, v in example.items()}
          for example in basenji.load_dataset(data_dir, split, **kwargs)]


def tfr(data_dir, name):
  return os.path.join(data_dir, 'tfrecords', name)


def assert_examples_equal(got, examples):
  assert len(got) == len(examples)
  for example, (sequence, target) in zip(got, examples):
    assert example['sequence'].dtype == np.float32
    np.testing.assert_array_equal(example['sequence'], sequence)
    # Stored as float16: equal to the float16-rounded values, exactly.
    np.testing.assert_array_equal(
        example['target'], target.astype(np.float16).astype(np.float32))


# -- Round trips --------------------------------------------------------------


@pytest.mark.parametrize('seq_1hot', [False, True])
def test_write_then_read_is_exact(tmp_path, seq_1hot):
  examples = make_examples(10)
  assert write_dataset(str(tmp_path), examples, seq_1hot=seq_1hot) == 10
  assert basenji.read_statistics(str(tmp_path))['seq_1hot'] is seq_1hot
  got = read_all(str(tmp_path))
  assert_examples_equal(got, examples)
  # float16 rounding really happened (0.1 is not a float16).
  assert got[0]['target'][0, 0] == np.float32(np.float16(0.1)) != np.float32(
      0.1)


@pytest.mark.parametrize('seq_1hot', [False, True])
def test_sequence_bytes_on_disk(tmp_path, seq_1hot):
  write_dataset(str(tmp_path), [('ACGTN' + 'A' * (L - 5),
                                 np.zeros((T, N)))], seq_1hot=seq_1hot)
  record = next(iter(tf.data.TFRecordDataset(tfr(tmp_path, 'train-0.tfr'),
                                             'ZLIB')))
  example = tf.train.Example.FromString(record.numpy())
  stored = example.features.feature['sequence'].bytes_list.value[0]
  if seq_1hot:
    assert stored[:6] == bytes([0, 1, 2, 3, 4, 0]) and len(stored) == L
  else:
    assert stored[:20] == bytes([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0,
                                 0, 0, 0, 1, 0, 0, 0, 0])
    assert len(stored) == 4 * L


def test_strings_are_written_like_their_one_hot(tmp_path):
  examples = make_examples(3)
  strings = [(encoding.one_hot_decode(s).lower(), t) for s, t in examples]
  write_dataset(str(tmp_path), strings)
  assert_examples_equal(read_all(str(tmp_path)), examples)


def test_files_are_read_in_numeric_order(tmp_path):
  examples = make_examples(11)
  write_dataset(str(tmp_path), examples, seqs_per_file=1)
  names = [os.path.basename(p)
           for p in basenji.tfrecord_paths(str(tmp_path), 'train')]
  assert names == [f'train-{i}.tfr' for i in range(11)]
  # Sequential and parallel reads both keep file order (= sequences.bed).
  for reads in (None, 4):
    assert_examples_equal(read_all(str(tmp_path), num_parallel_reads=reads),
                          examples)


def test_files_hold_seqs_per_file_examples(tmp_path):
  write_dataset(str(tmp_path), make_examples(10), seqs_per_file=4)
  counts = {name: sum(1 for _ in tf.data.TFRecordDataset(
      tfr(tmp_path, name), 'ZLIB')) for name in os.listdir(tfr(tmp_path, ''))}
  assert counts == {'train-0.tfr': 4, 'train-1.tfr': 4, 'train-2.tfr': 2}
  assert basenji.describe(str(tmp_path))['splits'] == {
      'train': {'files': 3, 'sequences': 10},
      'valid': {'files': 0, 'sequences': 0},
      'test': {'files': 0, 'sequences': 0}}


def test_shuffle_is_a_seeded_permutation(tmp_path):
  examples = make_examples(12)
  write_dataset(str(tmp_path), examples, seqs_per_file=3)
  first = read_all(str(tmp_path), shuffle_buffer=8, seed=5)
  second = read_all(str(tmp_path), shuffle_buffer=8, seed=5)

  def key(example):
    return example['target'].tobytes()

  assert [key(e) for e in first] == [key(e) for e in second]
  assert [key(e) for e in first] != [key(e) for e in read_all(str(tmp_path))]
  assert_examples_equal(
      sorted(first, key=key),
      sorted(examples, key=lambda e: e[1].astype(np.float16).astype(
          np.float32).tobytes()))


def test_repeat(tmp_path):
  examples = make_examples(3)
  write_dataset(str(tmp_path), examples)
  dataset = basenji.load_dataset(str(tmp_path), 'train', repeat=True)
  got = [{k: v.numpy() for k, v in e.items()} for e in dataset.take(7)]
  assert_examples_equal(got, (examples * 3)[:7])


def test_batched_shapes_are_static(tmp_path):
  write_dataset(str(tmp_path), make_examples(4))
  dataset = basenji.load_dataset(str(tmp_path), 'train').batch(2)
  assert dataset.element_spec['sequence'].shape.as_list() == [None, L, 4]
  assert dataset.element_spec['target'].shape.as_list() == [None, T, N]


# -- The published format, built by hand --------------------------------------


def _bytes_feature(value):
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def test_reads_a_file_written_like_the_published_data(tmp_path):
  """Basenji's writer: bool one-hot / float16 bytes, ZLIB, no seq_1hot."""
  rng = np.random.RandomState(3)
  os.makedirs(tfr(tmp_path, ''))
  with open(os.path.join(tmp_path, 'statistics.json'), 'w') as f:
    json.dump({**STATS, 'train_seqs': 2}, f)
  sequences = ['ACGTN' * 12 + 'acgt', 'N' * 60 + 'TTGC']
  targets = [rng.rand(T, N).astype(np.float16) * 100 for _ in range(2)]
  with tf.io.TFRecordWriter(tfr(tmp_path, 'train-0.tfr'), 'ZLIB') as writer:
    for sequence, target in zip(sequences, targets):
      one_hot = np.zeros((L, 4), np.bool_)
      for i, base in enumerate(sequence.upper()):
        if base in 'ACGT':
          one_hot[i, 'ACGT'.index(base)] = True
      example = tf.train.Example(features=tf.train.Features(feature={
          'sequence': _bytes_feature(one_hot.tobytes()),
          'target': _bytes_feature(target.tobytes())}))
      writer.write(example.SerializeToString())
  got = read_all(str(tmp_path))
  for example, sequence, target in zip(got, sequences, targets):
    np.testing.assert_array_equal(example['sequence'],
                                  encoding.one_hot_encode(sequence))
    np.testing.assert_array_equal(example['target'], target.astype(np.float32))
  assert encoding.one_hot_decode(got[1]['sequence']) == 'N' * 60 + 'TTGC'


def test_reads_a_seq_1hot_file_written_like_baskerville(tmp_path):
  """Baskerville's dna_1hot_index layout: uint8 0..3, 4 for N."""
  os.makedirs(tfr(tmp_path, ''))
  with open(os.path.join(tmp_path, 'statistics.json'), 'w') as f:
    json.dump({**STATS, 'train_seqs': 1, 'seq_1hot': True}, f)
  indices = np.array([0, 1, 2, 3, 4] * 12 + [3, 2, 1, 0], np.uint8)
  target = np.arange(T * N, dtype=np.float16).reshape(T, N)
  with tf.io.TFRecordWriter(tfr(tmp_path, 'train-0.tfr'), 'ZLIB') as writer:
    writer.write(tf.train.Example(features=tf.train.Features(feature={
        'sequence': _bytes_feature(indices.tobytes()),
        'target': _bytes_feature(target.tobytes())})).SerializeToString())
  (example,) = read_all(str(tmp_path))
  np.testing.assert_array_equal(example['sequence'], np.eye(5, 4)[indices])
  np.testing.assert_array_equal(example['target'], target.astype(np.float32))


# -- parse_example ------------------------------------------------------------


def _serialized(sequence_bytes, target_bytes):
  return tf.train.Example(features=tf.train.Features(feature={
      'sequence': _bytes_feature(sequence_bytes),
      'target': _bytes_feature(target_bytes)})).SerializeToString()


def test_parse_example_in_a_dataset_map():
  stats = {**STATS, 'seq_1hot': True}
  indices = np.arange(L, dtype=np.uint8) % 5
  target = np.full((T, N), 2.5, np.float16)
  dataset = tf.data.Dataset.from_tensors(
      _serialized(indices.tobytes(), target.tobytes())).map(
          lambda s: basenji.parse_example(s, stats))
  (example,) = list(dataset)
  np.testing.assert_array_equal(example['sequence'].numpy(),
                                np.eye(5, 4)[indices])
  np.testing.assert_array_equal(example['target'].numpy(), np.full((T, N),
                                                                   2.5))


def test_parse_example_wrong_target_size_names_expected_shape():
  serialized = _serialized(np.zeros((L, 4), np.bool_).tobytes(),
                           np.zeros((T, N + 1), np.float16).tobytes())
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r'target has 48 bytes; expected 36 bytes for '
                     r'float16 \[target_length, num_targets\] = \[6, 3\]'):
    basenji.parse_example(serialized, STATS)


def test_parse_example_wrong_sequence_layout_says_why():
  serialized = _serialized(np.zeros(L, np.uint8).tobytes(),
                           np.zeros((T, N), np.float16).tobytes())
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r'sequence has 64 bytes; expected 256 .*seq_1hot'):
    basenji.parse_example(serialized, STATS)


def test_load_dataset_wrong_target_size_names_file_and_record(tmp_path):
  write_dataset(str(tmp_path), make_examples(3))
  basenji.write_statistics(str(tmp_path), **{**STATS, 'num_targets': 4,
                                             'train_seqs': 3})
  with pytest.raises(tf.errors.InvalidArgumentError) as error:
    read_all(str(tmp_path))
  message = str(error.value)
  assert tfr(tmp_path, 'train-0.tfr') + ': record 0: target has 36 bytes' \
      in message
  assert 'expected 48 bytes for float16 [target_length, num_targets] = ' \
      '[6, 4]' in message


# -- statistics.json ----------------------------------------------------------


def _write_json(tmp_path, stats):
  path = os.path.join(tmp_path, 'statistics.json')
  with open(path, 'w') as f:
    json.dump(stats, f)
  return path


def test_statistics_of_the_published_human_data_are_valid():
  human = dict(num_targets=5313, train_seqs=34021, valid_seqs=2213,
               test_seqs=1937, seq_length=131072, pool_width=128,
               crop_bp=8192, target_length=896)
  assert basenji.validate_statistics(human)['seq_1hot'] is False


def test_statistics_missing_key_names_file_and_key(tmp_path):
  stats = dict(STATS)
  del stats['target_length']
  path = _write_json(tmp_path, stats)
  with pytest.raises(ValueError) as error:
    basenji.read_statistics(str(tmp_path))
  assert str(error.value) == f"{path}: missing key 'target_length'"


@pytest.mark.parametrize('key, value, match', [
    ('num_targets', '3', r"key 'num_targets' must be an integer; got str"),
    ('seq_length', 64.0, r"key 'seq_length' must be an integer; got float"),
    ('pool_width', True, r"key 'pool_width' must be an integer; got bool"),
    ('train_seqs', None, r"key 'train_seqs' must be an integer; got NoneType"),
    ('num_targets', 0, r"key 'num_targets' must be positive; got 0"),
    ('valid_seqs', -1, r"key 'valid_seqs' must be >= 0; got -1"),
    ('seq_1hot', 1, r"key 'seq_1hot' must be true or false; got int"),
    ('seq_depth', 5, r"key 'seq_depth' must be 4"),
    ('target_length', 7, r'target_length=7 is inconsistent with '
     r'\(seq_length - 2 \* crop_bp\) // pool_width = \(64 - 2 \* 8\) // 8 = '
     r'6'),
    ('crop_bp', 32, r'crop_bp=32 leaves nothing of seq_length=64'),
])
def test_statistics_bad_values(tmp_path, key, value, match):
  path = _write_json(tmp_path, {**STATS, key: value})
  with pytest.raises(ValueError, match=f'^{path}: {match}'):
    basenji.read_statistics(str(tmp_path))


def test_statistics_not_json_and_missing(tmp_path):
  with pytest.raises(FileNotFoundError, match='statistics.json'):
    basenji.read_statistics(str(tmp_path))
  path = os.path.join(tmp_path, 'statistics.json')
  with open(path, 'w') as f:
    f.write('{"num_targets": 3,')
  with pytest.raises(ValueError, match=f'^{path}: not valid JSON'):
    basenji.read_statistics(str(tmp_path))
  with open(path, 'w') as f:
    f.write('[1, 2]')
  with pytest.raises(ValueError, match='expected a JSON object'):
    basenji.read_statistics(str(tmp_path))


def test_write_statistics_validates_and_round_trips(tmp_path):
  with pytest.raises(ValueError, match="missing key 'crop_bp'"):
    basenji.write_statistics(str(tmp_path), **{
        k: v for k, v in STATS.items() if k != 'crop_bp'})
  assert not os.path.exists(os.path.join(tmp_path, 'statistics.json'))
  basenji.write_statistics(str(tmp_path), **STATS, seq_1hot=True, extra='x')
  assert basenji.read_statistics(str(tmp_path)) == {**STATS, 'seq_1hot': True,
                                                    'extra': 'x'}
  assert os.listdir(tmp_path) == ['statistics.json']


# -- File listing -------------------------------------------------------------


def test_tfrecord_paths_errors(tmp_path):
  with pytest.raises(ValueError, match=r"split must be one of .* got 'dev'"):
    basenji.tfrecord_paths(str(tmp_path), 'dev')
  with pytest.raises(FileNotFoundError, match=r"valid-\*\.tfr: no TFRecord "
                     r"files for split 'valid'"):
    basenji.tfrecord_paths(str(tmp_path), 'valid')


def test_tfrecord_paths_ignores_other_names(tmp_path, caplog):
  write_dataset(str(tmp_path), make_examples(2), seqs_per_file=1)
  open(tfr(tmp_path, 'train-x.tfr'), 'w').close()
  open(tfr(tmp_path, 'train-5.tfr.bak'), 'w').close()
  with caplog.at_level(logging.WARNING):
    names = [os.path.basename(p)
             for p in basenji.tfrecord_paths(str(tmp_path), 'train')]
  assert names == ['train-0.tfr', 'train-1.tfr']
  assert 'train-x.tfr' in caplog.text


# -- Writer -------------------------------------------------------------------


def test_writer_refuses_existing_split_unless_overwrite(tmp_path):
  write_dataset(str(tmp_path), make_examples(9), seqs_per_file=2)  # 5 files
  with pytest.raises(FileExistsError, match="split 'train' already has 5 "
                     'files'):
    basenji.write_tfrecords(str(tmp_path), 'train', make_examples(1))
  new = make_examples(3, seed=1)
  assert basenji.write_tfrecords(str(tmp_path), 'train', new,
                                 seqs_per_file=2, overwrite=True) == 3
  assert sorted(os.listdir(tfr(tmp_path, ''))) == ['train-0.tfr',
                                                   'train-1.tfr']
  basenji.write_statistics(str(tmp_path), **{**STATS, 'train_seqs': 3})
  assert_examples_equal(read_all(str(tmp_path)), new)


def test_writer_leaves_nothing_visible_when_it_fails(tmp_path):
  def examples():
    yield from make_examples(5)
    raise RuntimeError('the source failed')
  with pytest.raises(RuntimeError, match='the source failed'):
    basenji.write_tfrecords(str(tmp_path), 'train', examples(),
                            seqs_per_file=2)
  assert os.listdir(tfr(tmp_path, '')) == []  # No final, no temporary files.


def test_writer_rejects_targets_beyond_float16(tmp_path):
  examples = make_examples(2)
  examples[1][1][2, 1] = 70000.0
  with pytest.raises(ValueError, match=r'example 1: target\[2, 1\] = '
                     r'70000.0 is not a finite float16'):
    basenji.write_tfrecords(str(tmp_path), 'train', examples)
  examples[1][1][2, 1] = np.nan
  with pytest.raises(ValueError, match='not a finite float16'):
    basenji.write_tfrecords(str(tmp_path), 'train', examples)
  assert os.listdir(tfr(tmp_path, '')) == []
  # The float16 maximum itself is fine.
  examples[1][1][2, 1] = 65504.0
  assert basenji.write_tfrecords(str(tmp_path), 'train', examples) == 2


def test_writer_rejects_bad_sequences_and_shapes(tmp_path):
  (sequence, target), = make_examples(1)
  soft = sequence.copy()
  soft[3] = 0.25
  with pytest.raises(ValueError, match='example 0: one_hot row at position 3'):
    basenji.write_tfrecords(str(tmp_path), 'train', [(soft, target)])
  with pytest.raises(ValueError, match=r'example 1: sequence has shape '
                     r'\(63,\); example 0 had \(64,\)'):
    basenji.write_tfrecords(str(tmp_path), 'train',
                            [(sequence, target), (sequence[1:], target)])
  with pytest.raises(ValueError, match=r'example 1: target has shape'):
    basenji.write_tfrecords(str(tmp_path), 'train',
                            [(sequence, target), (sequence, target[1:])])
  with pytest.raises(ValueError, match=r'example 0: expected a \(sequence, '
                     r'target\) pair'):
    basenji.write_tfrecords(str(tmp_path), 'train', [sequence])
  with pytest.raises(ValueError, match='seqs_per_file'):
    basenji.write_tfrecords(str(tmp_path), 'train', [], seqs_per_file=0)
  assert basenji.write_tfrecords(str(tmp_path), 'test', []) == 0
  assert os.listdir(tfr(tmp_path, '')) == []


# -- Corrupt files ------------------------------------------------------------


@pytest.fixture(name='damaged')
def fixture_damaged(tmp_path):
  """12 examples in 4 files; train-1 truncated, train-2 with a flipped byte."""
  examples = make_examples(12)
  write_dataset(str(tmp_path), examples, seqs_per_file=3)
  with open(tfr(tmp_path, 'train-1.tfr'), 'rb') as f:
    data = f.read()
  with open(tfr(tmp_path, 'train-1.tfr'), 'wb') as f:
    f.write(data[:len(data) // 2])
  with open(tfr(tmp_path, 'train-2.tfr'), 'rb') as f:
    data = bytearray(f.read())
  data[len(data) // 2] ^= 0xFF
  with open(tfr(tmp_path, 'train-2.tfr'), 'wb') as f:
    f.write(bytes(data))
  return str(tmp_path), examples


def _remove(data_dir, name):
  os.remove(tfr(data_dir, name))


@pytest.mark.parametrize('bad', ['train-1.tfr', 'train-2.tfr'])
def test_corrupt_file_error_names_the_file(damaged, bad):
  data_dir, _ = damaged
  _remove(data_dir, 'train-2.tfr' if bad == 'train-1.tfr' else 'train-1.tfr')
  with pytest.raises(tf.errors.InvalidArgumentError) as error:
    read_all(data_dir)
  message = str(error.value)
  assert f'TFRecord file {tfr(data_dir, bad)} is corrupt or truncated' \
      in message
  assert 'skip_corrupt=True' in message


def test_corrupt_file_error_inside_a_tf_function_loop(damaged):
  data_dir, _ = damaged
  iterator = iter(basenji.load_dataset(data_dir, 'train', shuffle_buffer=4,
                                       seed=1).batch(2))

  @tf.function
  def total(iterator):
    result = tf.constant(0.0)
    for _ in tf.range(6):
      result += tf.reduce_sum(next(iterator)['target'])
    return result

  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r'train-[12]\.tfr is corrupt or truncated'):
    total(iterator)


def test_skip_corrupt_skips_and_counts(damaged, caplog):
  data_dir, examples = damaged
  report = basenji.ReadReport()
  with caplog.at_level(logging.WARNING):
    got = read_all(data_dir, skip_corrupt=True, report=report)
  assert report.num_skipped == 2
  assert set(report.corrupt_files) == {tfr(data_dir, 'train-1.tfr'),
                                       tfr(data_dir, 'train-2.tfr')}
  assert report.files_read == 4 and report.expected_records == 12
  assert report.records_read == len(got)
  # Files 0 and 3 whole, plus what the damaged files held before the damage.
  kept = sum(report.corrupt_files.values())
  assert len(got) == 6 + kept and kept < 6
  assert_examples_equal(got[:3], examples[:3])
  assert_examples_equal(got[-3:], examples[-3:])
  assert f'skipping TFRecord file {tfr(data_dir, "train-1.tfr")}' \
      in caplog.text


def test_skip_corrupt_under_mirrored_strategy(damaged):
  data_dir, _ = damaged
  strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
  report = basenji.ReadReport()
  dataset = basenji.load_dataset(data_dir, 'train', skip_corrupt=True,
                                 report=report).batch(2)
  steps = 0
  for batch in strategy.experimental_distribute_dataset(dataset):
    strategy.run(lambda x: tf.reduce_sum(x['target']), args=(batch,))
    steps += 1
  assert report.num_skipped == 2 and steps == -(-report.records_read // 2)


def test_empty_and_missing_files(tmp_path):
  write_dataset(str(tmp_path), make_examples(4), seqs_per_file=2)
  open(tfr(tmp_path, 'train-1.tfr'), 'wb').close()  # 0 bytes.
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r'train-1\.tfr is empty \(0 bytes'):
    read_all(str(tmp_path))
  report = basenji.ReadReport()
  assert len(read_all(str(tmp_path), skip_corrupt=True, report=report)) == 2
  assert report.corrupt_files == {tfr(tmp_path, 'train-1.tfr'): 0}
  # A file that disappears after listing fails at once, naming it.
  dataset = basenji.load_dataset(str(tmp_path), 'train', skip_corrupt=True)
  os.remove(tfr(tmp_path, 'train-0.tfr'))
  with pytest.raises(tf.errors.NotFoundError, match=r'train-0\.tfr'):
    list(dataset)


def test_verify_tfrecords_reports_tensorflow_errors(damaged):
  data_dir, _ = damaged
  checks = basenji.verify_tfrecords(data_dir)
  assert checks[tfr(data_dir, 'train-0.tfr')] == (3, None)
  assert checks[tfr(data_dir, 'train-3.tfr')] == (3, None)
  assert checks[tfr(data_dir, 'train-1.tfr')].error.startswith(
      'DataLossError: ')
  assert 'function_node' not in checks[tfr(data_dir, 'train-2.tfr')].error


def test_load_dataset_argument_errors(tmp_path):
  write_dataset(str(tmp_path), make_examples(1))
  with pytest.raises(ValueError, match='shuffle_buffer'):
    basenji.load_dataset(str(tmp_path), 'train', shuffle_buffer=-1)
  with pytest.raises(ValueError, match='num_parallel_reads'):
    basenji.load_dataset(str(tmp_path), 'train', num_parallel_reads=0)
  with pytest.raises(ValueError, match='skip_corrupt=True'):
    basenji.load_dataset(str(tmp_path), 'train', report=basenji.ReadReport())
