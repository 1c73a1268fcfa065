"""Building training data and backbones: the shared corpora, relation corpora,
the project's gold corpus tools, DocBin conversion and the offline backbone.
Imports ``pipeline.components`` and the leaf modules only.
"""
