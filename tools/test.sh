#!/usr/bin/env bash
# Set up the project's test environment from a fresh clone and run the whole test suite (CPU only).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q torch==2.14.1 torchvision==0.29.1
.venv/bin/pip install -q -e ".[test]"
# pytest exits 5 when it collected no tests: that is a failure here, like any non-zero status.
.venv/bin/python -m pytest -q -p no:cacheprovider tests
