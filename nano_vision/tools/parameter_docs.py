"""Render the parameter tables of every node as Markdown (docs/parameters.md).

python -m nano_vision.tools.parameter_docs > docs/parameters.md
"""

from nano_vision.nodes.registry import NODE_PARAMETERS


def _limits(spec):
    if spec.choices:
        return ', '.join(f'`{c}`' for c in spec.choices)
    if spec.min_value is not None:
        return f'{spec.min_value:g} to {spec.max_value:g}'
    return ''


def render():
    """Return the Markdown page for every node's parameters."""
    lines = ['# Node parameters', '',
             "Generated from the nodes' declarations by "
             '`python -m nano_vision.tools.parameter_docs`; a test keeps this page in step '
             'with the code. *Read-only* parameters are read at start; the others can be '
             'changed at run time with `ros2 param set`.', '']
    for node, specs in NODE_PARAMETERS.items():
        lines += [f'## {node}', '', '| parameter | type | default | range | description |',
                  '|---|---|---|---|---|']
        for spec in specs:
            default = f'`{spec.default!r}`' if spec.default != '' else '`""`'
            runtime = '' if spec.read_only else ' *Changeable at run time.*'
            description = spec.description.replace('|', '\\|').replace('<', '&lt;')
            lines.append(f'| `{spec.name}` | {spec.type_name} | {default} | {_limits(spec)} | '
                         f'{description}{runtime} |')
        lines.append('')
    return '\n'.join(lines)


if __name__ == '__main__':
    print(render(), end='')
