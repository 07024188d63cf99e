"""Moving a spec to vLLM: where its flags mean nearly, not exactly, what a field means.

`tgictl migrate` reports these fields as "approximate", with the note.
"""

APPROXIMATE: dict[str, str] = {
    "serving.max_batch_prefill_tokens": "--max-num-batched-tokens caps all tokens in a step, decode included, not only prefill",
    "serving.cuda_memory_fraction": "--gpu-memory-utilization bounds everything vLLM allocates; TGI's fraction only bounds what its KV "
                                    "budget may take",
    "serving.max_batch_size": "--max-num-seqs bounds running sequences; requests past it wait in vLLM's queue",
    "serving.quantize": "vLLM's kernel for this format may differ from TGI's (e.g. marlin → gptq_marlin)",
    "serving.max_concurrent_requests": "--max-num-queued-reqs (vLLM 0.29+) counts waiting and running requests as TGI does, but "
                                       "answers 503 where TGI answers 429",
    "features.attention": "--attention-backend picks vLLM's own flashinfer integration",
    "serving.graceful_termination_seconds": "--shutdown-timeout: after SIGTERM vLLM finishes in-flight requests for this long, "
                                            "then stops; TGI's launcher gives its router and then its shards this long each",
}
