"""The ``nano-vision`` command: datasets, training, evaluation, prediction, export, demo.

nano-vision dataset synth --scene face --count 300 --out data/face
nano-vision dataset stats data/face
nano-vision dataset from-bag runs/face_1 --out data/face --topic /image_raw --label-topic /truth
nano-vision train data/face --out face.pt
nano-vision eval face.pt data/face_test
nano-vision predict face.pt image.jpg
nano-vision predict thumbs.pt scene.jpg --windows --window-size 0.4 --background background
nano-vision export face.pt --onnx
nano-vision demo --project thumbs --out demo_out
nano-vision export face.pt --int8
"""

import argparse
import json
import logging
import sys

from nano_vision.inference.config import BACKENDS, DETECTOR_PARAMETERS
from nano_vision.scenes import SCENES
from nano_vision.tools.demo.plan import PROJECTS

EXAMPLES = __doc__.split('\n\n', 1)[1]


def _dataset_stats(args):
    from nano_vision.datasets.layout import describe, load_dataset
    dataset = load_dataset(args.data, task=args.task, names=args.names)
    print('\n'.join(describe(dataset)))
    return 0


def _dataset_synth(args):
    from nano_vision.datasets.synth import write_synthetic_dataset
    samples = write_synthetic_dataset(args.scene, args.out, args.count, args.size, args.seed)
    print(f'wrote {len(samples)} images of synthetic:{args.scene} to {args.out}')
    return 0


def _dataset_from_bag(args):
    from nano_vision.bags.errors import BagError
    from nano_vision.bags.to_dataset import dataset_from_bag
    try:
        report = dataset_from_bag(args.bag, args.out, args.topic, every=args.every,
                                  start=args.start, end=args.end, label=args.label,
                                  label_topic=args.label_topic)
    except BagError as exc:
        print(f'nano-vision dataset from-bag: error: {exc}', file=sys.stderr)
        return 2
    print('\n'.join(report.lines()))
    return 0


def _size(text):
    width, _, height = text.partition('x')
    try:
        return int(width) if not height else (int(width), int(height))
    except ValueError:
        raise argparse.ArgumentTypeError(f'size must be N or WxH, got {text!r}') from None


def _train(args):
    from nano_vision.ml.recipe import TrainOptions
    from nano_vision.ml.train import train
    train(TrainOptions.from_arguments(args))
    return 0


def _print_metrics(task, metrics):
    if task == 'xy':
        print(f'RMSE {metrics["rmse"]:.4f} normalised, {metrics["rmse_px"]:.2f} px '
              f'({metrics["count"]} points)')
        for name, m in metrics['per_keypoint'].items():
            print(f'  {name:<16} RMSE {m["rmse"]:.4f}  {m["rmse_px"]:7.2f} px  '
                  f'({m["count"]} points)')
        return
    print(f'accuracy {metrics["accuracy"]:.4f} ({metrics["count"]} images)')
    names = list(metrics['per_class'])
    width = max(len(n) for n in names)
    print(f'  {"class":<{width}}  precision  recall     f1  support')
    for name, m in metrics['per_class'].items():
        print(f'  {name:<{width}}  {m["precision"]:9.3f}  {m["recall"]:6.3f}  {m["f1"]:5.3f}  '
              f'{m["support"]:7d}')
    print('confusion matrix (rows: true, columns: predicted):')
    print('  ' + ' ' * width + ' ' + ' '.join(f'{n[:8]:>8}' for n in names))
    for name, row in zip(names, metrics['confusion_matrix']):
        print(f'  {name:<{width}} ' + ' '.join(f'{v:>8d}' for v in row))


def _eval(args):
    from nano_vision.ml.checkpoint import load_checkpoint
    from nano_vision.ml.evaluate import evaluate
    from nano_vision.runtime.files import write_file_atomic
    task = load_checkpoint(args.model)['task']
    metrics = evaluate(args.model, args.data, device=args.device)
    _print_metrics(task, metrics)
    if args.json:
        write_file_atomic(args.json, json.dumps(metrics, indent=2).encode('utf-8'))
    return 0


def _window_settings(args, names):
    """Return the window grid and the object classes of the --windows options."""
    from nano_vision.inference.windows import object_classes, WindowGrid
    grid = WindowGrid(args.window_size, args.window_stride, tuple(args.window_scales))
    background = tuple(n for n in args.background.split(',') if n)
    object_classes(names, background)  # refuses unknown names before any image is read
    return grid, background


