"""Fine-tuning (enformer_tf/train/finetune.py): initialisation from a source,
what trains, frozen BatchNorm statistics, recompute with partial freezing,
discriminative learning rates, export with new heads."""
import importlib.util
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from enformer_tf import Enformer
from enformer_tf.train import finetune

LENGTH, BINS = 1024, 4
SMALL = dict(channels=24, num_transformer_layers=2, num_heads=2, key_size=4,
             conv_tower_divisible_by=4, sequence_length=LENGTH,
             target_length=BINS, dropout_rate=0.0, attention_dropout_rate=0.0,
             positional_dropout_rate=0.0, final_dropout_rate=0.0)


def _fake_checkpoint_module():
  path = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'io',
                      'fake_deepmind_checkpoint.py')
  spec = importlib.util.spec_from_file_location('fake_deepmind_h17', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _source(seed=0, **overrides):
  keras.utils.set_random_seed(seed)
  model = Enformer(heads={'human': 3, 'mouse': 2}, **{**SMALL, **overrides})
  model.build(tf.TensorShape([None, LENGTH, 4]))
  return model


@pytest.fixture(scope='module')
def source():
  """`_source()`, built once for the tests that only read it (each builds
  its fine-tuned model from it; `prepare_finetune` copies, never mutates,
  the source). Tests that change a source's weights build their own."""
  model = _source()
  before = model.get_weights()
  yield model
  for a, b in zip(before, model.get_weights()):  # No test changed it.
    np.testing.assert_array_equal(a, b)


def _batch(seed=0, batch=4, tracks=2):
  rng = np.random.RandomState(seed)
  x = tf.one_hot(rng.randint(0, 4, (batch, LENGTH)), 4)
  y = tf.constant(rng.gamma(1.0, 1.0, (batch, BINS, tracks)), tf.float32)
  return x, y


def _train(model, head, steps=3, optimizer=None, seed=0, tracks=2):
  optimizer = optimizer or keras.optimizers.Adam(1e-2, jit_compile=False)
  variables = model.trainable_variables

  # Eager: for a few steps of a tiny model, faster than tracing one.
  def step(x, y):
    with tf.GradientTape() as tape:
      prediction = model.predict_head(x, head, training=True)
      loss = tf.reduce_mean(prediction - y * tf.math.log(prediction + 1e-6))
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

  for i in range(steps):
    step(*_batch(seed + i, tracks=tracks))
  return optimizer


def _values(variables):
  return {v.name + str(i): v.numpy().copy() for i, v in enumerate(variables)}


def test_new_heads_copy_trunk_and_matching_heads_exactly(source):
  model, report = finetune.prepare_finetune(source, heads={'atac': 5},
                                            train='all')
  assert report.trunk_weights == len(source.trunk.weights)
  for a, b in zip(model.trunk.weights, source.trunk.weights):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  assert sorted(model.heads) == ['atac', 'human', 'mouse']
  assert report.copied_heads == ['human', 'mouse']
  assert report.new_heads == ['atac']
  np.testing.assert_array_equal(model.head_layers['human'].kernel.numpy(),
                                source.head_layers['human'].kernel.numpy())
  # Same trunk, same copied head: the same predictions.
  x, _ = _batch()
  np.testing.assert_allclose(model(x)['human'], source(x)['human'],
                             rtol=1e-6, atol=1e-6)


def test_mismatched_trunk_is_named_and_nothing_copied(source):
  with pytest.raises(ValueError, match=r'trunk weights do not match.*'
                     r'conv1_d/kernel: source \[15, 4, 12\] vs model '
                     r'\[15, 4, 16\]'):
    finetune.prepare_finetune(source, model_kwargs=dict(channels=32,
                                                        conv_tower_divisible_by=4))
  with pytest.raises(ValueError, match="train must be one of"):
    finetune.prepare_finetune(source, train='some')
  with pytest.raises(ValueError, match='last_k must be an integer in 0..2'):
    finetune.prepare_finetune(source, train='last_k_blocks', last_k=3)
  with pytest.raises(ValueError, match="No layer 'stm' in trunk"):
    finetune.prepare_finetune(source, frozen=['trunk/stm'])


def test_deepmind_checkpoint_with_other_head_sizes_keeps_trunk(tmp_path):
  fake = _fake_checkpoint_module()
  params = fake.random_params(channels=24, num_transformer_layers=2,
                              num_heads=2, key_size=4, divisible_by=4,
                              heads={'human': 5, 'mouse': 3})
  prefix = fake.write_checkpoint(params, str(tmp_path / 'ckpt'))
  lengths = dict(sequence_length=LENGTH, target_length=BINS)
  reference = finetune.load_source(prefix, **lengths)
  model, report = finetune.prepare_finetune(
      prefix, heads={'human': 2, 'atac': 4}, keep_source_heads=False,
      model_kwargs=lengths, train='heads')
  def named(weights):  # Order-free: the multiset of (name, value).
    return sorted((w.name, w.numpy().tobytes()) for w in weights)
  assert named(model.trunk.weights) == named(reference.trunk.weights)
  # The checkpoint's stem kernel itself, not only the converter's copy.
  np.testing.assert_array_equal(
      model.trunk.layers[0].layers[0].kernel.numpy(), params['stem']['conv']['w'])
  assert report.mismatched_heads == ['human: source [48, 5] vs model [48, 2]']
  assert report.new_heads == ['atac'] and report.dropped_heads == ['mouse']
  assert sorted(model.heads) == ['atac', 'human']


def _frozen(model):
  trainable = {id(v) for v in model.trainable_variables}
  # The moving averages of BatchNorms that train move (batch_norm='train').
  moving = {id(v) for bn in _bn_layers(model) if bn.trainable
            for v in (bn.moving_mean, bn.moving_variance)}
  return [v for v in model.variables
          if id(v) not in trainable and id(v) not in moving]


def _bn_layers(model):
  return [layer for layer in model.submodules
          if isinstance(layer, keras.layers.BatchNormalization)]


@pytest.mark.parametrize('preset,last_k', [('heads', 0), ('last_k_blocks', 1)])
def test_frozen_variables_bit_identical_after_training(source, preset,
                                                     last_k):
  model, _ = finetune.prepare_finetune(
      source, heads={'atac': 2}, keep_source_heads=False, train=preset,
      last_k=last_k, batch_norm='train')
  frozen = _frozen(model)
  before_frozen, before_trainable = _values(frozen), _values(
      model.trainable_variables)
  _train(model, 'atac')
  assert _values(frozen).keys() == before_frozen.keys()
  for (name, value), after in zip(before_frozen.items(), frozen):
    np.testing.assert_array_equal(after.numpy(), value, err_msg=name)
  moved = [not np.array_equal(v.numpy(), before_trainable[v.name + str(i)])
           for i, v in enumerate(model.trainable_variables)]
  assert all(moved)
  names = {v.name for v in model.trainable_variables}
  if preset == 'heads':
    assert names == {'head_atac/kernel:0', 'head_atac/bias:0'}
  else:  # The last block, the final pointwise block and the head.
    assert any(n.startswith('transformer_block_1/') for n in names)
    assert not any(n.startswith('transformer_block_0/') for n in names)
    assert 'conv_block/cross_replica_batch_norm/gamma:0' in names


@pytest.mark.parametrize('mode', ['train', 'freeze_statistics', 'freeze'])
def test_batch_norm_statistics_frozen_separately_from_weights(source,
                                                            mode):
  model, _ = finetune.prepare_finetune(
      source, train='last_k_blocks', last_k=0, batch_norm=mode)
  # The final pointwise block's BatchNorm is the one in a training part.
  bn = model.trunk.layers[-1].layers[0].batch_norm
  stats = [bn.moving_mean.numpy().copy(), bn.moving_variance.numpy().copy()]
  weights = [bn.gamma.numpy().copy(), bn.beta.numpy().copy()]
  _train(model, 'mouse')
  stats_after = [bn.moving_mean.numpy(), bn.moving_variance.numpy()]
  weights_after = [bn.gamma.numpy(), bn.beta.numpy()]
  stats_same = all(np.array_equal(a, b) for a, b in zip(stats, stats_after))
  weights_same = all(np.array_equal(a, b)
                     for a, b in zip(weights, weights_after))
  assert stats_same == (mode != 'train')
  assert weights_same == (mode == 'freeze')
  if mode != 'train':
    # In training mode the block normalises with the moving averages:
    # its training output equals its inference output.
    block = model.trunk.layers[-1].layers[0]
    features = tf.random.normal([2, BINS, 24])
    np.testing.assert_allclose(block(features, training=True),
                               block(features, training=False), atol=1e-6)


def test_recompute_grad_with_partial_freezing_matches_plain_gradients(source):
  plain, _ = finetune.prepare_finetune(source, train='last_k_blocks',
                                       last_k=1, batch_norm='train')
  recomputing, _ = finetune.prepare_finetune(
      source, train='last_k_blocks', last_k=1, batch_norm='train',
      model_kwargs=dict(recompute_grad=True))
  x, y = _batch(tracks=3)

  def gradients(model):
    with tf.GradientTape() as tape:
      prediction = model.predict_head(x, 'human', training=True)
      loss = tf.reduce_mean(prediction - y * tf.math.log(prediction + 1e-6))
    return tape.gradient(loss, model.trainable_variables)

  expected = gradients(plain)
  got = tf.function(lambda: gradients(recomputing))()  # Graph: as trained.
  assert len(got) == len(expected) == len(plain.trainable_variables)
  for g, e, v in zip(got, expected, plain.trainable_variables):
    assert (g is None) == (e is None) == v.name.startswith('head_mouse')
    if e is None:
      continue
    np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-6, err_msg=v.name)
  frozen = _frozen(recomputing)
  before = _values(frozen)
  _train(recomputing, 'human', steps=2, tracks=3)
  for (name, value), after in zip(before.items(), frozen):
    np.testing.assert_array_equal(after.numpy(), value, err_msg=name)


