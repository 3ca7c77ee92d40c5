"""Files a demo folder holds beside its runs: the demo writes them, the report reads them."""

DEMO_MARKER = "demo_config.json"  # the demo's settings; its presence marks a demo folder
TIMINGS_FILE = "demo_timings.json"  # {"stage_seconds": {stage: seconds}}
