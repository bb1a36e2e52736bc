"""Code style the ROS way: flake8 with ament's configuration, and well-formed package.xml."""

import pathlib
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Explicit paths: never build/, install/, log/ or the virtual environment.
PYTHON_PATHS = ['nano_vision', 'test', 'launch', 'bench', 'scripts', 'setup.py']


def test_flake8():
    pytest.importorskip('flake8')
    paths = [p for p in PYTHON_PATHS if (ROOT / p).exists()]
    result = subprocess.run([sys.executable, '-m', 'flake8', *paths], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize('path', ['package.xml', 'nano_vision_msgs/package.xml'])
def test_package_xml_is_format_3_and_complete(path):
    root = ElementTree.parse(ROOT / path).getroot()
    assert root.tag == 'package' and root.get('format') == '3'
    for tag in ('name', 'version', 'description', 'maintainer', 'license'):
        assert (root.findtext(tag) or '').strip(), f'{path}: <{tag}> is empty'
    assert root.find('export/build_type') is not None


def test_python_package_depends_on_its_messages():
    root = ElementTree.parse(ROOT / 'package.xml').getroot()
    depends = {e.text for e in root if e.tag.endswith('depend')}
    assert {'nano_vision_msgs', 'rclpy', 'sensor_msgs'} <= depends
