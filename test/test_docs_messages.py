"""docs/messages.md describes every message and service of nano_vision_msgs, field by field."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
INTERFACES = sorted([*(ROOT / 'nano_vision_msgs' / 'msg').glob('*.msg'),
                     *(ROOT / 'nano_vision_msgs' / 'srv').glob('*.srv')])


def field_names(path):
    """Return the field (and constant) names of a .msg or .srv file."""
    names = []
    for line in path.read_text(encoding='utf-8').splitlines():
        line = line.split('#', 1)[0].strip()
        if not line or line == '---':
            continue
        names.append(re.split(r'[\s=]+', line)[1])
    return names


def sections():
    """Return ``{heading: text}`` of the second-level sections of docs/messages.md."""
    text = (ROOT / 'docs' / 'messages.md').read_text(encoding='utf-8')
    parts = re.split(r'^## +(.+)$', text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def test_there_are_interfaces_to_document():
    assert {p.name for p in INTERFACES} >= {'Classification.msg', 'Keypoints.msg',
                                            'Capture.srv'}


@pytest.mark.parametrize('path', INTERFACES, ids=lambda p: p.name)
def test_every_interface_has_a_section_naming_each_of_its_fields(path):
    section = sections().get(path.name)
    assert section is not None, f'docs/messages.md has no "## {path.name}" section'
    names = field_names(path)
    assert names
    missing = [name for name in names if f'`{name}`' not in section]
    assert not missing, f'docs/messages.md, {path.name}: fields not described: {missing}'


def test_field_names_are_read_from_the_files():
    path = ROOT / 'nano_vision_msgs' / 'srv' / 'Capture.srv'
    assert field_names(path)[:2] == ['label', 'has_point']
    assert 'message' in field_names(path)
