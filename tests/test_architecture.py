"""The layout is the architecture (docs/architecture.md): dependencies run
one way, no import cycle (function-level imports included), no module over
600 lines."""
import ast
import os

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'enformer_tf')
# Rank of each top-level part: a module may import its own part and parts
# of a lower rank only (plus the exceptions below).
RANKS = {'constants': 0, 'atomic': 0, 'errors': 0, 'positional': 1,
         'layers': 2, 'chunked_inference': 3, 'model': 4, 'data': 5,
         'train': 5, 'export': 5, 'io': 5, 'genomics': 6, 'pipeline': 7,
         'cli': 8}
ALLOWED_SIDEWAYS = {('train', 'data'),  # Training reads the records,
                    ('train', 'io')}  # and fine-tuning saved weights.
MAX_LINES = 600


def _module_name(path: str) -> str:
  relative = os.path.relpath(path, os.path.dirname(PACKAGE))[:-3]
  name = relative.replace(os.sep, '.')
  return name[:-len('.__init__')] if name.endswith('.__init__') else name


def _modules():
  found = {}
  for directory, _, files in os.walk(PACKAGE):
    for name in files:
      if name.endswith('.py'):
        path = os.path.join(directory, name)
        found[_module_name(path)] = path
  return found


MODULES = _modules()


def _imports(name: str, path: str):
  """Package modules `name` imports anywhere in its file."""
  package = name if path.endswith('__init__.py') else name.rsplit('.', 1)[0]
  targets = set()
  for node in ast.walk(ast.parse(open(path, encoding='utf-8').read())):
    if isinstance(node, ast.ImportFrom):
      if node.level:
        base = package.split('.')[:len(package.split('.')) - node.level + 1]
        source = '.'.join(base + ([node.module] if node.module else []))
      else:
        source = node.module or ''
      if not source.startswith('enformer_tf'):
        continue
      for alias in node.names:
        target = f'{source}.{alias.name}'
        targets.add(target if target in MODULES else source)
    elif isinstance(node, ast.Import):
      targets.update(a.name for a in node.names
                     if a.name.startswith('enformer_tf'))
  return {t for t in targets if t in MODULES and t != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _part(name: str) -> str:
  parts = name.split('.')
  return parts[1] if len(parts) > 1 else ''


def test_every_part_has_a_rank():
  parts = {_part(name) for name in MODULES} - {'', 'gin'}
  assert parts <= set(RANKS), parts - set(RANKS)


def test_dependencies_run_one_way():
  wrong = []
  for name, targets in GRAPH.items():
    source = _part(name)
    if not source:  # enformer_tf/__init__.py: the public facade.
      continue
    for target in targets:
      other = _part(target)
      if not other:
        wrong.append(f'{name} imports the top-level facade')
      elif other != source and RANKS[other] >= RANKS[source] and (
          source, other) not in ALLOWED_SIDEWAYS:
        wrong.append(f'{name} -> {target}')
  assert not wrong, wrong


def test_no_import_cycle():
  state, cycles = {}, []

  def visit(node, stack):
    state[node] = 'open'
    for target in GRAPH[node]:
      if state.get(target) == 'open':
        cycles.append(stack[stack.index(target):] + [target])
      elif target not in state:
        visit(target, stack + [target])
    state[node] = 'done'

  for name in sorted(GRAPH):
    if name not in state:
      visit(name, [name])
  assert not cycles, cycles


def test_the_checks_see_a_cycle_and_a_wrong_direction():
  """The checks above on a graph where they must fail."""
  global GRAPH
  saved = GRAPH
  try:
    GRAPH = dict(saved, **{'enformer_tf.model': saved['enformer_tf.model'] |
                           {'enformer_tf.io.load'}})
    with pytest.raises(AssertionError, match='enformer_tf.model'):
      test_dependencies_run_one_way()
    with pytest.raises(AssertionError):
      test_no_import_cycle()
  finally:
    GRAPH = saved


@pytest.mark.parametrize('name', sorted(MODULES))
def test_module_size(name):
  with open(MODULES[name], encoding='utf-8') as f:
    lines = sum(1 for _ in f)
  assert lines <= MAX_LINES, f'{MODULES[name]} has {lines} lines'
