#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make run`: show the library at work. Until mailkitd exists (the reference-server issue takes
# `make run` over), this runs the operator CLI on an example message and prints its structure.
set -euo pipefail
build=${1:-build/dev}
cli="$build/apps/mailkit/mailkit"
sample="examples/data/sample.eml"
echo "== mailkit mime show $sample"
"$cli" mime show "$sample"
echo
echo "== mailkit mime text $sample"
"$cli" mime text "$sample"
echo
echo "Try it on your own mail:  $cli mime show path/to/message.eml"
echo "From Python:              PYTHONPATH=$build/bindings/python /usr/bin/python3 examples/python/01_parse.py $sample"
