#!/usr/bin/env bash
# The project's main job, for now: build, then decode the example frames of every profile into
# the decoded-frame JSON (one object per line). The ingest server replaces this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
for hex in tests/corpus/frames/e*.hex; do
  profile=auto
  [ -f "${hex%.hex}.profile" ] && profile=$(cat "${hex%.hex}.profile")
  build/bin/lantian-decode --profile "$profile" <"$hex"
done
