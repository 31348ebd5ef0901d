"""The generated C on an emulated Cortex-M4 (arm-none-eabi-gcc + qemu-system-arm), talking through the real
UART protocol and the real pyserial bridge: parity with the host build, size and speed, protocol faults,
and the closed loop (the MuJoCo task driven by the firmware)."""
import socket
import time

import numpy as np
import pytest

from roboloop.envs import make_env
from roboloop.hardware.firmware_build import build_firmware
from roboloop.hardware.mcu_bridge import ERROR, OBS, MCUBridge, MCUError, MCUPolicy, encode_frame
from roboloop.hardware.qemu import QemuBoard
from roboloop.policies.evaluate import evaluate

from .conftest import EVAL_EPISODES, EVAL_SEED, max_err, needs_arm

pytestmark = needs_arm
BOARDS = ["mps2-an386", "netduinoplus2"]


@pytest.fixture(scope="session")
def firmware(c_policies, tmp_path_factory):
    """{(quant, board): Firmware}"""
    out = tmp_path_factory.mktemp("firmware")
    return {(q, b): build_firmware(c_policies[q][0] / "policy.c", b, out / f"{q}-{b}")
            for q in ("none", "int8") for b in BOARDS}


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("quant", ["none", "int8"])
def test_qemu_outputs_equal_the_host_build(firmware, c_policies, recorded_obs, board, quant):
    obs = recorded_obs["state"][:1000]
    host, _ = c_policies[quant][1](obs)
    with QemuBoard(firmware[quant, board].elf, board, icount=False) as url, MCUBridge(url) as bridge:
        info = bridge.hello()
        assert (info.obs_dim, info.act_dim, info.int8) == (13, 4, quant == "int8")
        got = np.stack([bridge.step(o)[0] for o in obs])
    # -ffp-contract=off on both sides and VMLA (not fused) on the M4: the very same bits.
    assert max_err(got, host) == 0.0


@pytest.mark.parametrize("quant,max_flash,max_insns", [("none", 24 * 1024, 25_000), ("int8", 8 * 1024, 19_000)])
def test_size_and_instruction_count_of_a_2x64_actor(firmware, quant, max_flash, max_insns):
    fw = firmware[quant, "mps2-an386"]
    assert fw.policy_size.flash <= max_flash, fw.policy_size
    assert fw.policy_size.ram <= 1024, fw.policy_size
    with QemuBoard(fw.elf, "mps2-an386", icount=True) as url, MCUBridge(url) as bridge:
        b = bridge.bench(50)
    # icount shift=0: 1 instruction = 1 ns of virtual time = 0.025 ticks of the 25 MHz SysTick; the firmware's
    # calibration loop of known length must see exactly that, or the method is broken.
    assert b["ticks_per_instruction"] == pytest.approx(0.025, rel=1e-3)
    assert 2_000 < b["instructions"] <= max_insns, b


def test_protocol_faults_get_clear_answers(firmware):
    with QemuBoard(firmware["none", "netduinoplus2"].elf, "netduinoplus2", icount=False) as url, \
            MCUBridge(url, timeout_s=5.0) as bridge:
        # garbage on the line, then a valid frame: the parser resynchronizes
        bridge.port.write(b"\x00\xa5\x13\x37garbage\xa5")
        assert bridge.hello().obs_dim == 13
        # a corrupted frame (flipped bit) is answered with ERROR "bad checksum", not acted upon
        frame = bytearray(encode_frame(OBS, 7, np.zeros(13, "<f4").tobytes()))
        frame[10] ^= 0x40
        bridge.port.write(bytes(frame))
        ftype, seq, payload = bridge._read_frame(deadline=time.monotonic() + 5)
        assert (ftype, seq, payload[0]) == (ERROR, 7, 1)
        # wrong payload length and unknown type are refused with the reason named
        with pytest.raises(MCUError, match="bad payload length"):
            bridge.request(OBS, b"\x00" * 8, 0x82)
        with pytest.raises(MCUError, match="unknown frame type"):
            bridge.request(0x42, b"", 0x82)
        # a NaN observation: the firmware reports it and zeroes the action; the actor raises (robot stops)
        act, status = bridge.step(np.full(13, np.nan))
        assert status == 1 and np.all(act == 0)
        with pytest.raises(MCUError, match="NaN"):
            MCUPolicy(bridge)({"state": np.full(13, np.nan, np.float32)})
        with pytest.raises(MCUError, match="observation size 13, this task needs 10"):
            MCUPolicy(bridge, expect_obs_dim=10)
        assert bridge.hello().protocol == 1  # still answering after all that


def test_silent_port_times_out_as_a_fault():
    with socket.socket() as server:  # a TCP "serial port" where nobody answers
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with MCUBridge(f"socket://127.0.0.1:{server.getsockname()[1]}", timeout_s=0.3) as bridge:
            with pytest.raises(MCUError, match="no reply within 0.3 s"):
                bridge.hello()


def test_closed_loop_firmware_in_qemu_matches_pytorch(firmware, reach_checkpoint):
    """Reach driven through the host bridge by the firmware on the emulated STM32F405 (the Crazyflie MCU)."""
    from roboloop.policies.train_loop import load_agent
    env = make_env("Reach", {"reward_type": "dense"})
    agent, _, _ = load_agent(reach_checkpoint, env)
    torch_result = evaluate(lambda o: agent.act(o, deterministic=True), env, EVAL_EPISODES, EVAL_SEED)
    assert torch_result.success_rate >= 0.8, torch_result
    rates = {}
    for quant in ("none", "int8"):
        with QemuBoard(firmware[quant, "netduinoplus2"].elf, "netduinoplus2", icount=False) as url, \
                MCUBridge(url) as bridge:
            policy = MCUPolicy(bridge, expect_obs_dim=13, expect_act_dim=4)
            rates[quant] = evaluate(policy, env, EVAL_EPISODES, EVAL_SEED)
    assert rates["none"].success_rate == torch_result.success_rate, (rates, torch_result)
    assert abs(rates["int8"].success_rate - rates["none"].success_rate) <= 0.05, rates
