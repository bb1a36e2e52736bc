"""Scoring the live run against the synthetic ground truth, and the printed summary."""

import math

import numpy as np

from nano_vision.image.coords import to_normalised
from nano_vision.inference.stamp_match import StampMatcher
from nano_vision.inference.windows import match


class LiveScore:
    """Pair predictions with the ground truth of their frame and score them.

    Predictions and truths are plain dictionaries (the monitor converts the
    messages): ``{'label': str}`` for classifiers, ``{'points': {name: (u, v)},
    'width': w, 'height': h}`` for point models, ``{'objects': [...]}`` for
    detectors (predictions: :class:`~nano_vision.inference.windows.Detection` s;
    truths: ``(label, (x, y, width, height))``); paired by stamp.
    """

    def __init__(self, capacity=300):
        """Pair within the last ``capacity`` unpaired items of each kind."""
        self.matcher = StampMatcher(capacity)
        self.pairs = []
        self.predictions = 0
        self.truths = 0

    def add_truth(self, stamp, truth):
        """Add the ground truth of the frame stamped ``stamp`` (nanoseconds)."""
        self.truths += 1
        self._keep(self.matcher.add_frame(stamp, truth))

    def add_prediction(self, stamp, prediction):
        """Add the prediction for the frame stamped ``stamp`` (nanoseconds)."""
        self.predictions += 1
        self._keep(self.matcher.add_prediction(stamp, prediction))

    def _keep(self, pair):
        if pair is not None:
            self.pairs.append(pair)

    def summary(self):
        """Return the live accuracy: label accuracy, or point errors (normalised and pixels)."""
        result = {'predictions': self.predictions, 'frames_with_truth': len(self.pairs)}
        if not self.pairs:
            return result
        if 'objects' in self.pairs[0][0]:
            return {**result, **detection_summary(self.pairs)}
        if 'label' in self.pairs[0][1]:
            correct = [truth['label'] == p['label'] for truth, p in self.pairs]
            result['accuracy'] = round(float(np.mean(correct)), 4)
            return result
        squared, squared_px, per_name = [], [], {}
        for truth, prediction in self.pairs:
            width, height = truth['width'], truth['height']
            for name, (u, v) in truth['points'].items():
                if name not in prediction['points']:
                    continue
                pu, pv = prediction['points'][name]
                x, y = to_normalised(u, v, width, height)
                px, py = to_normalised(pu, pv, width, height)
                d2 = (px - x) ** 2 + (py - y) ** 2
                d2_px = (pu - u) ** 2 + (pv - v) ** 2
                squared.append(d2)
                squared_px.append(d2_px)
                per_name.setdefault(name, []).append(math.sqrt(d2_px))
        if not squared:
            return result
        width, height = self.pairs[0][0]['width'], self.pairs[0][0]['height']
        result.update(
            rmse=round(math.sqrt(float(np.mean(squared))), 4),
            rmse_px=round(math.sqrt(float(np.mean(squared_px))), 2),
            frame_size=f'{width}x{height}',
            median_px={name: round(float(np.median(d)), 2) for name, d in per_name.items()})
        return result


def detection_summary(pairs, iou_threshold=0.5):
    """Return precision and recall of detections against the truth boxes of their frames.

    A detection is right when it has the label of a truth box not yet matched and
    overlaps it with IoU >= ``iou_threshold``
    (:func:`~nano_vision.inference.windows.match`).
    """
    tp = fp = fn = 0
    for truth, prediction in pairs:
        a, b, c = match(prediction['objects'], truth['objects'], iou_threshold)
        tp, fp, fn = tp + a, fp + b, fn + c
    return {'objects': tp + fn, 'true_positives': tp, 'false_positives': fp,
            'precision': round(tp / max(tp + fp, 1), 4),
            'recall': round(tp / max(tp + fn, 1), 4)}


def track_summary(states):
    """Return laps and |cross-track error| of TrackState-like records while the robot moved.

    :param states: objects with ``linear``, ``progress``, ``laps``,
        ``cross_track_error`` and ``on_track`` (messages or namespaces), in order
    """
    moving = [s for s in states if s.linear != 0.0 or s.progress != 0.0]
    if not states:
        return {'laps': 0, 'progress': 0.0, 'frames': 0}
    result = {'track_frames': len(states), 'laps': int(states[-1].laps),
              'progress': round(float(states[-1].progress), 3), 'frames': len(moving)}
    if moving:
        errors = np.abs([s.cross_track_error for s in moving])
        result.update(mean_abs_cte_m=round(float(errors.mean()), 4),
                      max_abs_cte_m=round(float(errors.max()), 4),
                      on_track_fraction=round(float(np.mean([s.on_track for s in moving])), 4))
    return result


