"""The API's answers as attrs models, one module per API area.

Each module's names are re-exported from ``mindo_async``; import them from there.
"""
