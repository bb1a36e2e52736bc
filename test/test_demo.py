"""The demo: its scoring and pictures, and the README's ``make demo`` commands run as written."""

import json
import os
import pathlib
import re
import shlex
import subprocess
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import yaml

from helpers import ros_command
from nano_vision.tools.demo.media import FrameKeeper, make_montage, write_video
from nano_vision.tools.demo.plan import (DATASET_MARK, DemoError, frame_dimensions, make_plan,
                                         PROJECTS)
from nano_vision.tools.demo.run import _clear_dataset, node_commands
from nano_vision.tools.demo.score import LiveScore, track_summary

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_plans_shrink_for_quick_runs_and_refuse_unknown_projects():
    full, quick = make_plan('thumbs'), make_plan('thumbs', quick=True)
    assert quick.count < full.count and quick.epochs < full.epochs
    assert quick.seconds < full.seconds
    assert make_plan('face_xy', seconds=3).seconds == 3.0
    with pytest.raises(ValueError, match='face_xy'):
        make_plan('faces')
    with pytest.raises(ValueError, match='seconds'):
        make_plan('face_xy', seconds=0)


def test_live_nodes_are_the_launch_files_with_the_demos_settings_on_top():
    face = {name: ros_command(argv)
            for name, argv in node_commands(make_plan('face_xy'), 'face.pt', '/ns').items()}
    # the regressor reads the camera (in_process_camera): the camera section's settings,
    # then the demo's frame size and rate
    assert list(face) == ['regressor', 'overlay', 'steering']
    assert face['regressor']['parameters'] == {
        'model': 'face.pt', 'source': 'synthetic:face', 'width': 224, 'height': 224,
        'fps': 15.0, 'encoding': 'rgb8', 'stats_period_sec': 1.0}
    assert face['regressor']['remappings'] == {
        '__ns': '/ns', 'image': 'image_raw', 'image/compressed': 'image_raw/compressed'}
    assert face['overlay']['remappings'] == {'__ns': '/ns', 'image': 'image_raw'}
    # steering follows the nose with the motors off
    assert face['steering']['parameters'] == {'enabled': False, 'input': 'keypoints',
                                              'keypoint': 'nose'}
    for command in face.values():  # the project's parameter file, as its launch file gives
        assert [os.path.basename(f) for f in command['params_files']] == ['face_xy.yaml']

    plan = make_plan('line_following')
    road = {name: ros_command(argv)
            for name, argv in node_commands(plan, 'road.pt', '/ns').items()}
    assert list(road) == ['sim', 'regressor', 'steering', 'overlay']
    assert road['sim']['parameters'] == {'track': plan.track, 'width': 224, 'height': 224,
                                         'rate_hz': 15.0}
    assert road['steering']['parameters'] == {'enabled': True}  # it drives the simulator
    assert road['steering']['remappings'] == {'__ns': '/ns', 'cmd_vel': 'cmd_vel'}

    thumbs = node_commands(make_plan('thumbs'), 'thumbs.pt', '/ns')
    assert list(thumbs) == ['classifier', 'overlay']
    assert ros_command(thumbs['classifier'])['parameters']['source'] == 'synthetic:thumbs'


def test_parameter_values_keep_their_type_on_the_command_line():
    # a model file called 1 or true stays a string, as the launch files type it
    for model in ('1', 'true', 'a b: c'):
        argv = node_commands(make_plan('thumbs'), model, '/ns')['classifier']
        assert ros_command(argv)['parameters']['model'] == model


def test_live_labels_are_scored_against_the_truth_of_their_own_frame():
    score = LiveScore()
    score.add_truth(1, {'label': 'thumbs_up'})
    score.add_prediction(1, {'label': 'thumbs_up'})
    score.add_prediction(2, {'label': 'thumbs_up'})  # result before its frame's truth
    score.add_truth(2, {'label': 'thumbs_down'})
    score.add_truth(3, {'label': 'thumbs_down'})  # a frame the model dropped
    score.add_prediction(4, {'label': 'thumbs_up'})  # no truth for this one
    summary = score.summary()
    assert summary['frames_with_truth'] == 2
    assert summary['accuracy'] == 0.5