def _detect(predictor, image, path, args, settings):
    """Return the JSON result and the text line of the windows of one image."""
    from nano_vision.inference.windows import detect
    grid, background = settings
    height, width = image.shape[:2]
    boxes = grid.boxes(width, height)
    found = detect(boxes, predictor.predict_windows(image, boxes, 'bgr8'), predictor.names,
                   background, args.score_threshold, args.iou_threshold)
    result = {'file': path, 'windows': len(boxes),
              'detections': [{'label': d.label, 'score': d.score, 'x': d.x, 'y': d.y,
                              'width': d.width, 'height': d.height} for d in found]}
    text = '; '.join(f'{d.label} {d.score:.3f} at {d.x},{d.y} {d.width}x{d.height}'
                     for d in found) or 'nothing'
    return result, f'{text} ({len(boxes)} windows)'


def _predict(args):
    import cv2
    from nano_vision.ml.predictor import load_predictor
    predictor = load_predictor(args.model, device=args.device, backend=args.backend)
    settings = None
    if args.windows:
        try:
            predictor.check_classifier()
            settings = _window_settings(args, predictor.names)
        except ValueError as exc:
            print(f'nano-vision predict: {exc}', file=sys.stderr)
            return 2
    results, status = [], 0
    for path in args.images:
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            print(f'{path}: cannot read this image', file=sys.stderr)
            status = 1
            continue
        if settings is not None:
            try:
                result, text = _detect(predictor, image, path, args, settings)
            except ValueError as exc:  # no window fits this image
                print(f'{path}: {exc}', file=sys.stderr)
                status = 1
                continue
            results.append(result)
            if not args.json:
                print(f'{path}: {text}')
            continue
        p = predictor.predict(image, 'bgr8', args.min_confidence)
        height, width = image.shape[:2]
        if p.task == 'xy':
            points = {n: {'x': float(x), 'y': float(y), 'u': float((x + 1) * width / 2),
                          'v': float((y + 1) * height / 2)}
                      for n, (x, y) in zip(p.names, p.points)}
            results.append({'file': path, 'points': points})
            text = ', '.join(f'{n} ({v["x"]:+.3f}, {v["y"]:+.3f}) = ({v["u"]:.0f}, '
                             f'{v["v"]:.0f}) px' for n, v in points.items())
        else:
            results.append({'file': path, 'label': p.label, 'confidence': p.confidence,
                            'probabilities': dict(zip(p.names, map(float, p.probabilities)))})
            text = f'{p.label} {p.confidence:.3f}'
        if not args.json:
            print(f'{path}: {text}')
    if args.json:
        print(json.dumps(results, indent=2))
    return status


def _export(args):
    if not args.onnx and not args.int8:
        print('nothing to export: give --onnx [OUT] and/or --int8 [OUT]', file=sys.stderr)
        return 2
    status = 0
    if args.onnx:
        from nano_vision.ml.export import export_onnx
        out, difference = export_onnx(args.model, None if args.onnx is True else args.onnx,
                                      opset=args.opset)
        print(f'wrote {out}; max abs difference ONNX Runtime vs PyTorch: {difference:.3g}')
        if difference > args.tolerance:
            print(f'the difference is above the tolerance {args.tolerance:g}', file=sys.stderr)
            status = 1
    if args.int8:
        from nano_vision.ml.export import quantize_int8
        try:
            out, check = quantize_int8(args.model, None if args.int8 is True else args.int8,
                                       args.calibration, args.calibration_count, args.opset)
        except ValueError as exc:
            print(f'int8 export failed: {exc}', file=sys.stderr)
            return 1
        if 'top1_agreement' in check:
            text = f'top-1 agreement with PyTorch {check["top1_agreement"]:.1%}'
            bad = check['top1_agreement'] < args.min_agreement
        else:
            text = f'mean abs difference {check["mean_abs_difference"]:.3g} (normalised)'
            bad = check['mean_abs_difference'] > args.xy_tolerance
        print(f'wrote {out} (int8, calibrated on {check["images"]} images); on them: {text}, '
              f'max abs output difference {check["max_abs_difference"]:.3g}')
        if bad:
            print('the int8 model differs from PyTorch more than allowed '
                  '(--min-agreement / --xy-tolerance): calibrate with more or more typical '
                  'images, or use the fp32 export', file=sys.stderr)
            status = 1
    return status


