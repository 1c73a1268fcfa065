"""What a loaded zhie pipeline needs: the label schema, layout cleaning, money
values, the architectures, the relation extractor and its scorer, and the
event assembler. Imports nothing from ``pipeline.training`` or ``pipeline.app``.
"""
