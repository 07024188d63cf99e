"""The model types TGI's pinned server (3.3.5) loads, and how: read from
``server/text_generation_server/models/__init__.py`` at tag v3.3.5 (``get_model``)
and transformers 4.51.3 (``server/requirements_cuda.txt:354`` pins it), whose
``models/auto/modeling_auto.py`` mappings are the fallback.

- A type with a branch of its own (the ``ModelType`` entries, plus the strings
  ``get_model`` compares directly) is served by TGI's own code.
- Any other type goes to transformers: a ``MODEL_FOR_CAUSAL_LM_MAPPING_NAMES``
  class (TransformersFlashCausalLM on a GPU when the class is backend-compatible,
  else CausalLM, which cannot be sharded), then a ``…SEQ_TO_SEQ…`` one (never
  sharded), else ``ValueError: Unsupported model type …``. Before that fallback
  gptq, awq, 4-bit bitsandbytes, eetq and exl2 raise "… is not supported for AutoModel".
"""

from __future__ import annotations

VERSION = "3.3.5"
TRANSFORMERS = "4.51.3"

# Branches of get_model: the ModelType "type" strings, and the types compared as plain strings
# (RefinedWeb*, phi-msft, ssm and the speculators, whose own config names the base model).
OWN = frozenset({
    "RefinedWeb", "RefinedWebModel", "baichuan", "bloom", "cohere", "dbrx", "deepseek_v2", "deepseek_v3", "falcon",
    "galactica", "gemma", "gemma2", "gemma3", "gemma3_text", "gpt2", "gpt_bigcode", "gpt_neox", "gptj", "granite",
    "idefics", "idefics2", "idefics3", "llama", "llama4", "llava_next", "mamba", "medusa", "mistral", "mixtral",
    "mllama", "mlp_speculator", "mpt", "opt", "paligemma", "phi", "phi-msft", "phi3", "phimoe", "qwen2", "qwen2_5_vl",
    "qwen2_vl", "santacoder", "ssm", "starcoder2", "t5"
})

# transformers 4.51.3: MODEL_FOR_CAUSAL_LM_MAPPING_NAMES' keys.
TRANSFORMERS_CAUSAL_LM = frozenset({
    "aria_text", "bamba", "bart", "bert", "bert-generation", "big_bird", "bigbird_pegasus", "biogpt", "blenderbot",
    "blenderbot-small", "bloom", "camembert", "code_llama", "codegen", "cohere", "cohere2", "cpmant", "ctrl",
    "data2vec-text", "dbrx", "deepseek_v3", "diffllama", "electra", "emu3", "ernie", "falcon", "falcon_mamba", "fuyu",
    "gemma", "gemma2", "gemma3", "gemma3_text", "git", "glm", "glm4", "got_ocr2", "gpt-sw3", "gpt2", "gpt_bigcode",
    "gpt_neo", "gpt_neox", "gpt_neox_japanese", "gptj", "granite", "granitemoe", "granitemoeshared", "helium", "jamba",
    "jetmoe", "llama", "llama4", "llama4_text", "mamba", "mamba2", "marian", "mbart", "mega", "megatron-bert",
    "mistral", "mixtral", "mllama", "moshi", "mpt", "musicgen", "musicgen_melody", "mvp", "nemotron", "olmo", "olmo2",
    "olmoe", "open-llama", "openai-gpt", "opt", "pegasus", "persimmon", "phi", "phi3", "phi4_multimodal", "phimoe",
    "plbart", "prophetnet", "qdqbert", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "recurrent_gemma", "reformer",
    "rembert", "roberta", "roberta-prelayernorm", "roc_bert", "roformer", "rwkv", "speech_to_text_2", "stablelm",
    "starcoder2", "transfo-xl", "trocr", "whisper", "xglm", "xlm", "xlm-prophetnet", "xlm-roberta", "xlm-roberta-xl",
    "xlnet", "xmod", "zamba", "zamba2"
})

# transformers 4.51.3: MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES' keys.
TRANSFORMERS_SEQ2SEQ = frozenset({
    "bart", "bigbird_pegasus", "blenderbot", "blenderbot-small", "encoder-decoder", "fsmt", "gptsan-japanese", "led",
    "longt5", "m2m_100", "marian", "mbart", "mt5", "mvp", "nllb-moe", "pegasus", "pegasus_x", "plbart", "prophetnet",
    "qwen2_audio", "seamless_m4t", "seamless_m4t_v2", "switch_transformers", "t5", "umt5", "xlm-prophetnet"
})

# Quantizations get_model refuses before the transformers fallback, with its words.
NOT_FOR_AUTOMODEL = {
    "gptq": "gptq quantization is not supported for AutoModel",
    "awq": "awq quantization is not supported for AutoModel",
    "bitsandbytes-fp4": "4bit quantization is not supported for AutoModel",
    "bitsandbytes-nf4": "4bit quantization is not supported for AutoModel",
    "eetq": "Eetq quantization is not supported for AutoModel",
    "exl2": "exl2 quantization is not supported for AutoModel",
}
# The checkpoint's quant_method get_model takes as quantize when the launcher is given none.
AUTO_SELECTED = {"gptq": "gptq", "awq": "awq", "exl2": "exl2", "fbgemm_fp8": "fp8", "fp8": "fp8",
                 "compressed-tensors": "compressed-tensors"}