def test_discriminative_learning_rate_scales_trunk_updates_exactly(source):
  models = [finetune.prepare_finetune(source, train='all')[0]
            for _ in range(2)]
  start = _values(models[0].trainable_variables)
  _train(models[0], 'mouse', steps=1, optimizer=keras.optimizers.Adam(1e-3, jit_compile=False))
  _train(models[1], 'mouse', steps=1, optimizer=finetune.DiscriminativeAdam(
      trunk_learning_rate_multiplier=0.1, learning_rate=1e-3, jit_compile=False))
  checked_trunk = 0
  for i, (a, b) in enumerate(zip(models[0].trainable_variables,
                                 models[1].trainable_variables)):
    initial = start[a.name + str(i)]
    full, scaled = a.numpy() - initial, b.numpy() - initial
    factor = 1.0 if a.name.startswith('head_') else 0.1
    checked_trunk += factor == 0.1
    np.testing.assert_allclose(scaled, factor * full, rtol=1e-3, atol=3e-7,
                               err_msg=f'{a.name} {np.abs(full).max()} {np.abs(scaled).max()}')
  assert checked_trunk > 50


def _lora_finetuned(x=None):
  """A LoRA fine-tuned model whose adapters act (random B); with `x`, also
  its output on `x` before they did."""
  from enformer_tf.layers import lora
  source = _source()
  for block in lora.transformer_blocks(source):  # As a trained model has.
    kernel = block.mha.embedding_layer.kernel
    kernel.assign(np.random.RandomState(2).randn(*kernel.shape) * 0.2)
  model, _ = finetune.prepare_finetune(
      source, heads={'atac': 2}, keep_source_heads=False, train='heads',
      lora=dict(rank=2, alpha=4.0))
  before = None if x is None else model(x)['atac'].numpy()
  rng = np.random.RandomState(1)
  for adapter in lora.lora_layers(model):
    adapter.lora_b.assign(rng.randn(*adapter.lora_b.shape) * 0.3)
  return model, before


