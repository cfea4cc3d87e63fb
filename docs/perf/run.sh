#!/usr/bin/env bash
# The measurements behind docs/performance.md (about 45 minutes on a 2-core machine).
# Each line is an `optgen bench` command; its JSON lands next to this script,
# and `make perf-plot` draws docs/performance.png from those files.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=".venv/bin/optgen bench"
OUT=docs/perf
$B adam --size 2**24 --rounds 5 --json $OUT/adam-2e24.json -q
$B adam --size 2**24 --rounds 9 --impl stream,optgen,torch-fused --json $OUT/adam-2e24-vs-fused.json -q
$B adam sgd --size 2**24 --dtype float32,float64 --paired --rounds 300 \
   --impl stream,optgen,torch-fused --json $OUT/paired-2e24.json -q
$B adam --model gpt2-small --rounds 3 --json $OUT/adam-gpt2.json -q
$B adam --model gpt2-small --paired --rounds 60 \
   --impl stream,optgen,optgen-1tensor,torch-fused --json $OUT/paired-adam-gpt2.json -q
$B rmsprop nadam radam adamax adadelta --model gpt2-small --rounds 3 \
   --impl stream,optgen,torch-foreach,torch-fused,optax-jit --json $OUT/foreach-gpt2.json -q
$B rmsprop nadam radam adamax adadelta --model gpt2-small --paired --rounds 60 \
   --impl stream,optgen,torch-foreach --json $OUT/paired-foreach-gpt2.json -q
$B lamb lars --model gpt2-small --rounds 3 \
   --impl stream,optgen,optax-jit,pytorch-optimizer --json $OUT/reductions-gpt2.json -q
$B adam sgd --size 2**24 --dtype float32,float64 --rounds 5 \
   --impl stream,optgen,torch-fused --json $OUT/float64-2e24.json -q
$B $(.venv/bin/optgen list | awk 'NR%2==1 {print $1}') --size 2**24 --paired --rounds 100 \
   --impl stream,optgen --json $OUT/every-spec-2e24.json -q
$B adam --model resnet50-like --rounds 3 --json $OUT/adam-resnet50.json -q
$B adam lamb radam --startup --rounds 3 --json $OUT/startup.json -q
