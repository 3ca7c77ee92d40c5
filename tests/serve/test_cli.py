"""`fakescope serve`: flags reach the app, bad checkpoints and settings fail in one line, and
a checkpoint carrying pickled code is refused without running it."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient

from fakescope.checkpoints import FORMAT_VERSION
from fakescope.cli import build_parser, main
from fakescope.inference.decision_policy import DEFAULT_POLICY, DecisionPolicy
from fakescope.models.registry import build_detector, save_detector
from fakescope.serve.server import GuardedH11Protocol, InFlightLimit


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Stands in for uvicorn's Server.run, keeping the app and config it was given."""
    seen: dict[str, Any] = {}

    def fake_run(server: Any, sockets: list[socket.socket]) -> None:
        seen["app"], seen["config"], seen["sockets"] = server.config.app, server.config, sockets

    monkeypatch.setattr("uvicorn.Server.run", fake_run)
    return seen


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("fakescope: error:") and "\n" not in err and "Traceback" not in err
    return err


def test_defaults_listen_on_loopback_only() -> None:
    args = build_parser().parse_args(["serve", "--checkpoint", "m.pt"])
    assert (args.host, args.port) == ("127.0.0.1", 8000)
    assert args.api_key_env is None and args.cors_origin == []


def test_flags_reach_the_app(captured: dict[str, Any], tiny_checkpoint: Path,
                             monkeypatch: pytest.MonkeyPatch,
                             image_bytes: Any) -> None:
    monkeypatch.setenv("SERVE_TEST_KEY", "k3y")
    code = main(["serve", "--checkpoint", str(tiny_checkpoint), "--port", "8123", "--threads", "1",
                 "--max-upload-mb", "0.5", "--max-batch-files", "3", "--api-key-env",
                 "SERVE_TEST_KEY", "--cors-origin", "http://localhost:3000", "--face-crop",
                 "--limit-concurrency", "10"])
    assert code == 0
    config = captured["config"]
    assert config.port == 8123 and config.host == "127.0.0.1"
    assert captured["sockets"][0].fileno() == -1  # closed once the server returned
    assert config.limit_concurrency is None  # uvicorn's would count idle connections
    limits = [m for m in captured["app"].user_middleware if m.cls is InFlightLimit]
    assert [m.kwargs["limit"] for m in limits] == [10]
    assert issubclass(config.http, GuardedH11Protocol) and config.http.header_timeout_s == 10
    settings = captured["app"].state.settings
    assert settings.max_upload_bytes == 512 * 1024 and settings.max_batch_files == 3
    assert settings.api_key == "k3y" and settings.face_crop is True
    assert settings.cors_origins == ("http://localhost:3000",)
    with TestClient(captured["app"]) as client:
        files = {"file": ("a.png", image_bytes(), "image/png")}
        assert client.post("/api/predict", files=files).status_code == 401
        ok = client.post("/api/predict", files=files, headers={"X-API-Key": "k3y"})
        assert ok.status_code == 200 and ok.json()["model"] == "dcgan_disc64"


def test_face_crop_follows_the_training_config_by_default(
    captured: dict[str, Any], tmp_path: Path
) -> None:
    model = build_detector("dcgan_disc64", base_width=8)
    path = tmp_path / "cropped.pt"
    save_detector(path, model, "dcgan_disc64", {"base_width": 8}, model.input_spec,
                  extra={"config": {"data": {"face_crop": True}}})
    assert main(["serve", "--checkpoint", str(path), "--threads", "1"]) == 0
    assert captured["app"].state.settings.face_crop is True
    assert main(["serve", "--checkpoint", str(path), "--threads", "1", "--no-face-crop"]) == 0
    assert captured["app"].state.settings.face_crop is False


def test_a_missing_checkpoint_is_one_line(captured: dict[str, Any], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--checkpoint", str(tmp_path / "nope.pt")]) == 2
    assert "not found" in one_line_error(capsys) and "app" not in captured


def test_without_a_checkpoint_it_serves_the_demos_recommended_detector(
    captured: dict[str, Any], tiny_checkpoint: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["serve", "--threads", "1"]) == 2
    err = one_line_error(capsys)
    assert "runs/demo/detectors/lite0_probe/checkpoints/best.pt" in err and "fakescope demo" in err
    assert "app" not in captured
    default = tmp_path / "runs" / "demo" / "detectors" / "lite0_probe" / "checkpoints" / "best.pt"
    default.parent.mkdir(parents=True)
    default.write_bytes(tiny_checkpoint.read_bytes())
    assert main(["serve", "--threads", "1"]) == 0
    assert "from runs/demo/detectors/lite0_probe/checkpoints/best.pt" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_a_bad_port_is_one_line(captured: dict[str, Any], tiny_checkpoint: Path,
                                capsys: pytest.CaptureFixture[str], port: str) -> None:
    with pytest.raises(SystemExit) as refused:  # at parse time, before anything is loaded
        main(["serve", "--checkpoint", str(tiny_checkpoint), "--port", port])
    assert refused.value.code == 2 and "app" not in captured
    assert "argument --port: must be from 0 to 65535" in capsys.readouterr().err


def test_a_port_in_use_is_one_line(captured: dict[str, Any], tiny_checkpoint: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert main(["serve", "--checkpoint", str(tiny_checkpoint), "--port", port]) == 2
    assert "cannot listen on 127.0.0.1:" in one_line_error(capsys) and "app" not in captured


def test_an_unset_api_key_variable_is_refused(captured: dict[str, Any], tiny_checkpoint: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVE_TEST_MISSING", raising=False)
    args = ["serve", "--checkpoint", str(tiny_checkpoint), "--api-key-env", "SERVE_TEST_MISSING"]
    assert main(args) == 2
    assert "SERVE_TEST_MISSING" in one_line_error(capsys) and "app" not in captured


def test_the_decision_policy_is_a_flag_or_a_setting(
    captured: dict[str, Any], tiny_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["serve", "--checkpoint", str(tiny_checkpoint), "--threads", "1"]
    assert main(base) == 0
    assert captured["app"].state.settings.decision_policy == DEFAULT_POLICY
    assert main([*base, "--decision-policy",
                 "trust_unsigned_generated=no,capture_review_from=unsigned"]) == 0
    policy = captured["app"].state.settings.decision_policy
    assert policy == DecisionPolicy(False, "unsigned", "never")
    assert main([*base, "--set", "decision_policy.capture_override_from=trusted"]) == 0
    assert captured["app"].state.settings.decision_policy.capture_override_from == "trusted"
    with TestClient(captured["app"]) as client:
        info = client.get("/api/models").json()["models"][0]
    assert info["decision_policy"]["capture_override_from"] == "trusted"
    del captured["app"]
    capsys.readouterr()
    assert main([*base, "--decision-policy", "capture_review_from=sometimes"]) == 2
    assert "capture_review_from must be one of" in one_line_error(capsys)
    assert main([*base, "--set", "decision_policy.capture_review_from=sometimes"]) == 2
    assert "capture_review_from" in one_line_error(capsys) and "app" not in captured


class RunsCode:
    """Unpickling this would create `marker`: what a hostile checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def test_a_checkpoint_with_pickled_code_is_refused_without_running_it(
    captured: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "pwned"
    hostile = tmp_path / "hostile.pt"
    payload = {"format_version": FORMAT_VERSION, "kind": "detector",
               "payload": RunsCode(marker)}
    torch.save(payload, hostile)
    assert main(["serve", "--checkpoint", str(hostile), "--threads", "1"]) == 2
    assert "cannot read checkpoint" in one_line_error(capsys)
    assert not marker.exists() and "app" not in captured
