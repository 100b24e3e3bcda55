"""Checkpoints in the layout of DeepMind's Sonnet Enformer, without Sonnet.

The real model (deepmind-research `enformer/enformer.py`) is a tree of Sonnet
modules; `tf.train.Checkpoint(module=model)` keys its variables by attribute
path (`module/_trunk/_layers/0/_layers/0/w/.ATTRIBUTES/VARIABLE_VALUE`), and
its variables carry scoped names (`enformer/trunk/stem/conv1_d/w:0`). Here
plain `tf.Module`s with the same attribute names reproduce that tree: lists
become `_layers/<i>`, dicts `_heads/<organism>`. `reference_layout.txt`
beside this file holds the keys and names observed from the real code, and a
test checks that this builder matches them.

Weights are described by a plain nested dict (`random_params`), which the
tests also assign to an `Enformer` by hand to compare with the converter.
"""
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf

EMA_DECAY = 0.9
FIELDS = ('scale', 'offset', 'mean', 'variance', 'w', 'b')


def _tower_filters(channels, divisible_by):
  # C/2 .. C in six exponential steps, rounded; written out independently of
  # enformer_tf so the fake does not inherit a bug from the code under test.
  start, ratio = channels // 2, 2.0**(1 / 5)
  return [int(np.round(start * ratio**i / divisible_by) * divisible_by)
          for i in range(6)]


def random_params(channels: int = 48, num_transformer_layers: int = 2,
                  num_heads: int = 2, key_size: int = 8,
                  heads: Optional[Mapping[str, int]] = None,
                  pooling_type: str = 'attention', divisible_by: int = 8,
                  num_relative_position_features: Optional[int] = None,
                  seed: int = 0) -> Dict:
  """Random weights of a reference Enformer, keyed by what they are.

  Every value is random, BatchNorm EMAs included: each has a `counter` and a
  `hidden` state whose debiased `average` (`hidden / (1 - 0.9**counter)`) is
  what inference uses.
  """
  rng = np.random.RandomState(seed)
  heads = dict(heads or {'human': 5, 'mouse': 3})
  rel_features = num_relative_position_features or channels // num_heads

  def normal(*shape, scale=None):
    scale = scale or 1 / np.sqrt(np.prod(shape[:-1]) if len(shape) > 1 else 1)
    return (rng.randn(*shape) * scale).astype('float32')

  def conv_block(c_in, c_out, width):
    counter = rng.randint(2, 20)
    debias = 1 - EMA_DECAY**counter
    mean = normal(1, 1, c_in, scale=0.3)
    variance = rng.uniform(0.5, 1.5, (1, 1, c_in)).astype('float32')
    return dict(scale=1 + normal(c_in, scale=0.2), offset=normal(c_in,
                                                                  scale=0.1),
                mean=mean, mean_hidden=mean * debias,
                variance=variance, variance_hidden=variance * debias,
                counter=np.int64(counter), w=normal(width, c_in, c_out),
                b=normal(c_out, scale=0.1))

  def pool(c):
    if pooling_type != 'attention':
      return None
    return (2 * np.eye(c) + normal(c, c, scale=0.3)).astype('float32')

  def layer_norm(c):
    return dict(scale=1 + normal(c, scale=0.2), offset=normal(c, scale=0.1))

  half = channels // 2
  params = dict(
      stem=dict(conv=dict(w=normal(15, 4, half), b=normal(half, scale=0.1)),
                pointwise=conv_block(half, half, 1), pool=pool(half)),
      tower=[], transformer=[],
      final=conv_block(channels, 2 * channels, 1),
      heads={organism: dict(w=normal(2 * channels, tracks),
                            b=normal(tracks, scale=0.1))
             for organism, tracks in heads.items()})
  c_in = half
  for filters in _tower_filters(channels, divisible_by):
    params['tower'].append(dict(conv_block=conv_block(c_in, filters, 5),
                                pointwise=conv_block(filters, filters, 1),
                                pool=pool(filters)))
    c_in = filters
  value_size = channels // num_heads
  for _ in range(num_transformer_layers):
    params['transformer'].append(dict(
        mha_layer_norm=layer_norm(channels),
        q=normal(channels, num_heads * key_size),
        k=normal(channels, num_heads * key_size),
        v=normal(channels, num_heads * value_size),
        r_k=normal(rel_features, num_heads * key_size),
        embedding=dict(w=normal(num_heads * value_size, channels),
                       b=normal(channels, scale=0.1)),
        r_w_bias=normal(1, num_heads, 1, key_size, scale=0.5),
        r_r_bias=normal(1, num_heads, 1, key_size, scale=0.5),
        mlp_layer_norm=layer_norm(channels),
        linear1=dict(w=normal(channels, 2 * channels),
                     b=normal(2 * channels, scale=0.1)),
        linear2=dict(w=normal(2 * channels, channels),
                     b=normal(channels, scale=0.1))))
  return params


