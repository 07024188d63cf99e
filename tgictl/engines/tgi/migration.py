"""Moving a spec to TGI: where its flags mean nearly, not exactly, what a field means.

`tgictl migrate` reports these fields as "approximate", with the note.
"""

APPROXIMATE: dict[str, str] = {
    "serving.max_total_tokens": "TGI also needs maxInputTokens < maxTotalTokens; it plans the input limit when unset",
}
