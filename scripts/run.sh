#!/usr/bin/env bash
# The project's main job: build (installing what is missing), then start lantiand in the
# foreground with its defaults — data and development certificates in ./data, terminals on
# tcp://0.0.0.0:7700 and tls://0.0.0.0:7701 (profile auto), /metrics and /healthz on
# 127.0.0.1:9100. Extra arguments go to lantiand (`scripts/run.sh --help` lists them).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
exec build/bin/lantiand "$@"