def stats_summary(stats):
    if not stats:
        return {}
    return {key: (round(value, 2) if isinstance(value, float) else value)
            for key, value in stats.items()}


def format_summary(summary):
    """Return the summary as the lines printed at the end of the demo."""
    lines = [f'nano_vision demo: {summary["project"]} ({summary["mode"]})']
    val = summary['validation']
    if 'accuracy' in val and 'windows' in val:
        lines.append(f'  validation    accuracy {val["accuracy"]:.3f} on {val["count"]} windows '
                     f'(best epoch {val["best_epoch"]} of {val["epochs_run"]})')
    elif 'accuracy' in val:
        lines.append(f'  validation    accuracy {val["accuracy"]:.3f} on {val["count"]} images '
                     f'(best epoch {val["best_epoch"]} of {val["epochs_run"]})')
    else:
        lines.append(f'  validation    RMSE {val["rmse"]:.4f} normalised = {val["rmse_px"]:.2f} '
                     f'px at {val["dataset_size"]} px (best epoch {val["best_epoch"]} of '
                     f'{val["epochs_run"]})')
    stats = summary['live']['stats']
    if stats:
        lines.append(f'  live          {stats["fps"]:.1f} fps on {stats["backend"]}/'
                     f'{stats["device"]}; latency p50 {stats["latency_ms_p50"]:.1f} ms, p99 '
                     f'{stats["latency_ms_p99"]:.1f} ms (model {stats["model_latency_ms_p50"]:.1f}'
                     f' ms); {stats["frames_processed"]} frames processed, '
                     f'{stats["frames_dropped"]} dropped')
    else:
        lines.append('  live          no statistics received')
    score = summary['live']['accuracy']
    if 'precision' in score:
        lines.append(f'  live truth    precision {score["precision"]:.3f}, recall '
                     f'{score["recall"]:.3f} on {score["objects"]} objects in '
                     f'{score["frames_with_truth"]} frames (IoU >= 0.5, same stamp as the '
                     'ground truth)')
    elif 'accuracy' in score:
        lines.append(f'  live truth    accuracy {score["accuracy"]:.3f} on '
                     f'{score["frames_with_truth"]} frames (same stamp as the ground truth)')
    elif 'rmse' in score:
        medians = ', '.join(f'{n} {v:.1f}' for n, v in score['median_px'].items())
        lines.append(f'  live truth    RMSE {score["rmse"]:.4f} normalised = '
                     f'{score["rmse_px"]:.2f} px at {score["frame_size"]} on '
                     f'{score["frames_with_truth"]} frames; median px: {medians}')
    else:
        lines.append('  live truth    no frame paired with its ground truth')
    track = summary['live'].get('track')
    if track is not None:
        if 'mean_abs_cte_m' in track:
            lines.append(f'  track         {summary["track"]}: {track["laps"]} laps '
                         f'({track["progress"]:.2f}), |cross-track error| mean '
                         f'{100 * track["mean_abs_cte_m"]:.1f} cm, max '
                         f'{100 * track["max_abs_cte_m"]:.1f} cm, on the track '
                         f'{100 * track["on_track_fraction"]:.0f} % of the time')
        else:
            lines.append(f'  track         {summary["track"]}: the robot did not move')
    steering = summary['live'].get('steering')
    if steering is not None:
        lines.append(f'  steering      {steering["commands"]} commands ({steering["mode"]}), '
                     f'{steering["following"]} while following a target; turn rate '
                     f'{steering["angular_min"]:+.2f} to {steering["angular_max"]:+.2f} rad/s')
    lines.append(f'  files         {", ".join(summary["files"].values())} in {summary["out"]}')
    lines.append(f'  time          {summary["seconds"]["total"]:.0f} s (dataset '
                 f'{summary["seconds"]["dataset"]:.0f}, training '
                 f'{summary["seconds"]["training"]:.0f}, live {summary["seconds"]["live"]:.0f})')
    return lines