class _Builder:
  """Creates the module tree and the named variables, in creation order."""

  def __init__(self, root_name: str = 'enformer'):
    self.root_name = root_name
    self.variables: List[tf.Variable] = []

  def node(self, **attributes) -> tf.Module:
    module = tf.Module()
    for name, value in attributes.items():
      if value is not None:
        setattr(module, name, value)
    return module

  def var(self, value, scope: str) -> Optional[tf.Variable]:
    if value is None:  # Left out on purpose by a test.
      return None
    variable = tf.Variable(value, name=f'{self.root_name}/{scope}')
    self.variables.append(variable)
    return variable

  def linear(self, p, scope):
    return self.node(w=self.var(p.get('w'), f'{scope}/w'),
                     b=self.var(p.get('b'), f'{scope}/b'))

  def ema(self, average, hidden, counter, scope):
    # Sonnet's ExponentialMovingAverage: counter, hidden, average.
    return self.node(_counter=self.var(counter, f'{scope}/counter'),
                     _hidden=self.var(hidden, f'{scope}/hidden'),
                     average=self.var(average, f'{scope}/average'))

  def conv_block(self, p, scope):
    """Sequential([CrossReplicaBatchNorm, gelu, Conv1D])."""
    bn_scope = f'{scope}/cross_replica_batch_norm'
    ema_scope = f'{scope}/exponential_moving_average'
    batch_norm = self.node(
        scale=self.var(p.get('scale'), f'{bn_scope}/scale'),
        offset=self.var(p.get('offset'), f'{bn_scope}/offset'),
        # The mean is created before the variance, under the same name.
        moving_mean=self.ema(p.get('mean'), p.get('mean_hidden'),
                             p.get('counter'), ema_scope),
        moving_variance=self.ema(p.get('variance'), p.get('variance_hidden'),
                                 p.get('counter'), ema_scope))
    conv = self.linear(p, f'{scope}/conv1_d')
    return self.node(_layers=[batch_norm, self.node(), conv])

  def pooling(self, w, scope):
    if w is None:  # Max pooling: a Keras layer without variables.
      return self.node()
    return self.node(_logit_linear=self.node(
        w=self.var(w, f'{scope}/softmax_pooling/linear/w')))

  def transformer_block(self, p, i):
    scope = f'trunk/transformer/transformer_block_{i}'
    att = f'{scope}/mha/attention_{i}'
    layer_norm = lambda ln, s: self.node(
        scale=self.var(ln.get('scale'), f'{s}/layer_norm/scale'),
        offset=self.var(ln.get('offset'), f'{s}/layer_norm/offset'))
    mha_ln = layer_norm(p['mha_layer_norm'], f'{scope}/mha')
    attention = self.node(
        _q_layer=self.node(w=self.var(p.get('q'), f'{att}/q_layer/w')),
        _k_layer=self.node(w=self.var(p.get('k'), f'{att}/k_layer/w')),
        _v_layer=self.node(w=self.var(p.get('v'), f'{att}/v_layer/w')),
        _embedding_layer=self.linear(p['embedding'], f'{att}/embedding_layer'),
        _r_k_layer=self.node(w=self.var(p.get('r_k'), f'{att}/r_k_layer/w')),
        _r_w_bias=self.var(p.get('r_w_bias'), f'{att}/r_w_bias'),
        _r_r_bias=self.var(p.get('r_r_bias'), f'{att}/r_r_bias'))
    mha = self.node(_module=self.node(
        _layers=[mha_ln, attention, self.node()]))  # LN, MHA, dropout
    mlp_ln = layer_norm(p['mlp_layer_norm'], f'{scope}/mlp')
    # Both MLP linears are `mlp/linear`: Sonnet names them alike.
    linear1 = self.linear(p['linear1'], f'{scope}/mlp/linear')
    linear2 = self.linear(p['linear2'], f'{scope}/mlp/linear')
    mlp = self.node(_module=self.node(_layers=[
        mlp_ln, linear1, self.node(), self.node(), linear2, self.node()]))
    return self.node(_layers=[mha, mlp])

  def enformer(self, params) -> tf.Module:
    stem_p = params['stem']
    stem = self.node(_layers=[
        self.linear(stem_p['conv'], 'trunk/stem/conv1_d'),
        self.node(_module=self.conv_block(
            stem_p['pointwise'], 'trunk/stem/pointwise_conv_block')),
        self.pooling(stem_p['pool'], 'trunk/stem')])
    tower_blocks = []
    for i, p in enumerate(params['tower']):
      scope = f'trunk/conv_tower/conv_tower_block_{i}'
      tower_blocks.append(self.node(_layers=[
          self.conv_block(p['conv_block'], f'{scope}/conv_block'),
          self.node(_module=self.conv_block(p['pointwise'],
                                            f'{scope}/pointwise_conv_block')),
          self.pooling(p['pool'], scope)]))
    transformer = [self.transformer_block(p, i)
                   for i, p in enumerate(params['transformer'])]
    final = self.node(_layers=[
        self.conv_block(params['final'], 'trunk/final_pointwise/conv_block'),
        self.node(), self.node()])  # dropout, gelu
    trunk = self.node(_layers=[
        stem, self.node(_layers=tower_blocks), self.node(_layers=transformer),
        self.node(), final])  # the crop has no variables
    heads = {organism: self.node(_layers=[
        self.linear(p, f'heads/head_{organism}/linear'), self.node()])
             for organism, p in params['heads'].items()}
    return self.node(_trunk=trunk, _heads=heads)


def build_module(params: Dict, root_name: str = 'enformer'):
  """(root module, its variables in creation order) for `params`."""
  builder = _Builder(root_name)
  module = builder.enformer(params)
  return module, builder.variables


def write_checkpoint(params: Dict, prefix: str) -> str:
  """Writes `tf.train.Checkpoint(module=<fake Enformer>)`; returns the path."""
  module, _ = build_module(params)
  return tf.train.Checkpoint(module=module).write(prefix)


def read_layout(path: str) -> Dict[str, List]:
  """Reads `reference_layout.txt`: `{'key': [(name, shape)], 'var': [...]}`."""
  layout = {'key': [], 'var': []}
  with open(path) as f:
    for line in f:
      if line.startswith('#') or not line.strip():
        continue
      kind, name, shape = line.split()
      shape = () if shape == '-' else tuple(int(s) for s in shape.split(','))
      layout[kind].append((name, shape))
  return layout


def remove(params: Dict, path: Sequence) -> Dict:
  """`params` with the entry at `path` set to None (not written)."""
  node = params
  for step in path[:-1]:
    node = node[step]
  node[path[-1]] = None
  return params
