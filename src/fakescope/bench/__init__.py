"""`fakescope bench`: the papers' plain pipelines and fakescope's, measured side by side.

One run on the current machine times both pipelines in alternating turns (`timing`), for each
area a suite covers (`suites`: data loading, GAN and detector training steps, inference, serving),
against the plain recipes the papers use (`baselines`, `dcgan_example`, `plain_server`), and
writes the ratios with the machine they were taken on (`table`, `machine`):

    report = runner.run_bench(settings.full_settings(), ["data", "gan"], work=Path("/tmp/x"))
    report.write(Path("bench"))

Nothing heavy is imported here, so the command line can list the areas cheaply.
"""

AREAS = ("data", "gan", "detect", "inference", "serve")
