"""Figures and the self-contained HTML run report, drawn from results already written
(running the evaluations is `fakescope.workflows.evaluation`'s job).

    plots        figures of evaluations, comparisons, robustness sweeps and training logs
    html         one self-contained HTML page for a run folder that opens offline
    summary      the report's opening summary and glossary
    xgen         the cross-generator matrix as a heatmap
"""
