"""Localhost-only discovery keeps every DDS socket of a node on the loopback interface (ss)."""

import os
import pathlib
import shutil
import signal
import subprocess

import pytest

from helpers import LOOPBACK, process_sockets
from nano_vision.runtime.dds import (localhost_only, LOCALHOST_PROFILE, loopback_discovery,
                                     NETWORK_PROFILE, on_loopback, profile_environment,
                                     profile_file, PROFILE_VARIABLES)

ROOT = pathlib.Path(__file__).resolve().parents[1]
# the workspace activate.sh chose (install/, or install-jazzy/ for Jazzy)
BIN = (pathlib.Path(os.environ.get('NANO_VISION_INSTALL', ROOT / 'install')) /
       'nano_vision' / 'lib' / 'nano_vision')


@pytest.mark.parametrize('environ, localhost', [
    ({'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST'}, True),
    ({'ROS_AUTOMATIC_DISCOVERY_RANGE': 'localhost', 'ROS_LOCALHOST_ONLY': '0'}, True),
    ({'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET', 'ROS_LOCALHOST_ONLY': '1'}, False),
    ({'ROS_AUTOMATIC_DISCOVERY_RANGE': 'OFF'}, False),
    ({'ROS_LOCALHOST_ONLY': '1'}, True),  # Humble
    ({}, False),
    # peers named by address may be other machines: UDP must reach them
    ({'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST', 'ROS_STATIC_PEERS': '192.168.0.7'}, False),
])
def test_the_profile_follows_the_discovery_range(environ, localhost):
    assert localhost_only(environ) is localhost
    assert profile_file(environ) == (LOCALHOST_PROFILE if localhost else NETWORK_PROFILE)
    assert (ROOT / 'config' / profile_file(environ)).is_file()


