"""The application: the ``zhie`` CLI, archive reading, the annotate runner,
reports, timelines, evaluation and shipping models. Imports every other layer.
"""
