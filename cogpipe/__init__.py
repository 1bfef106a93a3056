"""cogpipe: a runtime for cognitive LLM pipelines written as YAML graphs.
"""