def test_live_points_are_scored_in_pixels_and_normalised_units():
    score = LiveScore()
    truth = {'points': {'nose': (100.0, 50.0), 'left_eye': (120.0, 40.0)},
             'width': 200, 'height': 100}
    score.add_truth(7, truth)
    score.add_prediction(7, {'points': {'nose': (103.0, 54.0), 'left_eye': (120.0, 40.0)}})
    summary = score.summary()
    assert summary['median_px'] == {'nose': 5.0, 'left_eye': 0.0}
    assert summary['rmse_px'] == pytest.approx(np.sqrt(25 / 2), abs=0.01)
    # 3 px of 200 and 4 px of 100 are 0.03 and 0.08 in [-1, 1] units
    assert summary['rmse'] == pytest.approx(np.sqrt((0.03 ** 2 + 0.08 ** 2) / 2), abs=1e-4)
    assert summary['frame_size'] == '200x100'


def test_live_detections_are_scored_by_precision_and_recall():
    from nano_vision.inference.windows import Detection
    score = LiveScore()
    score.add_truth(1, {'objects': [('circle', (10, 10, 40, 40)), ('square', (100, 10, 40, 40))]})
    score.add_prediction(1, {'objects': [
        Detection('circle', 0.9, 12, 12, 40, 40),   # right: IoU 0.82
        Detection('square', 0.8, 10, 10, 40, 40),   # wrong label on the circle
        Detection('circle', 0.7, 14, 10, 40, 40)]})  # the circle again: already matched
    score.add_prediction(2, {'objects': []})
    score.add_truth(2, {'objects': [('triangle', (50, 50, 30, 30))]})  # missed
    summary = score.summary()
    assert summary['frames_with_truth'] == 2 and summary['objects'] == 3
    assert (summary['true_positives'], summary['false_positives']) == (1, 2)
    assert summary['precision'] == round(1 / 3, 4) and summary['recall'] == round(1 / 3, 4)


def test_objects_demo_runs_the_detector_over_the_heat_map_at_the_scenes_frame_size():
    commands = {name: ros_command(argv) for name, argv in
                node_commands(make_plan('objects'), 'objects.pt', '/ns').items()}
    assert list(commands) == ['detector', 'overlay']
    assert commands['detector']['parameters'] == {
        'model': 'objects.pt', 'source': 'synthetic:objects', 'width': 320, 'height': 240,
        'fps': 15.0, 'encoding': 'rgb8', 'stats_period_sec': 1.0}
    for command in commands.values():
        assert [os.path.basename(f) for f in command['params_files']] == ['objects.yaml']
    config = yaml.safe_load((ROOT / 'config' / 'objects.yaml').read_text())
    assert config['/**/overlay']['ros__parameters']['heatmap'] is True


def test_track_summary_counts_laps_and_cross_track_error_while_moving():
    def state(linear, progress, laps, cte, on_track=True):
        return SimpleNamespace(linear=linear, progress=progress, laps=laps,
                               cross_track_error=cte, on_track=on_track)

    states = [state(0.0, 0.0, 0, 0.5), state(0.3, 0.5, 0, -0.02), state(0.3, 1.2, 1, 0.04),
              state(0.3, 1.3, 1, 0.30, on_track=False)]
    summary = track_summary(states)
    assert summary['laps'] == 1 and summary['progress'] == 1.3
    assert summary['frames'] == 3  # the robot standing at the start does not count
    assert summary['mean_abs_cte_m'] == pytest.approx(0.12)
    assert summary['max_abs_cte_m'] == 0.3
    assert summary['on_track_fraction'] == pytest.approx(2 / 3, abs=1e-4)
    assert track_summary([])['laps'] == 0


def test_pictures_montage_spread_over_the_run_and_video_of_its_end(tmp_path):
    keeper = FrameKeeper(montage_every_sec=1.0, video_buffer=50)
    for i in range(100):  # 10 s at 10 fps, frame i has grey level i
        keeper.add(i / 10, np.full((48, 64, 3), i, np.uint8))
    montage = keeper.montage_frames(4)
    assert [int(f[0, 0, 0]) for f in montage] == [0, 30, 60, 90]
    frames, fps = keeper.video_frames(seconds=2.0)
    assert len(frames) == 21 and fps == pytest.approx(10.0)
    assert int(frames[-1][0, 0, 0]) == 99

    tiled = make_montage(montage, columns=3, tile=64)
    assert tiled.shape == (2 * 48, 3 * 64, 3)
    path = write_video(str(tmp_path / 'clip'), frames, fps)
    video = cv2.VideoCapture(path)
    count = 0
    while video.read()[0]:
        count += 1
    assert count == len(frames)
    assert sorted(p.name for p in tmp_path.iterdir()) == [os.path.basename(path)]  # no .part


