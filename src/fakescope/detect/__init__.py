"""Detector training (`train_detector`) and hyper-parameter search (`run_search`)."""
