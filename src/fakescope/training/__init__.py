"""The training skeleton every trainer is built on (the GAN's and the detector's today).

    session.py   seeding, backends, torchrun session, run folder, `train.log`, speed settings
    budget.py    the time budget (`train.max_minutes` on the `train.budget_clock`)
    signals.py   Ctrl-C/SIGTERM as stop requests
    loop.py      the epoch loop: steps, stop requests, budget, end of epoch, interruption

A trainer supplies its state (a `TrainState` extending `Counters`) and the `EpochTrainer`
methods: the batches of the current epoch, one step, the end of an epoch, the checkpoint written
when a signal stops it. `run_epochs` decides when each is called, the same way for every trainer.
"""