def test_a_video_cut_short_leaves_nothing_under_its_name(tmp_path, monkeypatch):
    from nano_vision.tools.demo import media
    frames = [np.full((48, 64, 3), i, np.uint8) for i in range(10)]
    convert, calls = cv2.cvtColor, []

    def failing(*args):  # the run stops half-way through the frames
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return convert(*args)
    monkeypatch.setattr(media.cv2, 'cvtColor', failing)
    with pytest.raises(KeyboardInterrupt):
        write_video(str(tmp_path / 'clip'), frames, 10.0)
    assert list(tmp_path.iterdir()) == []


def test_a_dataset_folder_the_demo_did_not_write_is_never_removed(tmp_path):
    theirs = tmp_path / 'data'
    (theirs / 'nose').mkdir(parents=True)
    with pytest.raises(DemoError, match='another --out'):
        _clear_dataset(str(theirs))
    assert (theirs / 'nose').is_dir()
    (theirs / DATASET_MARK).touch()
    _clear_dataset(str(theirs))
    assert not theirs.exists()


def _readme_demo_commands():
    """Return the ``make demo`` command lines of the README's code blocks."""
    readme = (ROOT / 'README.md').read_text(encoding='utf-8')
    commands = []
    for block in re.findall(r'```(?:bash|sh)?\n(.*?)```', readme, re.S):
        for line in block.splitlines():
            if line.strip().startswith('make demo'):
                commands.append(shlex.split(line, comments=True))
    return commands


def test_readme_shows_the_demo_of_each_project():
    projects = set()
    for words in _readme_demo_commands():
        settings = dict(w.split('=', 1) for w in words[2:] if '=' in w)
        projects.add(settings.get('PROJECT', 'face_xy'))
    assert {'face_xy', 'line_following'} <= projects <= set(PROJECTS)


@pytest.mark.slow
@pytest.mark.parametrize('project', ['face_xy', 'line_following', 'fingers', 'objects'])
def test_readme_demo_command_runs_as_written_in_quick_mode(project, tmp_path):
    pytest.importorskip('rclpy')
    command = next(words for words in _readme_demo_commands()
                   if dict(w.split('=', 1) for w in words[2:] if '=' in w).get(
                       'PROJECT', 'face_xy') == project)
    out = tmp_path / 'demo'
    run = subprocess.run([*command, f'DEMO_OUT={out}', 'DEMO_ARGS=--quick'], cwd=ROOT,
                         capture_output=True, text=True, timeout=280)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for step in ('[1/5] dataset', '[2/5] training', '[3/5] live', '[4/5] pictures',
                 '[5/5] summary', f'nano_vision demo: {project} (quick)'):
        assert step in run.stdout

    summary = json.loads((out / 'summary.json').read_text())
    assert summary['project'] == project
    assert set(summary['files']) >= {'model', 'curves', 'montage', 'video', 'summary'}
    for name in summary['files'].values():
        assert (out / name).stat().st_size > 0, name
    plan = make_plan(project)
    score = 'rmse' if plan.task == 'xy' else 'accuracy'
    assert summary['validation'][score] >= 0
    live_score = ('rmse_px' if plan.task == 'xy' else
                  'precision' if plan.model_node == 'detector' else 'accuracy')
    live = summary['live']
    assert live['stats']['frames_processed'] > 0 and live['stats']['fps'] > 0
    assert live['stats']['latency_ms_p99'] >= live['stats']['latency_ms_p50'] > 0
    assert live['accuracy']['frames_with_truth'] > 0
    assert live_score in live['accuracy']
    assert live['annotated_frames'] > 0
    if plan.steering == 'driving':
        assert live['track']['track_frames'] > 0 and 'laps' in live['track']
    elif plan.steering == 'motors_off':
        assert live['steering']['commands'] > 0  # motors off: ~/command only
    else:
        assert 'steering' not in live and 'track' not in live
    montage = cv2.imread(str(out / summary['files']['montage']))
    width, height = frame_dimensions(plan.frame_size)
    assert montage is not None and montage.shape[0] >= 224 * height // width  # a row of tiles
    video = cv2.VideoCapture(str(out / summary['files']['video']))
    assert video.read()[0]
    assert not os.path.exists(out / f'{project}.last.pt')
