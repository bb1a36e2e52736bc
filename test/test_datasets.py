"""Dataset folders: layouts, errors that name files, splits, stats, metrics, preprocessing."""

import json
import os

import cv2
import numpy as np
import pytest

from nano_vision.datasets.layout import (check_category, CLASSIFICATION, DatasetError, describe,
                                         load_dataset, MANIFEST, manifest_line, parse_xy_name,
                                         read_manifest, split_samples, XY)
from nano_vision.datasets.synth import write_synthetic_dataset
from nano_vision.image.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from nano_vision.ml.metrics import classification_report, xy_report


def write_image(path, width=40, height=30, value=100):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(str(path), np.full((height, width, 3), value, np.uint8))


def test_classification_folders_in_name_order(tmp_path):
    for label, n in (('thumbs_up', 3), ('thumbs_down', 2)):
        for i in range(n):
            write_image(tmp_path / label / f'{i}.jpg')
    dataset = load_dataset(tmp_path)
    assert dataset.task == CLASSIFICATION
    assert dataset.names == ('thumbs_down', 'thumbs_up')
    assert dataset.counts() == {'thumbs_down': 2, 'thumbs_up': 3}
    assert all((s.width, s.height) == (40, 30) for s in dataset.samples)
    ordered = load_dataset(tmp_path, names=['thumbs_up', 'thumbs_down'])
    assert ordered.names == ('thumbs_up', 'thumbs_down')


def test_course_xy_files_are_normalised_with_their_image_size(tmp_path):
    write_image(tmp_path / 'nose' / '20_15_abc.jpg', 40, 30)
    write_image(tmp_path / 'left_eye' / '0_30_def.jpg', 40, 30)
    dataset = load_dataset(tmp_path)
    assert dataset.task == XY
    by_label = {s.label: s for s in dataset.samples}
    assert (by_label['nose'].x, by_label['nose'].y) == (0.0, 0.0)
    assert (by_label['left_eye'].x, by_label['left_eye'].y) == (-1.0, 1.0)
    assert by_label['nose'].group == 'abc'


def test_jetbot_flat_xy_files(tmp_path):
    write_image(tmp_path / 'xy_112_056_0a1b.jpg', 224, 224)
    dataset = load_dataset(tmp_path)
    assert dataset.names == ('target',)
    sample = dataset.samples[0]
    assert sample.x == pytest.approx(0.0) and sample.y == pytest.approx(-0.5)


@pytest.mark.parametrize('name, expected', [
    ('12_34_uuid.jpg', (12.0, 34.0, 'uuid')),
    ('xy_112_056_1234-abcd.jpg', (112.0, 56.0, '1234-abcd')),
    ('12.5_3_u.png', (12.5, 3.0, 'u')),
    ('photo.jpg', None),
    ('12_photo.jpg', None),
])
def test_xy_file_names(name, expected):
    assert parse_xy_name(name) == expected


def test_empty_category_is_named(tmp_path):
    write_image(tmp_path / 'happy' / 'a.jpg')
    os.makedirs(tmp_path / 'sad')
    with pytest.raises(DatasetError, match='categories with no images: sad'):
        load_dataset(tmp_path)


def test_unreadable_images_are_listed(tmp_path):
    write_image(tmp_path / 'happy' / 'a.jpg')
    (tmp_path / 'happy' / 'broken.jpg').write_bytes(b'not a jpeg')
    with pytest.raises(DatasetError, match=r'1 unreadable image\(s\): .*broken.jpg'):
        load_dataset(tmp_path)


def test_points_outside_the_image_are_listed(tmp_path):
    write_image(tmp_path / 'nose' / '10_10_a.jpg', 40, 30)
    write_image(tmp_path / 'nose' / '50_10_b.jpg', 40, 30)
    with pytest.raises(DatasetError, match=r'outside their image: .*50_10_b.jpg \(point 50,10 '
                                           r'in a 40x30 image\)'):
        load_dataset(tmp_path)


def test_mixed_layouts_and_missing_folders_are_explained(tmp_path):
    write_image(tmp_path / 'nose' / '10_10_a.jpg')
    write_image(tmp_path / 'nose' / 'plain.jpg')
    with pytest.raises(DatasetError, match='carry a point in their name'):
        load_dataset(tmp_path)
    assert load_dataset(tmp_path, task=CLASSIFICATION).counts() == {'nose': 2}
    with pytest.raises(DatasetError, match='does not exist'):
        load_dataset(tmp_path / 'nope')
    write_image(tmp_path / 'loose.jpg')
    with pytest.raises(DatasetError, match='not in a category folder'):
        load_dataset(tmp_path)


@pytest.mark.parametrize('name', ['../x', '/etc', '', 'a/b', 'a\\b', '.', '..', '.hidden',
                                  'tab\tname', 'new\nline', 'x' * 65, 'manifest.jsonl'])
def test_unsafe_category_names_are_refused(name):
    with pytest.raises(DatasetError, match='not allowed'):
        check_category(name)


