"""Evaluations written out with their figures, and the self-contained HTML run report.

    evaluation   evaluations run and written out with their plots (`eval`, `compare`, ...)
    plots        figures of evaluations, comparisons, robustness sweeps and training logs
    html         one self-contained HTML page for a run folder that opens offline
    xgen         the cross-generator matrix as a heatmap
    demo_files   the files a demo folder holds beside its runs
"""