LOCALHOST = {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST', 'ROS_LOCALHOST_ONLY': '1'}
PROFILE = str(ROOT / 'config' / LOCALHOST_PROFILE)
HANDOVER = {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET', 'ROS_LOCALHOST_ONLY': None}


@pytest.mark.parametrize('environ, changes', [
    (dict(LOCALHOST, ROS_DISTRO='kilted', FASTDDS_DEFAULT_PROFILES_FILE=PROFILE), HANDOVER),
    (dict(LOCALHOST, ROS_DISTRO='jazzy', FASTRTPS_DEFAULT_PROFILES_FILE=PROFILE,
          RMW_IMPLEMENTATION='rmw_fastrtps_cpp'), HANDOVER),
    # Jazzy's Fast DDS reads the other variable: this profile is not the one in effect
    (dict(LOCALHOST, ROS_DISTRO='jazzy', FASTDDS_DEFAULT_PROFILES_FILE=PROFILE), {}),
    # not the localhost profile, or not there: rmw's own localhost mode
    (dict(LOCALHOST, FASTDDS_DEFAULT_PROFILES_FILE=str(ROOT / 'config' / NETWORK_PROFILE)),
     {}),
    (dict(LOCALHOST, FASTDDS_DEFAULT_PROFILES_FILE='/gone/' + LOCALHOST_PROFILE), {}),
    (dict(LOCALHOST), {}),
    # discovery on the network, another rmw, Humble (its localhost mode stays on loopback)
    ({'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET', 'FASTDDS_DEFAULT_PROFILES_FILE': PROFILE}, {}),
    (dict(LOCALHOST, RMW_IMPLEMENTATION='rmw_cyclonedds_cpp',
          FASTDDS_DEFAULT_PROFILES_FILE=PROFILE), {}),
    ({'ROS_LOCALHOST_ONLY': '1', 'ROS_DISTRO': 'humble',
      'FASTRTPS_DEFAULT_PROFILES_FILE': PROFILE}, {}),
])
def test_the_localhost_profile_takes_over_discovery_only_when_in_effect(environ, changes):
    assert loopback_discovery(environ) == changes


def test_on_loopback_changes_the_environment_for_rclpy_init_only(monkeypatch):
    for name, value in dict(LOCALHOST, ROS_DISTRO='kilted',
                            FASTDDS_DEFAULT_PROFILES_FILE=PROFILE).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv('RMW_IMPLEMENTATION', raising=False)
    with on_loopback() as applied:
        assert applied
        assert os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'SUBNET'
        assert 'ROS_LOCALHOST_ONLY' not in os.environ
    assert {name: os.environ[name] for name in LOCALHOST} == LOCALHOST


def test_each_fast_dds_version_is_given_the_chosen_profile():
    fast_dds_3, both = {'FASTDDS_DEFAULT_PROFILES_FILE'}, set(PROFILE_VARIABLES)
    assert profile_environment('/d.xml', {'ROS_DISTRO': 'kilted'}) == \
        dict.fromkeys(fast_dds_3, '/d.xml')
    assert profile_environment('/d.xml', {}) == dict.fromkeys(fast_dds_3, '/d.xml')
    # a Jazzy user's own file, named the Fast DDS 2 way
    chosen = {'ROS_DISTRO': 'jazzy', 'FASTRTPS_DEFAULT_PROFILES_FILE': '/mine.xml'}
    assert profile_environment('/d.xml', chosen) == dict.fromkeys(both, '/mine.xml')


def start_nodes(profile, namespace, model=None):
    """Start the camera (and the regressor, when ``model`` is given) with ``profile``."""
    env = dict(os.environ, **profile_environment(ROOT / 'config' / profile, {
        'ROS_DISTRO': os.environ.get('ROS_DISTRO', '')}))
    commands = [[str(BIN / 'camera'), '--ros-args', '-r', f'__ns:={namespace}',
                 '-p', 'source:=synthetic:face', '-p', 'width:=160', '-p', 'height:=120']]
    if model:
        commands.append([str(BIN / 'regressor'), '--ros-args', '-r', f'__ns:={namespace}',
                         '-r', 'image:=image_raw', '-p', f'model:={model}'])
    return [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL) for command in commands]


def stop(processes):
    for process in processes:
        process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_points(ros):
    from geometry_msgs.msg import PointStamped
    points = []
    ros.probe().create_subscription(PointStamped, 'point', points.append, 10)
    assert ros.spin_until(lambda: len(points) >= 3, timeout_sec=40.0), \
        'the regressor published no points'


@pytest.mark.slow
@pytest.mark.skipif(shutil.which('ss') is None, reason='ss (iproute2) is not installed')
@pytest.mark.skipif(not BIN.exists(), reason='workspace not built')
def test_with_localhost_discovery_no_node_listens_beyond_loopback(ros, small_models):
    assert localhost_only()  # conftest and activate.sh keep discovery on this machine
    nodes = start_nodes(profile_file(), ros.namespace, small_models['face_xy'])
    try:
        wait_for_points(ros)  # camera -> regressor -> this process: DDS is up and talking
        found = process_sockets([node.pid for node in nodes])
    finally:
        stop(nodes)
    # discovery and data listeners, and the sockets Fast DDS sends from
    for pid, sockets in found.items():
        assert len(sockets) >= 3, f'ss shows too few sockets of node {pid}: {sockets}'
        assert {address for address, _ in sockets} <= LOOPBACK, found


@pytest.mark.skipif(shutil.which('ss') is None, reason='ss (iproute2) is not installed')
@pytest.mark.skipif(not BIN.exists(), reason='workspace not built')
def test_the_network_profile_listens_on_every_interface(ros):
    # what the localhost profile prevents: without its allowlist Fast DDS binds 0.0.0.0
    [camera] = start_nodes(NETWORK_PROFILE, ros.namespace)
    try:
        from sensor_msgs.msg import Image
        from rclpy.qos import qos_profile_sensor_data
        frames = []
        ros.probe().create_subscription(Image, 'image_raw', frames.append,
                                        qos_profile_sensor_data)
        assert ros.spin_until(lambda: frames, timeout_sec=30.0)
        sockets = process_sockets([camera.pid])[camera.pid]
    finally:
        stop([camera])
    assert {address for address, _ in sockets} - LOOPBACK, sockets
