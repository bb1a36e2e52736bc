"""Point the ROS wheels' CMake exports at this virtual environment's Python.

The ROS 2 wheels on PyPI were built in a manylinux container, and their
``*__rosidl_generator_pyExport.cmake`` files name that container's Python
include and numpy include directories (``/opt/python/cp311-cp311/...``).
CMake refuses imported targets whose include directories do not exist, so a
message package cannot configure. This rewrites those paths, in the files of
this environment only, to the running interpreter's include directory and to
the numpy installed beside it. Running it again changes nothing.
"""

import glob
import os
import re
import sys
import sysconfig

import numpy

_NUMPY_INCLUDE = re.compile(
    r'/opt/python/cp3\d+-cp3\d+/lib/python3\.\d+/site-packages/numpy/_core/include')
_PYTHON_INCLUDE = re.compile(r'/opt/python/cp3\d+-cp3\d+/include/python3\.\d+')


def fix(prefix):
    """Rewrite the recorded paths under ``prefix``; return the files changed."""
    include = sysconfig.get_paths()['include']
    numpy_include = numpy.get_include()
    if not os.path.isfile(os.path.join(include, 'Python.h')):
        raise SystemExit(f'Python.h not found in {include}: install the Python development '
                         'headers (e.g. apt-get install python3-dev)')
    changed = []
    pattern = os.path.join(prefix, 'share', '*', 'cmake', '*.cmake')
    for path in sorted(glob.glob(pattern)):
        with open(path, encoding='utf-8') as stream:
            text = stream.read()
        new = _NUMPY_INCLUDE.sub(lambda _: numpy_include, text)
        new = _PYTHON_INCLUDE.sub(lambda _: include, new)
        if new == text:
            continue
        text = new
        with open(path, 'w', encoding='utf-8') as stream:
            stream.write(text)
        changed.append(path)
    return changed


if __name__ == '__main__':
    files = fix(sys.prefix)
    print(f'fix_ros_wheel_paths: {len(files)} CMake file(s) now use {sys.prefix}')