@pytest.mark.slow
def test_lora_model_exports_and_saves_merged_with_its_new_heads(tmp_path):
  """Export and `.keras` of a LoRA fine-tuned model: the merged plain
  Enformer, signatures named after the new head, the unmerged outputs."""
  from enformer_tf import load_model
  from enformer_tf.export import export_saved_model
  from enformer_tf.export.signatures import signature_names
  from enformer_tf.layers import lora
  x, _ = _batch(batch=1)
  model, before = _lora_finetuned(x)
  unmerged = model(x)['atac'].numpy()
  assert np.abs(before - unmerged).max() > 1e-3  # The adapters act.
  path = export_saved_model(model, str(tmp_path / 'export'),
                            warmup_requests=False)
  loaded = tf.saved_model.load(path)
  assert sorted(loaded.signatures) == sorted(signature_names(['atac']))
  (value,) = loaded.signatures['atac'](tf.cast(x, tf.float32)).values()
  np.testing.assert_allclose(value, unmerged, rtol=1e-5, atol=1e-5)
  assert 'human' not in loaded.signatures
  # Merged: the SavedModel holds the plain model's variables, not A and B.
  saved = [name for name, _ in tf.train.list_variables(
      os.path.join(path, 'variables', 'variables'))
           if name.startswith('enformer_variables/')]
  assert len(saved) == len(model.variables) - 2 * 12
  assert len(lora.lora_layers(model)) == 12  # The model is left adapted.
  model.save(str(tmp_path / 'atac.keras'))
  reloaded = load_model(str(tmp_path / 'atac.keras'))
  assert not lora.lora_layers(reloaded) and reloaded.heads == {'atac': 2}
  np.testing.assert_allclose(reloaded(x)['atac'], unmerged, rtol=1e-5,
                             atol=1e-5)
  with pytest.raises(ValueError, match='hold the merged weights of LoRA'):
    model.load_weights(str(tmp_path / 'atac.keras'))