def test_manifest_adds_provenance_and_deleted_files_are_gone(tmp_path):
    samples = write_synthetic_dataset('thumbs', str(tmp_path), 6, size=32, seed=1)
    assert len(read_manifest(str(tmp_path))) == 6
    os.remove(samples[0].path)
    with open(tmp_path / MANIFEST, 'a') as stream:
        stream.write('{"file": "cut')  # a line a crash cut short
    dataset = load_dataset(tmp_path)
    assert len(dataset.samples) == 5
    assert all(s.source == 'synthetic:thumbs' for s in dataset.samples)


def test_manifest_line_round_trip(tmp_path):
    write_image(tmp_path / 'nose' / '20_15_abc.jpg', 40, 30)
    sample = load_dataset(tmp_path).samples[0]
    entry = json.loads(manifest_line(sample, str(tmp_path)))
    assert entry['file'] == os.path.join('nose', '20_15_abc.jpg')
    assert (entry['u'], entry['v'], entry['x'], entry['y']) == (20.0, 15.0, 0.0, 0.0)


def test_a_broken_manifest_line_in_the_middle_is_reported(tmp_path):
    write_image(tmp_path / 'a' / 'x.jpg')
    (tmp_path / MANIFEST).write_text('garbage\n{"file": "a/x.jpg"}\n')
    with pytest.raises(DatasetError, match='manifest.jsonl:1'):
        load_dataset(tmp_path)


def test_split_is_seeded_stratified_and_keeps_groups_together(tmp_path):
    samples = write_synthetic_dataset('face', str(tmp_path), 90, size=32, seed=0)
    assert len(samples) == 270  # three points of each frame, one file each
    train, val = split_samples(samples, 0.2, seed=3)
    assert len(train) + len(val) == 270
    assert {s.group for s in train}.isdisjoint({s.group for s in val})
    assert {s.label for s in val} == {'nose', 'left_eye', 'right_eye'}
    assert split_samples(samples, 0.2, seed=3) == (train, val)
    assert split_samples(samples, 0.2, seed=4) != (train, val)
    assert 0.15 < len(val) / 270 < 0.3


def test_stats_report_counts_sizes_and_imbalance(tmp_path):
    for i in range(8):
        write_image(tmp_path / 'happy' / f'{i}.jpg')
    write_image(tmp_path / 'sad' / '0.jpg', 64, 48)
    text = '\n'.join(describe(load_dataset(tmp_path)))
    assert 'happy' in text and '8' in text
    assert '40x30 (8)' in text and '64x48 (1)' in text
    assert 'WARNING: classes are imbalanced' in text


def test_synthetic_face_dataset_files_point_at_the_truth(tmp_path):
    samples = write_synthetic_dataset('face', str(tmp_path), 12, size=64, seed=2)
    dataset = load_dataset(tmp_path)
    assert dataset.task == XY and len(dataset.samples) == 36
    by_path = {s.path: s for s in samples}
    for sample in dataset.samples:
        assert sample.x == pytest.approx(by_path[sample.path].x)


def test_classification_metrics():
    report = classification_report([0, 0, 1, 1, 1], [0, 1, 1, 1, 0], ['a', 'b'])
    assert report['accuracy'] == pytest.approx(0.6)
    assert report['confusion_matrix'] == [[1, 1], [1, 2]]
    assert report['per_class']['b']['precision'] == pytest.approx(2 / 3)
    assert report['per_class']['b']['recall'] == pytest.approx(2 / 3)


def test_xy_metrics_use_the_labelled_point_and_pixels_of_the_image():
    predicted = np.zeros((2, 2, 2))
    targets = np.array([[[0.1, 0.0], [9.0, 9.0]], [[0.0, 0.0], [0.0, -0.2]]])
    mask = np.array([[1, 0], [0, 1]])
    sizes = np.array([[200, 100], [200, 100]])
    report = xy_report(predicted, targets, mask, sizes, ['nose', 'eye'])
    assert report['per_keypoint']['nose']['rmse'] == pytest.approx(0.1)
    assert report['per_keypoint']['nose']['rmse_px'] == pytest.approx(10.0)
    assert report['per_keypoint']['eye']['rmse_px'] == pytest.approx(10.0)
    assert report['rmse'] == pytest.approx(np.sqrt((0.01 + 0.04) / 2))


def test_preprocessing_is_rgb_resized_and_normalised():
    pre = Preprocessing(input_size=32)
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[..., 0] = 255  # pure red
    out = pre(rgb, 'rgb8')
    assert out.shape == (3, 32, 32) and out.dtype == np.float32
    assert out[0].mean() == pytest.approx((1 - IMAGENET_MEAN[0]) / IMAGENET_STD[0], abs=1e-5)
    assert out[2].mean() == pytest.approx(-IMAGENET_MEAN[2] / IMAGENET_STD[2], abs=1e-5)
    # the same red frame as bgr8 gives the same input: colour order is fixed
    np.testing.assert_allclose(pre(rgb[..., ::-1].copy(), 'bgr8'), out)
    assert Preprocessing.from_dict(pre.to_dict()) == pre
    with pytest.raises(ValueError, match='color_order'):
        Preprocessing(color_order='bgr')