def _demo(args):
    from nano_vision.tools.demo.plan import DemoError
    from nano_vision.tools.demo.run import run_demo
    try:
        run_demo(args.project, args.out, quick=args.quick, seconds=args.seconds)
    except DemoError as exc:
        print(f'nano-vision demo: error: {exc}', file=sys.stderr)
        return 1
    return 0


def _add_train_parser(commands):
    from nano_vision.ml import recipe
    train = commands.add_parser(
        'train', help='train a model on a dataset folder',
        description='Train a ResNet-18 (or --arch) on a dataset folder: transfer learning from '
        'ImageNet weights where torchvision has or can fetch them, an honest validation '
        'split, the best epoch kept. Image size, epochs and learning rate follow from the '
        'data unless given (docs/training.md).')
    recipe.add_arguments(train)
    train.set_defaults(run=_train)


def build_parser():
    """Return the argument parser of ``nano-vision``."""
    from nano_vision.ml.recipe import category_names
    parser = argparse.ArgumentParser(
        prog='nano-vision', description='Collect, train and run ResNet-18 image models.',
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-v', '--verbose', action='store_true', help='log more')
    commands = parser.add_subparsers(dest='command', required=True)

    dataset = commands.add_parser('dataset', help='look at or make datasets')
    dataset_commands = dataset.add_subparsers(dest='dataset_command', required=True)
    stats = dataset_commands.add_parser('stats', help='counts per class, image sizes, balance')
    stats.add_argument('data', help='dataset folder')
    stats.add_argument('--task', default='auto', choices=['auto', 'classification', 'xy'])
    stats.add_argument('--names', type=category_names, default=(),
                       help='comma-separated categories, in model order')
    stats.set_defaults(run=_dataset_stats)
    synth = dataset_commands.add_parser('synth', help='render a synthetic dataset')
    synth.add_argument('--scene', default='face', choices=tuple(SCENES),
                       help='the scene (objects: windows of each frame, for the detector)')
    synth.add_argument('--count', type=int, default=300, help='number of images')
    synth.add_argument('--size', type=_size, default=224,
                       help='image side, or WIDTHxHEIGHT to match a camera (e.g. 640x480)')
    synth.add_argument('--seed', type=int, default=0)
    synth.add_argument('--out', required=True, help='folder to write (created)')
    synth.set_defaults(run=_dataset_synth)
    from_bag = dataset_commands.add_parser(
        'from-bag', help='extract a dataset from the frames of a rosbag2 bag (mcap or sqlite3)')
    from_bag.add_argument('bag', help='bag folder, or one .mcap or .db3 file')
    from_bag.add_argument('--out', required=True, help='dataset folder to write (must be new)')
    from_bag.add_argument('--topic', required=True,
                          help='sensor_msgs/Image or CompressedImage topic, e.g. /image_raw')
    from_bag.add_argument('--every', type=int, default=1, metavar='N',
                          help='keep every Nth frame of the window')
    from_bag.add_argument('--start', type=float, metavar='S',
                          help='window start: seconds from the bag start, or absolute '
                          'seconds since the epoch (>= 1e9)')
    from_bag.add_argument('--end', type=float, metavar='E', help='window end (inclusive)')
    labels = from_bag.add_mutually_exclusive_group(required=True)
    labels.add_argument('--label', metavar='CATEGORY', help='one category for every frame')
    labels.add_argument('--label-topic', metavar='TOPIC',
                        help='std_msgs/String (the newest label at or before each frame) or '
                        'GroundTruth/Classification/Keypoints (the same header stamp)')
    from_bag.set_defaults(run=_dataset_from_bag)

    _add_train_parser(commands)

    evaluate = commands.add_parser('eval', help='score a model on a dataset folder')
    evaluate.add_argument('model')
    evaluate.add_argument('data')
    evaluate.add_argument('--device', default='auto')
    evaluate.add_argument('--json', help='also write the metrics to this JSON file')
    evaluate.set_defaults(run=_eval)

    predict = commands.add_parser('predict', help='run a model on image files')
    predict.add_argument('model', help='.pt checkpoint or .onnx export')
    predict.add_argument('images', nargs='+')
    predict.add_argument('--device', default='auto',
                         help='auto, cpu, cuda, or tensorrt (.onnx models)')
    predict.add_argument('--backend', default='auto', choices=BACKENDS,
                         help='engine of .onnx models: auto (OpenVINO on an x86 CPU when it is '
                         'installed, else ONNX Runtime), onnxruntime or openvino')
    predict.add_argument('--min-confidence', type=float, default=0.0)
    predict.add_argument('--json', action='store_true', help='print JSON')
    windows = predict.add_argument_group(
        'sliding windows', 'detect objects with a classifier run on a grid of windows '
        '(docs/detection.md); every image costs one batch')
    windows.add_argument('--windows', action='store_true',
                         help='print detections (label, score, box) instead of one label')
    # the detector node's defaults, so that both find the same boxes
    node = {spec.name: spec.default for spec in DETECTOR_PARAMETERS}
    windows.add_argument('--window-size', type=float, default=node['window_size'],
                         help='window side: a fraction of the shorter image side (<= 1) or '
                         f'pixels (default {node["window_size"]:g})')
    windows.add_argument('--window-stride', type=float, default=node['window_stride'],
                         help='step between windows, a fraction of the window (default '
                         f'{node["window_stride"]:g})')
    scales = [float(scale) for scale in node['window_scales'].split(',')]
    windows.add_argument('--window-scales', type=float, nargs='+', default=scales,
                         help='window sizes as multiples of --window-size (default '
                         f'{" ".join(f"{scale:g}" for scale in scales)})')
    windows.add_argument('--background', default=node['background'],
                         help='comma-separated classes that are not objects (default '
                         f'{node["background"]}; empty: every class is an object)')
    windows.add_argument('--score-threshold', type=float, default=node['score_threshold'],
                         help='lowest probability of a detection (default '
                         f'{node["score_threshold"]:g})')
    windows.add_argument('--iou-threshold', type=float, default=node['iou_threshold'],
                         help='overlap above which the weaker box of a class is suppressed '
                         f'(default {node["iou_threshold"]:g})')
    predict.set_defaults(run=_predict)

    export = commands.add_parser('export', help='export a model to ONNX')
    export.add_argument('model')
    export.add_argument('--onnx', nargs='?', const=True, metavar='OUT',
                        help='write ONNX (default: the model path with .onnx)')
    export.add_argument('--int8', nargs='?', const=True, metavar='OUT',
                        help='write an int8 ONNX model (static quantisation, default OUT: '
                        '<model>.int8.onnx), calibrated on training images')
    export.add_argument('--calibration', metavar='DATASET',
                        help='dataset folder for --int8 calibration (default: the training '
                        'images of the dataset recorded in the model file)')
    export.add_argument('--calibration-count', type=int, default=128,
                        help='calibration images for --int8')
    export.add_argument('--min-agreement', type=float, default=0.95,
                        help='--int8 fails below this top-1 agreement with PyTorch')
    export.add_argument('--xy-tolerance', type=float, default=0.05,
                        help='--int8 of an XY model fails above this mean abs difference')
    export.add_argument('--opset', type=int, default=17)
    export.add_argument('--tolerance', type=float, default=1e-3,
                        help='largest accepted difference between ONNX and PyTorch outputs')
    export.set_defaults(run=_export)

    demo = commands.add_parser(
        'demo', help='synthetic camera -> dataset -> training -> live ROS pipeline -> summary',
        description='Render a labelled synthetic dataset, train a model on it, run the '
        'camera (or simulator), model, overlay and steering nodes with it, and write a '
        'summary, a montage, the training curves and a video. Needs the built workspace '
        '(. ./activate.sh).')
    demo.add_argument('--project', default='face_xy', choices=list(PROJECTS))
    demo.add_argument('--out', default='demo_out', help='folder for everything it writes')
    demo.add_argument('--quick', action='store_true',
                      help='tiny dataset, one epoch, 5 s live: every step and file, fast')
    demo.add_argument('--seconds', type=float,
                      help='seconds of the live run (default 20, line_following 30)')
    demo.set_defaults(run=_demo)
    return parser


def main(argv=None):
    """Run ``nano-vision``; return the exit status (errors print one clear line)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format='%(levelname)s %(name)s: %(message)s')
    from nano_vision.datasets.layout import DatasetError
    expected = (DatasetError, ValueError, OSError)
    try:
        from nano_vision.ml.weights import WeightsError
        expected += (WeightsError,)
    except ImportError:  # torch missing: the dataset commands still work
        pass
    try:
        return args.run(args)
    except expected as exc:
        print(f'nano-vision {args.command}: error: {exc}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