def test_enformer_train_gin_finetunes_from_a_keras_file(source, tmp_path):
  import gin
  from enformer_tf.layers import lora
  from enformer_tf.train import config
  path = str(tmp_path / 'source.keras')
  source.save(path)
  params = [
      f"SOURCE = '{path}'", "HEADS = {'atac': 2}",
      'enformer_tf.train.Trainer.train_data = '
      '@enformer_tf.train.random_datasets',
      'enformer_tf.train.random_datasets.heads = %HEADS',
      f'enformer_tf.train.random_datasets.sequence_length = {LENGTH}',
      f'enformer_tf.train.random_datasets.target_length = {BINS}',
      'enformer_tf.train.Trainer.eval_data = None',
      'enformer_tf.train.Trainer.batch_size = 2',
      'enformer_tf.train.Trainer.progress = False',
      'enformer_tf.train.Trainer.max_shift = 0',
      'train.num_steps = 2']
  try:
    trainer = config.train_from_gin(['experiments/finetune_lora.gin'],
                                    params, model_dir=str(tmp_path / 'run'))
  finally:
    gin.clear_config()
  model = trainer.model
  assert list(model.heads) == ['atac'] and int(trainer.step.numpy()) == 2
  assert len(lora.lora_layers(model)) == 2 * 6
  names = {v.name for v in model.trainable_variables}
  assert all('lora_' in n or n.startswith('head_atac') for n in names)
  # The frozen base weights are still the source's.
  q_kernel = lora.transformer_blocks(model)[0].mha.q_layer.layer.kernel
  np.testing.assert_array_equal(
      q_kernel.numpy(), lora.transformer_blocks(source)[0].mha.q_layer.kernel)
  _reopen_and_predict(str(tmp_path / 'run'), model, tmp_path)


def _reopen_and_predict(run_dir, model, tmp_path):
  """The run's directory reopens (its gin config binds finetune_model, not
  Enformer: model_config.json has the model) as the trained model, merged,
  and a genomics command runs on it with the new head."""
  from enformer_tf import load_model
  from enformer_tf.cli import predict as predict_cli
  from enformer_tf.layers import lora
  # The adapters have moved off zero, so the comparison sees them.
  assert any(np.abs(a.lora_b.numpy()).max() > 0
             for a in lora.lora_layers(model))
  reopened = load_model(run_dir)
  assert reopened.heads == {'atac': 2} and not lora.lora_layers(reopened)
  x, _ = _batch()
  np.testing.assert_allclose(reopened(x)['atac'], model(x)['atac'],
                             rtol=1e-5, atol=1e-5)
  rng = np.random.RandomState(0)
  fasta = tmp_path / 'genome.fa'
  fasta.write_text('>chr1\n' + ''.join(rng.choice(list('ACGT'), 2000)) +
                   '\n')
  out = tmp_path / 'predicted'
  assert predict_cli.main(['--model', run_dir, '--fasta', str(fasta),
                           '--head', 'atac', '--region', 'chr1:700-1300',
                           '--out_dir', str(out), '--format', 'none']) == 0
  assert (out / 'predictions.tsv').exists()
