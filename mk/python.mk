# The Python package (bindings/python): a virtualenv with it installed,
# its wheel, and its tests (DESIGN.md §5).

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
WHEEL_DIR := build/wheels

## python: create .venv and pip install ./bindings/python (compiles libduroxide.so) and pytest
.PHONY: python
python:
	@test -x $(VENV_PY) || $(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./bindings/python
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check pytest

## wheel: build a platform wheel of the Python package into build/wheels (it installs and runs without Go)
.PHONY: wheel
wheel: python
	@rm -rf $(WHEEL_DIR) && mkdir -p $(WHEEL_DIR)
	$(VENV_PY) -m pip wheel --quiet --disable-pip-version-check --no-deps -w $(WHEEL_DIR) ./bindings/python
	@ls $(WHEEL_DIR)/*.whl

## test-python: the Python scenario suite (pytest), then the wheel in a fresh venv with no Go on PATH
.PHONY: test-python
test-python: python wheel
	cd bindings/python && ../../$(VENV)/bin/pytest -q -p no:cacheprovider tests
	bash bindings/python/tests/wheel_smoke.sh $(WHEEL_DIR) $(PYTHON)

TEST_TARGETS += test-python
