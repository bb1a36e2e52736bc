"""Camera node -> subscriber in another process: delivered fps and transport latency.

Starts the installed ``camera`` executable on a synthetic scene in a child
process and subscribes from this process, so every frame crosses DDS between
two processes as on a robot. Reports, per requested rate, the delivered frame
rate and the latency from the capture stamp to the subscriber callback
(median and 99th percentile), and merges the numbers into bench/results.json.

Run after ``. ./activate.sh``:  python bench/camera_fps.py [--seconds 10]
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time
import uuid

os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ['ROS_LOCALHOST_ONLY'] = '1'

import rclpy  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from nano_vision.nodes.messages import stamp_ns  # noqa: E402

from machine import machine, RESULTS, store_results  # noqa: E402, I100
# Consumers subscribe best effort, newest frame only (nano_vision's nodes do).
QOS = qos_profile_sensor_data

ROOT = pathlib.Path(__file__).resolve().parents[1]
CAMERA = ROOT / 'install' / 'nano_vision' / 'lib' / 'nano_vision' / 'camera'


def measure(fps, width, height, encoding, seconds, warmup=2.0):
    """Run the camera at ``fps`` and return what one subscriber receives."""
    namespace = f'/bench_{uuid.uuid4().hex[:8]}'
    child = subprocess.Popen(
        [str(CAMERA), '--ros-args', '-r', f'__ns:={namespace}',
         '-p', 'source:=synthetic:face', '-p', f'width:={width}', '-p', f'height:={height}',
         '-p', f'fps:={float(fps)}', '-p', f'encoding:={encoding}', '--log-level', 'warn'])
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('bench_subscriber', namespace=namespace, context=context)
    arrivals = []

    def on_image(msg):
        now = time.time_ns()
        arrivals.append((time.monotonic(), (now - stamp_ns(msg.header)) / 1e6,
                         msg.width * msg.height))

    node.create_subscription(Image, 'image_raw', on_image, QOS)
    executor = rclpy.executors.SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        start = time.monotonic()
        while not arrivals and time.monotonic() - start < 30:
            executor.spin_once(timeout_sec=0.1)
        if not arrivals:
            raise SystemExit('no frame arrived in 30 s: is the workspace built?')
        begin = time.monotonic() + warmup
        end = begin + seconds
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.1)
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
        child.terminate()
        child.wait(timeout=10)
    window = [a for a in arrivals if begin <= a[0] < end]
    assert all(a[2] == width * height for a in window)
    latencies = [a[1] for a in window]
    return {
        'requested_fps': fps, 'width': width, 'height': height, 'encoding': encoding,
        'frames': len(window), 'fps': round(len(window) / seconds, 2),
        'latency_ms_p50': round(statistics.median(latencies), 2),
        'latency_ms_p99': round(statistics.quantiles(latencies, n=100)[98], 2),
    }


def run_configuration(profile, args):
    """Measure every rate in a child process with ``profile`` as the Fast DDS profile."""
    env = dict(os.environ)
    env.pop('FASTDDS_DEFAULT_PROFILES_FILE', None)
    if profile:
        env['FASTDDS_DEFAULT_PROFILES_FILE'] = str(profile)
    command = [sys.executable, __file__, '--child', '--seconds', str(args.seconds),
               '--rates', *map(str, args.rates)]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    """Measure with and without the shipped Fast DDS profile; merge into bench/results.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=10.0)
    parser.add_argument('--rates', type=float, nargs='+', default=[30.0, 120.0],
                        help='requested camera rates; a high one shows the ceiling')
    parser.add_argument('--quick', action='store_true',
                        help='a smoke run: 2 s at 30 fps, results.json left alone')
    parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick and not args.child:
        args.seconds, args.rates = 2.0, [30.0]
    if not CAMERA.exists():
        sys.exit(f'{CAMERA} is missing: run make setup first')
    if args.child:
        rows = [measure(rate, 640, 480, 'rgb8', args.seconds) for rate in args.rates]
        print(json.dumps(rows))
        return
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, "
          f"{info['rmw']}")
    profile = ROOT / 'config' / 'fastdds.xml'
    rows = []
    for name, path in (('defaults', None), ('config/fastdds.xml', profile)):
        for row in run_configuration(path, args):
            rows.append({'fastdds': name, **row})
    print(f"{'Fast DDS':<20} {'requested':>9} {'size':>9} {'delivered fps':>13} "
          f"{'p50 ms':>7} {'p99 ms':>7}")
    for r in rows:
        print(f"{r['fastdds']:<20} {r['requested_fps']:>9g} {r['width']}x{r['height']:<5} "
              f"{r['fps']:>13.1f} {r['latency_ms_p50']:>7.1f} {r['latency_ms_p99']:>7.1f}")
    if args.quick:
        return
    store_results('camera_fps', {'machine': info, 'rows': rows, 'date': time.strftime('%Y-%m-%d'),
                                 'subscriber_qos': 'sensor data (best effort, depth 5)'})
    print(f'written to {RESULTS}')


if __name__ == '__main__':
    main()
