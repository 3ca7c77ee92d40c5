"""`fakescope scan` end to end on a local Ray (slow: each test starts and stops Ray, without its
dashboard and on localhost only)."""

from __future__ import annotations

import csv
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fakescope.cli import main
from fakescope.inference.predict import Predictor
from fakescope.models.registry import load_detector
from fakescope.scan.job import ScanJob, run_scan
from fakescope.scan.ledger import ScanFolder
from fakescope.scan.rows import TIMING_COLUMNS
from fakescope.scan.session import Cluster

pytest.importorskip("ray")
pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
PROB_ATOL = 1e-6  # batches differ between runs; onnxruntime's per-image results barely move


def _table(out: Path) -> pa.Table:
    parts = ScanFolder(out).part_files()
    return pa.concat_tables(pq.read_table(p) for p in parts)


def _same_rows(got: pa.Table, expected: pa.Table) -> None:
    """Row for row equal, timing columns aside, P(fake) within PROB_ATOL."""
    assert got.num_rows == expected.num_rows
    for name in got.schema.names:
        if name in TIMING_COLUMNS:
            continue
        a, b = got.column(name).to_pylist(), expected.column(name).to_pylist()
        if name == "probability_fake":
            assert a == pytest.approx(b, abs=PROB_ATOL, nan_ok=True), name
        else:
            assert a == b, name


