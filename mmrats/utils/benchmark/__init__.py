"""Measuring backbones: timed steps, peak memory, FLOPs and the SDPA kernels each attention path runs
(``tools/analysis/benchmark.py``, docs/benchmarks.md).

* :mod:`.steps`: the token groups a benchmark step reads (:func:`tokens`) and :class:`Step`;
* :mod:`.timing`: interleaved timing, peak memory and profiler tables;
* :mod:`.cases`: the rows of a section (:class:`Case`), timed, and their ratios to a reference;
* :mod:`.flops`: FLOP counts on the manual attention path;
* :mod:`.sdpa`: which ``scaled_dot_product_attention`` kernel every attention path uses;
* :mod:`.dino_parts`: the DINO step row explained by its parts;
* :mod:`.memory`: the peak GPU memory of a DINO config, predicted from a small-batch measurement.
"""
from .cases import COMPILED, Case, add_ratios, run_cases
from .flops import count_flops, dino_step_tflop, gflops, is_fused, set_fused
from .sdpa import (SDPA_BACKENDS, RecordSDPA, attention_paths, backend_accepts, check_attention_paths,
                   sdpa_kernel_name)
from .steps import Step, loss_of, tokens
from .timing import peak_memory, profile_table, sync, time_interleaved

__all__ = ['COMPILED', 'Case', 'add_ratios', 'run_cases', 'count_flops', 'dino_step_tflop', 'gflops', 'is_fused',
           'set_fused', 'SDPA_BACKENDS', 'RecordSDPA', 'attention_paths', 'backend_accepts', 'check_attention_paths',
           'sdpa_kernel_name', 'Step', 'loss_of', 'tokens', 'peak_memory', 'profile_table', 'sync',
           'time_interleaved']
