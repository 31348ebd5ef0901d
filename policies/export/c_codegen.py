"""Our own ONNX -> C99 generator for MLP actors: one `.c/.h` pair, no malloc, no stdio, no libm.

    int <name>_step(const float *obs, float *act);   obs (OBS_DIM,) -> act (ACT_DIM,); 0 on success

Two variants:
  float32  weights as exact C99 hex-float constants, one dense kernel (4x unrolled dot products).
  int8     symmetric per-output-channel int8 weights, w ~= w_q * w_scale[o]; each layer's input is
           quantized at run time to int16 with one per-tensor scale (max |x| / q_max, q_max chosen so
           the int32 accumulator cannot overflow); int32 accumulation, then y = acc * x_scale * w_scale[o]
           + b[o] in float. On Cortex-M4/M7 (__ARM_FEATURE_DSP) the dot product uses SXTB16 + SMLAD, two
           multiply-accumulates per instruction; elsewhere the same packed layout is read in plain C, so
           host and microcontroller compute the same integers.
tanh and sigmoid are computed by our own exp (range reduction + degree-6 polynomial, |err| < 2e-7),
so the file needs nothing but <stdint.h>. Compile with -ffp-contract=off to get bit-identical
results on every target (otherwise FMA contraction changes the last bit).
"""
from __future__ import annotations

import hashlib
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from roboloop.policies.export.mlp_graph import MLP, Activation, Affine, Dense, load_onnx, parse_mlp
from roboloop.policies.export.onnx_export import ExportError

INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class Target:
    """A deployment target: its memory (bytes) and how we compile for it."""
    name: str
    flash: int | None
    ram: int | None
    description: str


TARGETS = {
    "host": Target("host", None, None, "any C99 compiler (tests, robot computers)"),
    "cortex-m4": Target("cortex-m4", 256 * 1024, 64 * 1024, "generic Cortex-M4F (256 KiB flash, 64 KiB RAM)"),
    "stm32f405": Target("stm32f405", 1024 * 1024, 128 * 1024, "STM32F405 (Crazyflie 2.x): 1 MiB flash, 128 KiB SRAM"),
    "cortex-m7": Target("cortex-m7", 1024 * 1024, 256 * 1024, "generic Cortex-M7 (1 MiB flash, 256 KiB RAM)"),
}
QUANT_MODES = ("none", "int8")
# Bytes the generated functions themselves take on a Cortex-M4 at -O2 (measured with arm-none-eabi-size,
# rounded up); the weights and buffers are counted exactly.
CODE_BYTES = {"none": 900, "int8": 1300}


@dataclass
class CSource:
    name: str
    quant: str
    c_text: str
    h_text: str
    flash_bytes: int          # estimate: const data (exact) + code (CODE_BYTES)
    ram_bytes: int            # static buffers (exact); the call itself needs < 64 bytes of stack
    mlp: MLP

    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        c, h = out / f"{self.name}.c", out / f"{self.name}.h"
        c.write_text(self.c_text)
        h.write_text(self.h_text)
        return c, h


# ------------------------------------------------------------------------------------------ quantization
@dataclass
class QuantDense:
    words: np.ndarray         # (out, in_pad / 4) uint32: int8 weights packed [w0, w2, w1, w3] per 4 inputs
    w_scale: np.ndarray       # (out,) float32
    b: np.ndarray             # (out,) float32
    n_in: int               # real inputs; the rows are padded to a multiple of 8
    q_max: int                # activation range [-q_max, q_max] (int16)
    relu: bool

    @property
    def n_in_pad(self) -> int:
        return self.words.shape[1] * 4