def _folder(tmp_path: Path, faces: Path) -> Path:
    """The synthetic faces, a corrupt file, a copy beside its original (same shard) and one at
    the end of the listing (another shard)."""
    folder = tmp_path / "in"
    shutil.copytree(faces, folder)
    (folder / "real" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    shutil.copy(folder / "real" / "face_00000.jpg", folder / "real" / "face_00000_copy.jpg")
    shutil.copy(folder / "fake" / "face_00000.jpg", folder / "real" / "zz_copy.jpg")
    return folder


def test_a_scan_scores_like_predict_and_a_rerun_skips_it(
    scan_checkpoint: Path, scan_faces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path, scan_faces)
    manifest = tmp_path / "list.csv"
    with manifest.open("w", newline="") as handle:
        csv.writer(handle).writerows([["path"], [str(folder / "fake" / "face_00001.jpg")],
                                      [str(tmp_path / "gone.jpg")]])
    job = ScanJob((str(folder), str(manifest)), str(scan_checkpoint), str(tmp_path / "out"),
                  shard_size=8, batch_size=4, cluster=Cluster(workers=2))
    result = run_scan(job)
    table = _table(tmp_path / "out")
    rows = {r["path"]: r for r in table.to_pylist()}
    assert result.rows == table.num_rows == 12 + 12 + 3 + 1  # the manifest's face is listed once
    assert result.backend == "onnx" and set(table.column("backend").to_pylist()) == {"onnx"}
    predictor = Predictor(load_detector(scan_checkpoint), backend="torch")
    scored = [r for r in rows.values() if r["probability_fake"] is not None]
    expected = predictor.predict_paths([r["path"] for r in scored])
    for row, want in zip(scored, expected, strict=True):
        assert want.prediction is not None
        assert row["probability_fake"] == pytest.approx(want.prediction.probability_fake, abs=1e-4)
    broken, gone = rows[str(folder / "real" / "broken.jpg")], rows[str(tmp_path / "gone.jpg")]
    assert "broken.jpg: " in broken["error"] and broken["sha256"] and broken["decision"]
    assert gone["error"].endswith("gone.jpg: file not found") and gone["size"] is None
    copy = rows[str(folder / "real" / "face_00000_copy.jpg")]
    original = rows[str(folder / "real" / "face_00000.jpg")]
    assert copy["duplicate_of"] == original["path"] and copy["shard"] == original["shard"]
    assert copy["probability_fake"] == original["probability_fake"]
    cross = rows[str(folder / "real" / "zz_copy.jpg")]  # its first file is in the first shard
    first = rows[str(folder / "fake" / "face_00000.jpg")]
    assert cross["duplicate_of"] == first["path"] and cross["shard"] > first["shard"]
    assert cross["sha256"] == first["sha256"] and cross["shard"] == result.shards - 1
    for name in ("probability_fake", "verdict", "decision", "provenance", "backend"):
        assert cross[name] == first[name], name
    assert result.summary["duplicates_scored_once"] == 2 and result.summary["errors"] == 2
    assert result.summary["batch_size"] == {"4": result.shards}  # --batch-size: no probe
    again = run_scan(job)
    assert (again.skipped, again.written, again.rows) == (result.shards, 0, result.rows)
    # --resume reads the inputs and checkpoint from the folder
    assert main(["scan", "--resume", "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert f"({result.shards} finished before, 0 now)" in capsys.readouterr().out
    _opens_in_chromium(tmp_path / "out" / "summary.html")


def _opens_in_chromium(page_path: Path) -> None:
    if not CHROMIUM.exists():
        return
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(page_path.as_uri())
            assert "28 files, 26 scored, 2 failed" in page.locator("#totals").inner_text()
            assert page.locator("svg rect").count() == 20
            assert page.locator("text=likely-real").count() + page.locator(
                "text=likely-generated").count() >= 1
        finally:
            browser.close()


def _scan_command(folder: Path, checkpoint: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "fakescope", "scan", str(folder), "--checkpoint",
            str(checkpoint), "--out", str(out), "--shard-size", "2", "--workers", "2",
            "--quiet"]  # no --batch-size: the actors probe for one


def _add_noise_pictures(folder: Path, count: int) -> None:
    """Distinct small pictures, so that a scan lasts long enough to be killed in its middle."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(count):
        pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "real" / f"noise_{i:03d}.jpg")


def test_kill_9_then_resume_gives_the_uninterrupted_table(
    scan_checkpoint: Path, scan_faces: Path, tmp_path: Path
) -> None:
    folder = _folder(tmp_path, scan_faces)
    # 27 files in 14 shards finished within 0.3 s of the first shard on an idle machine, so
    # the kill found nothing left to interrupt: 100 more files give 64 shards.
    _add_noise_pictures(folder, 100)
    rows, shards = 127, 64
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    killed = tmp_path / "killed"
    ledger = killed / "ledger.jsonl"
    scan = subprocess.Popen(_scan_command(folder, scan_checkpoint, killed), env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    delay = random.uniform(0.0, 0.3)
    try:
        deadline = time.monotonic() + 240
        while not (ledger.is_file() and ledger.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(delay)
    finally:  # the command, its Ray and its workers: everything in its process group
        os.killpg(scan.pid, signal.SIGKILL)
        scan.wait()
    # On a loaded machine the kill may land before the first shard is durable (then every shard
    # is redone) or after several: either way the resumed table must equal the whole one.
    finished = len(ScanFolder(killed).finished())
    assert finished < shards, f"killed {delay:.2f} s after the first shard: {finished} done"
    assert (killed / "duplicates.json").is_file()  # the hash pass is not redone
    subprocess.run(_scan_command(folder, scan_checkpoint, killed), env=env, check=True,
                   timeout=300, capture_output=True)
    whole = tmp_path / "whole"
    subprocess.run(_scan_command(folder, scan_checkpoint, whole), env=env, check=True,
                   timeout=300, capture_output=True)
    _same_rows(_table(killed), _table(whole))
    assert _table(whole).num_rows == rows


def test_two_nodes_both_score_and_merge_to_the_one_node_table(
    scan_checkpoint: Path, scan_faces: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ray
    import ray._private.ray_constants as ray_constants
    from ray.cluster_utils import Cluster as RayCluster

    # Both nodes on the loopback address: without this, ray.init turns 127.0.0.1 into the
    # machine's network address, where the nodes do not listen.
    monkeypatch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)

    # 3 CPUs per node and 2 per actor: exactly one actor fits on each node. The scan waits for
    # both actors and gives each one shard at a time, so both score from the first round on.
    local = {"node_ip_address": "127.0.0.1", "include_dashboard": False}
    cluster = RayCluster(initialize_head=True, head_node_args={"num_cpus": 3, **local})
    worker = cluster.add_node(num_cpus=3, **local)
    two = tmp_path / "two"
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        job = ScanJob((str(scan_faces),), str(scan_checkpoint), str(two), shard_size=4,
                      batch_size=2, cluster=Cluster(actors=2, actor_threads=2))
        result = run_scan(job)
        node_ids = {ray.get_runtime_context().get_node_id(), worker.node_id}
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert set(_table(two).column("node").to_pylist()) == node_ids
    assert len(result.summary["nodes"]) == 2
    one = run_scan(ScanJob((str(scan_faces),), str(scan_checkpoint), str(tmp_path / "one"),
                           shard_size=4, batch_size=2, cluster=Cluster(workers=2)))
    assert one.rows == result.rows == 24
    _same_rows(_table(two), _table(tmp_path / "one"))
