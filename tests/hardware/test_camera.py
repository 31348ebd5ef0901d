"""hardware.camera.Camera reads real video through OpenCV; bad sources are clear errors."""
import cv2
import numpy as np
import pytest

from roboloop.hardware.camera import Camera, CameraError, parse_source


def make_video(path, n=6, size=(80, 60)):
    """An MJPG video whose frame i is a flat colour (R = 40 * i, G = 200, B = 10)."""
    w, h = size
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (w, h))
    assert out.isOpened()
    for i in range(n):
        out.write(np.full((h, w, 3), (10, 200, 40 * i), np.uint8))  # BGR
    out.release()
    return path


def test_reads_resizes_to_rgb_and_loops(tmp_path):
    cam = Camera(str(make_video(tmp_path / "v.avi")), width=32, height=24)
    frames = [cam.read() for _ in range(8)]  # 6 frames, then the file loops
    assert all(f.shape == (24, 32, 3) and f.dtype == np.uint8 for f in frames)
    reds = [int(f[..., 0].mean()) for f in frames]
    assert reds[:6] == pytest.approx([0, 40, 80, 120, 160, 200], abs=6)  # RGB order, in sequence
    assert reds[6] == pytest.approx(0, abs=6)
    assert abs(int(frames[0][..., 1].mean()) - 200) < 6 and cam.failures == 0
    cam.close()


def test_no_loop_returns_none_at_the_end(tmp_path):
    cam = Camera(str(make_video(tmp_path / "v.avi", n=2)), loop=False)
    assert cam.read().shape == (60, 80, 3) and cam.read() is not None
    assert cam.read() is None and cam.failures == 1


def test_missing_sources_are_named(tmp_path):
    with pytest.raises(CameraError, match="no such file"):
        Camera(str(tmp_path / "nope.mp4"))
    with pytest.raises(CameraError, match=r"cannot open camera source 57 \(video devices present: "):
        Camera(57)
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    with pytest.raises(CameraError, match="cannot open camera source"):
        Camera(str(tmp_path / "junk.mp4"))
    assert parse_source("3") == 3 and parse_source("rtsp://cam/1") == "rtsp://cam/1"