def quantize_dense(layer: Dense, inputs: np.ndarray | None = None) -> QuantDense:
    """Symmetric per-output-channel int8 quantization of one dense layer.

    inputs: (N, n_in) calibration inputs of this layer. Without them each weight is rounded to the
    nearest level. With them the rounding is GPTQ's (Frantar et al. 2022): the weights of a row are
    rounded one input at a time, and each rounding error is pushed onto the row's not-yet-rounded
    weights through the inverse input covariance, so the layer's *output* error on such inputs is
    what is minimized (it halves the policy's int8 error on a trained Reach actor).
    """
    w = layer.w.astype(np.float64)
    amax = np.abs(w).max(axis=1)
    scale = np.where(amax > 0, amax / 127.0, 1.0)
    if inputs is None:
        q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    else:
        x = np.asarray(inputs, np.float64)
        h = x.T @ x / len(x)
        h += 0.01 * max(float(np.mean(np.diag(h))), 1e-12) * np.eye(len(h))   # dampening: h invertible
        u = np.linalg.cholesky(np.linalg.inv(h)).T                             # upper Cholesky of h^-1
        w = w.copy()
        q = np.zeros(w.shape, np.int8)
        for j in range(w.shape[1]):
            q[:, j] = np.clip(np.rint(w[:, j] / scale), -127, 127)
            err = (w[:, j] - q[:, j] * scale) / u[j, j]
            w[:, j + 1:] -= np.outer(err, u[j, j + 1:])
    n_pad = -(-layer.n_in // 8) * 8
    q = np.pad(q, ((0, 0), (0, n_pad - layer.n_in)))
    # Byte order [w0, w2, w1, w3]: SXTB16 of the word gives (w0, w1), SXTB16 of it rotated by 8 gives (w2, w3),
    # matching the int16 activation pairs (x0, x1), (x2, x3) for SMLAD.
    g = q.reshape(q.shape[0], -1, 4)[:, :, [0, 2, 1, 3]].astype(np.uint8)
    words = (g[..., 0].astype(np.uint32) | g[..., 1].astype(np.uint32) << 8
             | g[..., 2].astype(np.uint32) << 16 | g[..., 3].astype(np.uint32) << 24)
    q_max = int(min(32767, INT32_MAX // (127 * n_pad)))
    return QuantDense(words, scale.astype(np.float32), layer.b.astype(np.float32), layer.n_in, q_max, layer.relu)


def equalize_columns(mlp: MLP) -> MLP:
    """An equivalent MLP whose dense layers have every input column's max |w| equal to 1.

    Per-output-channel int8 weights spend their 255 levels on each row's largest weight, so a row that
    mixes large and small columns (the folded observation normalization makes input columns differ by
    orders of magnitude) quantizes its small columns coarsely. Scaling column j of a layer by 1 / c_j and
    its input j by c_j computes the same function: for the first layer the input scale is a float
    Affine (n_in multiplies per step); for a layer after a fused ReLU it goes into the previous layer's
    row j and bias (ReLU(c x) = c ReLU(x) for c > 0), for free. The int16 activations have the headroom.
    """
    layers = [Dense(lay.w.astype(np.float64), lay.b.astype(np.float64), lay.relu) if isinstance(lay, Dense)
              else Affine(lay.scale.astype(np.float64), lay.shift.astype(np.float64)) if isinstance(lay, Affine)
              else lay for lay in mlp.layers]
    first = next(k for k, lay in enumerate(layers) if isinstance(lay, Dense))
    if not all(isinstance(lay, Affine) for lay in layers[:first]):
        first = -1                                                    # input passes a tanh etc.: leave it
    elif not layers[:first]:
        layers.insert(0, Affine(np.ones(mlp.obs_dim), np.zeros(mlp.obs_dim)))
        first = 1
    for k, layer in enumerate(layers):
        prev = layers[k - 1] if k > 0 else None
        if not isinstance(layer, Dense) or not (k == first or (isinstance(prev, Dense) and prev.relu)):
            continue
        c = np.abs(layer.w).max(axis=0)
        c = np.where(c > 0, c, 1.0)
        if isinstance(prev, Dense):
            prev.w, prev.b = prev.w * c[:, None], prev.b * c
        else:
            prev.scale, prev.shift = prev.scale * c, prev.shift * c
        layer.w = layer.w / c[None, :]
    for lay in layers:
        if isinstance(lay, Dense):
            lay.w, lay.b = lay.w.astype(np.float32), lay.b.astype(np.float32)
        elif isinstance(lay, Affine):
            lay.scale, lay.shift = lay.scale.astype(np.float32), lay.shift.astype(np.float32)
    return MLP(mlp.obs_dim, mlp.act_dim, layers, mlp.input_name, mlp.output_name, dict(mlp.metadata))


# ------------------------------------------------------------------------------------------ C emission
def _hexf(v: float) -> str:
    """Exact C99 hex-float literal of a float32 value."""
    v = float(np.float32(v))
    if v == 0.0:
        return "0.0f" if struct.pack("<f", v) == b"\0\0\0\0" else "-0.0f"
    return v.hex() + "f"


def _array(ctype: str, name: str, values, fmt, per_line: int = 8) -> str:
    vals = [fmt(v) for v in np.asarray(values).reshape(-1)]
    lines = [", ".join(vals[i:i + per_line]) for i in range(0, len(vals), per_line)]
    return f"static const {ctype} {name}[{len(vals)}] = {{\n    " + ",\n    ".join(lines) + "\n};\n"


_IS_FINITE = r"""
static int is_finite(float x) { return x == x && x - x == 0.0f; }
"""

_EXP = r"""
/* exp(y) for y <= 88 without libm: y = k ln2 + r, |r| <= ln2/2, exp(r) by a degree-6 Taylor polynomial. */
static float exp_approx(float y)
{
    union { float f; uint32_t u; } p2;
    float r, p;
    int k;
    if (y < -87.0f) return 0.0f;
    k = (int)(y * 1.44269504f + (y >= 0.0f ? 0.5f : -0.5f));
    r = (y - (float)k * 0.693145752f) - (float)k * 1.42860677e-06f;
    p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666667f + r * (0.0416666667f + r * (0.00833333333f + r * 0.00138888889f)))));
    p2.u = (uint32_t)(k + 127) << 23;
    return p * p2.f;
}
"""

_TANH = r"""
static float tanh_approx(float x)
{
    float a = x < 0.0f ? -x : x, t;
    if (a > 9.0f) return x < 0.0f ? -1.0f : 1.0f;
    t = 1.0f - 2.0f / (exp_approx(2.0f * a) + 1.0f);
    return x < 0.0f ? -t : t;
}
"""

_SIGMOID = r"""
static float sigmoid_approx(float x) { return 1.0f / (1.0f + exp_approx(x < -87.0f ? 87.0f : -x)); }
"""

_DENSE_F32 = r"""
/* y[o] = b[o] + sum_i w[o * n_in + i] x[i] (summed in this order), then ReLU if relu.
 * On a Cortex-M4F/M7 the inner loop is 8 multiply-accumulates per pass with multi-register loads; VMLA
 * rounds the product before adding (it is not fused), so it gives the same bits as the C loop. */
static void dense(const float *w, const float *b, const float *x, float *y, int n_in, int n_out, int relu)
{
    int o, i;
    for (o = 0; o < n_out; ++o) {
        const float *row = w + o * n_in;
        float acc = b[o];
        i = 0;
#if defined(__ARM_ARCH_7EM__) && defined(__ARM_FP) && (__ARM_FP & 4)
        if (n_in >= 8) {
            const float *wp = row, *xp = x;
            int n8 = n_in / 8;
            __asm__ volatile(
                "1:\n\t"
                "vldmia %[wp]!, {s0-s7}\n\t"
                "vldmia %[xp]!, {s8-s15}\n\t"
                "vmla.f32 %[acc], s0, s8\n\t"
                "vmla.f32 %[acc], s1, s9\n\t"
                "vmla.f32 %[acc], s2, s10\n\t"
                "vmla.f32 %[acc], s3, s11\n\t"
                "vmla.f32 %[acc], s4, s12\n\t"
                "vmla.f32 %[acc], s5, s13\n\t"
                "vmla.f32 %[acc], s6, s14\n\t"
                "vmla.f32 %[acc], s7, s15\n\t"
                "subs %[n8], %[n8], #1\n\t"
                "bne 1b"
                : [acc] "+t"(acc), [wp] "+r"(wp), [xp] "+r"(xp), [n8] "+r"(n8)
                :
                : "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13",
                  "s14", "s15", "cc", "memory");
            i = n_in / 8 * 8;
        }
#endif
        for (; i < n_in; ++i)
            acc = acc + row[i] * x[i];
        y[o] = (relu && acc < 0.0f) ? 0.0f : acc;
    }
}
"""

_DENSE_I8 = r"""
/* Weights: one uint32 word per 4 inputs holding int8 [w0, w2, w1, w3]; activations: one uint32 word per
 * 2 inputs holding int16 (x0, x1). Rows are padded to a multiple of 8 inputs. */
#define LO16(v) ((int32_t)(int16_t)(uint16_t)((v) & 0xFFFFu))
#define HI16(v) ((int32_t)(int16_t)(uint16_t)((v) >> 16))
#define W8(w, s) ((int32_t)(int8_t)(uint8_t)((w) >> (s)))

/* x (n floats) -> xq (n_pad / 2 words of int16 pairs) in [-q_max, q_max]; returns the scale max|x| / q_max. */
static float quantize(const float *x, uint32_t *xq, int n, int n_pad, float q_max)
{
    float amax = 0.0f, inv, v0, v1;
    int i;
    for (i = 0; i < n; ++i) {
        v0 = x[i] < 0.0f ? -x[i] : x[i];
        if (v0 > amax) amax = v0;
    }
    inv = amax > 0.0f ? q_max / amax : 0.0f;
    for (i = 0; i < n_pad; i += 2) {
        v0 = i < n ? x[i] * inv : 0.0f;
        v1 = i + 1 < n ? x[i + 1] * inv : 0.0f;
        v0 += v0 >= 0.0f ? 0.5f : -0.5f;   /* round half away from zero */
        v1 += v1 >= 0.0f ? 0.5f : -0.5f;
        xq[i >> 1] = (uint32_t)(uint16_t)(int16_t)(int)v0 | (uint32_t)(uint16_t)(int16_t)(int)v1 << 16;
    }
    return amax / q_max;
}

/* y[o] = (sum_i w_q[o][i] x_q[i]) * x_scale * w_scale[o] + b[o] with int32 accumulation.
 * On a Cortex-M4/M7 (DSP extension) SXTB16 unpacks two int8 weights and SMLAD does two 16x16
 * multiply-accumulates per instruction: 8 MACs in 13 instructions. */
static void dense_q(const uint32_t *w, const float *w_scale, const float *b, const uint32_t *xq, float x_scale,
                    float *y, int n_words, int n_out, int relu)
{
    int o;
    for (o = 0; o < n_out; ++o) {
        const uint32_t *row = w + o * n_words;
        int32_t acc = 0;
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
        const uint32_t *wp = row, *xp = xq;
        int n8 = n_words / 2;
        uint32_t w0, w1, x0, x1, t;
        __asm__ volatile(
            "1:\n\t"
            "ldrd %[w0], %[w1], [%[wp]], #8\n\t"
            "ldrd %[x0], %[x1], [%[xp]], #8\n\t"
            "sxtb16 %[t], %[w0], ror #8\n\t"
            "sxtb16 %[w0], %[w0]\n\t"
            "smlad %[acc], %[w0], %[x0], %[acc]\n\t"
            "smlad %[acc], %[t], %[x1], %[acc]\n\t"
            "ldrd %[x0], %[x1], [%[xp]], #8\n\t"
            "sxtb16 %[t], %[w1], ror #8\n\t"
            "sxtb16 %[w1], %[w1]\n\t"
            "smlad %[acc], %[w1], %[x0], %[acc]\n\t"
            "smlad %[acc], %[t], %[x1], %[acc]\n\t"
            "subs %[n8], %[n8], #1\n\t"
            "bne 1b"
            : [acc] "+r"(acc), [wp] "+r"(wp), [xp] "+r"(xp), [n8] "+r"(n8), [w0] "=&r"(w0), [w1] "=&r"(w1),
              [x0] "=&r"(x0), [x1] "=&r"(x1), [t] "=&r"(t)
            :
            : "cc", "memory");
#else
        int k;
        for (k = 0; k < n_words; ++k) {
            uint32_t wk = row[k], x01 = xq[2 * k], x23 = xq[2 * k + 1];
            acc += W8(wk, 0) * LO16(x01) + W8(wk, 16) * HI16(x01) + W8(wk, 8) * LO16(x23) + W8(wk, 24) * HI16(x23);
        }
#endif
        {
            float v = (float)acc * (x_scale * w_scale[o]) + b[o];
            y[o] = (relu && v < 0.0f) ? 0.0f : v;
        }
    }
}
"""


def generate_c(mlp: MLP, name: str = "policy", quant: str = "none", source: str = "",
               calibration: np.ndarray | None = None) -> CSource:
    """C99 source for `mlp`. quant: 'none' (float32) or 'int8'; calibration: (N, obs_dim) observations
    the policy really sees (int8 only: GPTQ rounding, see `quantize_dense`)."""
    if quant not in QUANT_MODES:
        raise ExportError(f"quant must be one of {', '.join(QUANT_MODES)}, got {quant!r}")
    if not name.isidentifier():
        raise ExportError(f"name {name!r} must be a C identifier")
    calib = None
    if quant == "int8":
        mlp = equalize_columns(mlp)
        if calibration is not None:
            calib = _layer_inputs(mlp, calibration)
    up = name.upper()
    widths = [mlp.obs_dim] + [layer.n_out for layer in mlp.dense]
    max_w = max(widths)
    data, decls, body = [], ["    int i;"], []
    flash = ram = 0
    buf = ["buf_a", "buf_b"]
    cur = "obs"          # name of the array holding the current activations
    nxt = 0
    width = mlp.obs_dim
    if quant == "int8":
        max_pad = max(-(-layer.n_in // 8) * 8 for layer in mlp.dense)
        decls.append("    uint32_t *xq = xq_buf;\n    float xs;")
        ram += max_pad * 2
    for li, layer in enumerate(mlp.layers):
        if isinstance(layer, Dense):
            out = buf[nxt]
            nxt ^= 1
            if quant == "none":
                data.append(_array("float", f"L{li}_W", layer.w, _hexf))
                data.append(_array("float", f"L{li}_B", layer.b, _hexf))
                flash += 4 * (layer.w.size + layer.b.size)
                body.append(f"    dense(L{li}_W, L{li}_B, {cur}, {out}, {layer.n_in}, {layer.n_out}, {int(layer.relu)});")
            else:
                qd = quantize_dense(layer, None if calib is None else calib[li])
                data.append(_array("uint32_t", f"L{li}_WQ", qd.words, lambda v: f"0x{int(v):08x}u", 6))
                data.append(_array("float", f"L{li}_WS", qd.w_scale, _hexf))
                data.append(_array("float", f"L{li}_B", qd.b, _hexf))
                flash += 4 * (qd.words.size + qd.w_scale.size + qd.b.size)
                body.append(f"    xs = quantize({cur}, xq, {qd.n_in}, {qd.n_in_pad}, {qd.q_max}.0f);")
                body.append(f"    dense_q(L{li}_WQ, L{li}_WS, L{li}_B, xq, xs, {out}, {qd.n_in_pad // 4}, "
                            f"{layer.n_out}, {int(layer.relu)});")
            cur, width = out, layer.n_out
        elif isinstance(layer, Affine):
            data.append(_array("float", f"L{li}_SCALE", layer.scale, _hexf))
            data.append(_array("float", f"L{li}_SHIFT", layer.shift, _hexf))
            flash += 8 * layer.scale.size
            if cur == "obs":  # never write into the caller's observation
                body.append(f"    for (i = 0; i < {width}; ++i) {buf[nxt]}[i] = obs[i];")
                cur = buf[nxt]
                nxt ^= 1
            body.append(f"    for (i = 0; i < {width}; ++i) {cur}[i] = {cur}[i] * L{li}_SCALE[i] + L{li}_SHIFT[i];")
        elif isinstance(layer, Activation):
            if cur == "obs":
                body.append(f"    for (i = 0; i < {width}; ++i) {buf[nxt]}[i] = obs[i];")
                cur = buf[nxt]
                nxt ^= 1
            expr = {"relu": f"{cur}[i] < 0.0f ? 0.0f : {cur}[i]",
                    "leaky_relu": f"{cur}[i] < 0.0f ? {_hexf(layer.alpha)} * {cur}[i] : {cur}[i]",
                    "tanh": f"tanh_approx({cur}[i])", "sigmoid": f"sigmoid_approx({cur}[i])"}[layer.kind]
            body.append(f"    for (i = 0; i < {width}; ++i) {cur}[i] = {expr};")
    ram += 2 * 4 * max_w
    flash += CODE_BYTES[quant]
    digest = hashlib.sha256("".join(data).encode()).hexdigest()[:8]
    kind = "float32" if quant == "none" else "int8 weights, int16 activations, int32 accumulation"
    sizes = " -> ".join(str(w) for w in widths)
    h_text = f"""/* {name}.h: generated by `roboloop export c` ({kind}); do not edit.
 * MLP {sizes}{(' from ' + source) if source else ''}. */
#ifndef {up}_H
#define {up}_H

#define {up}_OBS_DIM {mlp.obs_dim}
#define {up}_ACT_DIM {mlp.act_dim}
#define {up}_ID 0x{digest}u            /* first 32 bits of the weights' sha256 */
#define {up}_QUANT_INT8 {int(quant == 'int8')}
#define {up}_OK 0
#define {up}_ERR_INPUT 1               /* an observation was NaN/inf: act is zeroed, stop the robot */
#define {up}_ERR_OUTPUT 2              /* an action came out non-finite: act is zeroed, stop the robot */

/* obs: {mlp.obs_dim} floats, act: {mlp.act_dim} floats. Reentrant only per thread: uses static buffers. */
int {name}_step(const float *obs, float *act);

#endif
"""
    c_text = "\n".join([
        f"/* {name}.c: generated by `roboloop export c` ({kind}); do not edit.",
        f" * MLP {sizes}. No malloc, no stdio, no libm; const weights live in flash. */",
        f'#include <stdint.h>\n#include "{name}.h"',
        *_helpers(mlp), _DENSE_I8 if quant == "int8" else _DENSE_F32,
        *data,
        f"static float buf_a[{max_w}], buf_b[{max_w}];",
        *([f"static uint32_t xq_buf[{max_pad // 2}];"] if quant == "int8" else []),
        "",
        f"int {name}_step(const float *obs, float *act)",
        "{",
        *decls,
        f"    for (i = 0; i < {mlp.obs_dim}; ++i)",
        "        if (!is_finite(obs[i])) {",
        f"            for (i = 0; i < {mlp.act_dim}; ++i) act[i] = 0.0f;",
        f"            return {up}_ERR_INPUT;",
        "        }",
        *body,
        f"    for (i = 0; i < {mlp.act_dim}; ++i) {{",
        f"        if (!is_finite({cur}[i])) {{",
        f"            for (i = 0; i < {mlp.act_dim}; ++i) act[i] = 0.0f;",
        f"            return {up}_ERR_OUTPUT;",
        "        }",
        f"        act[i] = {cur}[i];",
        "    }",
        f"    return {up}_OK;",
        "}",
        "",
    ])
    return CSource(name, quant, c_text, h_text, flash, ram, mlp)


def _helpers(mlp: MLP) -> list[str]:
    """Only the helper functions this MLP calls (unused static functions are warnings under -Wall)."""
    kinds = {layer.kind for layer in mlp.layers if isinstance(layer, Activation)}
    return ([_IS_FINITE] + ([_EXP] if kinds & {"tanh", "sigmoid"} else [])
            + ([_TANH] if "tanh" in kinds else []) + ([_SIGMOID] if "sigmoid" in kinds else []))


def _layer_inputs(mlp: MLP, obs: np.ndarray) -> dict[int, np.ndarray]:
    """{index of each dense layer: its float inputs} for observations `obs` (N, obs_dim)."""
    x = np.asarray(obs, np.float64).reshape(len(obs), -1)
    if x.shape[1] != mlp.obs_dim:
        raise ExportError(f"calibration observations have {x.shape[1]} values, the actor takes {mlp.obs_dim}")
    out = {}
    for li, layer in enumerate(mlp.layers):
        if isinstance(layer, Dense):
            out[li] = x
        x = MLP(x.shape[1], 0, [layer]).forward(x)
    return out


def check_fits(src: CSource, target: str) -> list[str]:
    """Warnings (also issued as UserWarning) when the actor is too big for `target`'s flash or RAM."""
    if target not in TARGETS:
        raise ExportError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    t = TARGETS[target]
    msgs = []
    if t.flash is not None and src.flash_bytes > t.flash:
        msgs.append(f"the actor needs ~{src.flash_bytes} bytes of flash, more than {t.name}'s {t.flash} "
                    f"({t.description}); use --quant int8 or a smaller actor")
    if t.ram is not None and src.ram_bytes > t.ram:
        msgs.append(f"the actor needs {src.ram_bytes} bytes of RAM for its buffers, more than {t.name}'s {t.ram}")
    for m in msgs:
        warnings.warn(m, UserWarning, stacklevel=2)
    return msgs


def _check_finite(mlp, source: Path) -> None:
    """NaN or infinite parameters would print as `nan`/`inf` tokens that are not C: refuse them here."""
    for i, layer in enumerate(mlp.layers):
        for attr in ("w", "b", "scale", "shift"):
            values = getattr(layer, attr, None)
            if values is not None and not np.all(np.isfinite(values)):
                raise ExportError(f"{source}: layer {i} ({type(layer).__name__}.{attr}) holds NaN or infinite "
                                  f"values; the policy diverged in training, so there is nothing to export")


def refuse_grasp_head(source: Path, grasp: bool) -> None:
    """An ExportError when the actor's gripper comes from a grasp critic (sac.grasp_critic): the C
    generator emits dense chains only, and a chain without the ArgMax would send a wrong gripper."""
    if grasp:
        raise ExportError(f"{source}: the actor's gripper is the argmax of a grasp critic (sac.grasp_critic), "
                          f"which the C export cannot express (dense layers and activations only); export it "
                          f"to ONNX instead (roboloop export onnx)")


def export_c(source: str | Path, out_dir: str | Path, target: str = "cortex-m4", quant: str = "none",
             name: str = "policy", calibration: np.ndarray | None = None) -> tuple[CSource, list[str]]:
    """`source` is an .onnx file or a checkpoint folder (exported to <out_dir>/<name>.onnx first).

    calibration: (N, obs_dim) observations for int8 rounding; from a checkpoint folder, int8 records
    1000 of them by running the policy in its task (an .onnx file alone gives nearest rounding).
    Writes <out_dir>/<name>.c and .h; returns the source and the target's size warnings.
    """
    source = Path(source)
    if source.is_dir():
        from roboloop.checkpoint import load_checkpoint
        from roboloop.policies.export.onnx_export import export_onnx, record_observations
        # refused before any export or calibration work; an .onnx file is checked once it is loaded
        config = load_checkpoint(source, load_replay=False).meta["config"]
        refuse_grasp_head(source, bool(config.get("sac", {}).get("grasp_critic")))
        if quant == "int8" and calibration is None:
            calibration = record_observations(source, 1000, seed=0)["state"]
        source = export_onnx(source, Path(out_dir) / f"{name}.onnx").path
    if target not in TARGETS:
        raise ExportError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    model = load_onnx(source)
    refuse_grasp_head(source, {p.key: p.value for p in model.metadata_props}.get("grasp_head") == "true")
    mlp = parse_mlp(model)
    _check_finite(mlp, source)
    src = generate_c(mlp, name, quant, source=source.name, calibration=calibration)
    src.write(out_dir)
    return src, check_fits(src, target)
