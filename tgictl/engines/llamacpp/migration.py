"""Moving a spec to llama.cpp: where its flags mean nearly, not exactly, what a field means.

`tgictl migrate` reports these fields as "approximate", with the note.
"""

APPROXIMATE: dict[str, str] = {
    "model.id": "llama.cpp loads GGUF: point model.id at a GGUF repo (with model.ggufFile) or a .gguf path",
    "serving.max_total_tokens": "becomes the per-slot context: --ctx-size = maxTotalTokens x slots",
    "serving.max_concurrent_requests": "becomes --parallel slots: requests past them wait instead of getting 429",
    "serving.max_batch_size": "becomes --parallel slots",
    "serving.max_batch_prefill_tokens": "becomes --batch-size, llama.cpp's logical batch",
    "hardware.accelerator": "llama.cpp splits layers (not tensors) over several GPUs",
    "serving.graceful_termination_seconds": "llama-server cannot drain after SIGTERM: in-flight streams get this long (max 30 s) "
                                            "in the preStop sleep, before the signal",
}
