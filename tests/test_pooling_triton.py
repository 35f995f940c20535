"""The Triton top-k MIL pooling kernel against the torch path and the plain-loop reference.

Without CUDA the kernel runs under Triton's CPU interpreter (``tests/conftest.py`` sets
``TRITON_INTERPRET=1``), which is slow: shapes here stay small, and the large cases are
``gpu``-marked. The kernel orders equal scores by time index (lower first), the reference's
``top_indices`` rule, so its indices are compared with the reference exactly; ``torch.topk``
promises no order among ties, so against the torch path only values are compared exactly.
"""

from __future__ import annotations

import subprocess
import sys

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given, settings

pytest.importorskip(
    "triton", reason="triton is not installed: the optional Triton backend is not tested"
)

from tests.conftest import REPO_ROOT
from tests.helpers import run_without_triton_interpreter
from tests.reference import um_reference as ref
from wtal_blocks import TopKMILPooling, topk_mil_pooling, topk_mil_pooling_with_indices
from wtal_blocks.kernels.topk_triton import MAX_TIME, topk_mean_triton
from wtal_blocks.pooling import TopKResult

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
# tolerance of a mean computed in a different summation order, per input dtype
TOL = {
    torch.float16: {"rtol": 2e-3, "atol": 2e-3},
    torch.bfloat16: {"rtol": 1.6e-2, "atol": 1.6e-2},
    torch.float32: {"rtol": 1e-5, "atol": 1e-6},
    torch.float64: {"rtol": 1e-12, "atol": 1e-12},
}


def _reference(
    x: torch.Tensor, ks: list[int], mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, list[list[list[int]]]]:
    """Reference means ``(B, C)`` float64 and selected time indices ``[n][c] -> list``."""
    b, t, c = x.shape
    means = torch.zeros(b, c, dtype=torch.float64)
    picks: list[list[list[int]]] = []
    for n in range(b):
        valid = [i for i in range(t) if mask is None or bool(mask[n, i])]
        picks.append([])
        for j in range(c):
            row = [float(x[n, i, j]) for i in valid]
            means[n, j] = ref.topk_mean(row, ks[n])
            picks[n].append([valid[i] for i in ref.top_indices(row, ks[n])])
    return means, picks


def _check(
    x: torch.Tensor,
    res: TopKResult,
    ks: list[int],
    mask: torch.Tensor | None = None,
) -> None:
    """Values against the reference and the torch path; indices against the reference."""
    b, _, c = x.shape
    assert res.values.shape == (b, c) and res.values.dtype == x.dtype
    assert res.indices.shape == (b, max(ks), c) and res.indices.dtype == torch.long
    means, picks = _reference(x.cpu(), ks, None if mask is None else mask.cpu())
    torch.testing.assert_close(res.values.double().cpu(), means, **TOL[x.dtype])
    torch_res = topk_mil_pooling_with_indices(x, torch.tensor(ks), mask=mask, backend="torch")
    torch.testing.assert_close(res.values, torch_res.values, **TOL[x.dtype])
    indices = res.indices.cpu()
    for n, k in enumerate(ks):
        # tie rule: exactly the reference's (score desc, time asc) selection and order
        assert indices[n, :k].T.tolist() == picks[n], f"video {n}"
        assert not bool(indices[n, k:].any()), "padding entries must be 0"
        # the indices point at the selected values, which equal torch.topk's (sorted) values
        picked = x[n].gather(0, res.indices[n, :k])
        assert torch.equal(picked, x[n].gather(0, torch_res.indices[n, :k]))
        assert bool((picked[:-1] >= picked[1:]).all()), "descending score order"


def _run(x: torch.Tensor, k: int | torch.Tensor, mask: torch.Tensor | None = None) -> TopKResult:
    return topk_mil_pooling_with_indices(x, k, mask=mask, backend="triton")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize(
    ("shape", "k"),
    [
        ((1, 1, 1), 1),  # T = 1
        ((2, 37, 3), 1),  # k = 1, T not a power of two
        ((2, 37, 3), 5),
        ((3, 24, 5), 24),  # k = T
        ((1, 300, 2), 33),  # UM's k = T // 9 on a THUMOS-like length
        ((4, 17, 1), 4),  # C = 1
    ],
)
def test_random_matches_reference_and_torch(
    dtype: torch.dtype, shape: tuple[int, int, int], k: int
) -> None:
    g = torch.Generator().manual_seed(sum(shape) + k)
    x = torch.randn(shape, generator=g, dtype=torch.float64).to(dtype).to(DEVICE)
    _check(x, _run(x, k), [k] * shape[0])


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_ties_select_lower_time_index_first(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(1)
    # few distinct values: every top-k crosses a run of ties
    x = torch.randint(-2, 3, (3, 40, 4), generator=g).to(dtype)
    x[0, :, 0] = 1.0  # a constant row: the selection is the first k segments
    x[1, :, 1] = torch.where(torch.arange(40) % 2 == 0, 0.0, -0.0)  # -0.0 == +0.0
    x = x.to(DEVICE)
    for k in (1, 7, 40):
        res = _run(x, k)
        _check(x, res, [k] * 3)
        assert res.indices[0, :, 0].tolist() == list(range(k))
        assert res.indices[1, :, 1].tolist() == list(range(k))


def test_masked_padded_batch() -> None:
    g = torch.Generator().manual_seed(0)
    lengths = [20, 7, 1, 13]  # video 2 has a single valid segment
    t = max(lengths)
    x = torch.randn(len(lengths), t, 3, generator=g)
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None]
    x = x.masked_fill(~mask[:, :, None], 1e6)  # padding must never enter a result
    x, mask = x.to(DEVICE), mask.to(DEVICE)
    res = topk_mil_pooling_with_indices(x, ratio=3, mask=mask, backend="triton")
    ks = [max(1, n // 3) for n in lengths]
    assert res.k.tolist() == ks
    _check(x, res, ks, mask)
    assert res.valid.tolist() == [[j < k for j in range(max(ks))] for k in ks]
    for n, length in enumerate(lengths):
        alone = topk_mil_pooling(x[n : n + 1, :length], ratio=3, backend="triton")
        torch.testing.assert_close(res.values[n : n + 1], alone)


def test_mask_with_holes_and_nan_padding() -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 50, 2, generator=g, dtype=torch.float64)
    mask = torch.rand(3, 50, generator=g) < 0.5
    mask[:, 0] = False  # a hole at t = 0, where padding indices also point
    mask[:, 1:9] = True  # at least 8 valid segments per video
    x = x.masked_fill(~mask[:, :, None], float("nan"))
    x, mask = x.to(DEVICE), mask.to(DEVICE)
    ks = [8, 3, 1]
    _check(x, _run(x, torch.tensor(ks, device=DEVICE), mask), ks, mask)


def test_non_contiguous_input() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 6, 45, generator=g).to(DEVICE).transpose(1, 2)  # (B, T, C), T-contiguous
    assert not x.is_contiguous()
    _check(x, _run(x, 9), [9, 9])
    _check(x[:, ::2], _run(x[:, ::2], 4), [4, 4])


def test_gradcheck_in_float64() -> None:
    g = torch.Generator().manual_seed(4)
    # tiny: every gradcheck column is a kernel run in the interpreter
    x = torch.randn(2, 6, 2, generator=g, dtype=torch.float64).to(DEVICE).requires_grad_()
    mask = torch.ones(2, 6, dtype=torch.bool, device=DEVICE)
    mask[1, 4:] = False
    k = torch.tensor([3, 2], device=DEVICE)

    def pooled(s: torch.Tensor) -> torch.Tensor:
        return topk_mean_triton(s, k, 3, mask)[0]

    assert torch.autograd.gradcheck(pooled, (x,))
    assert torch.autograd.gradgradcheck(pooled, (x,))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradient_equals_torch_path(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(5)
    base = torch.randn(3, 30, 4, generator=g, dtype=dtype).to(DEVICE)  # distinct values
    mask = (
        torch.arange(30, device=DEVICE)[None, :] < torch.tensor([30, 12, 5], device=DEVICE)[:, None]
    )
    weights = torch.randn(3, 4, generator=g, dtype=dtype).to(DEVICE)
    grads = []
    for backend in ("triton", "torch"):
        x = base.clone().requires_grad_()
        out = topk_mil_pooling(x, ratio=4, mask=mask, backend=backend)  # type: ignore[arg-type]
        (out * weights).sum().backward()
        assert x.grad is not None
        grads.append(x.grad)
    torch.testing.assert_close(grads[0], grads[1])
    assert float(grads[0][1, 12:].abs().sum()) == 0.0


def test_public_function_and_module() -> None:
    g = torch.Generator().manual_seed(6)
    x = torch.randn(2, 100, 3, generator=g).to(DEVICE)
    expected = topk_mil_pooling(x, ratio=9, backend="torch")
    torch.testing.assert_close(topk_mil_pooling(x, ratio=9, backend="triton"), expected)
    torch.testing.assert_close(TopKMILPooling(ratio=9, backend="triton")(x), expected)
    # values alone (no gradient: the kernel skips the indices) == the values with indices
    with torch.no_grad():
        alone = topk_mil_pooling(x, ratio=9, backend="triton")
    assert torch.equal(alone, topk_mil_pooling_with_indices(x, ratio=9, backend="triton").values)


@settings(max_examples=25)
@given(
    st.tuples(st.integers(1, 3), st.integers(1, 20), st.integers(1, 3)),
    st.data(),
)
def test_property_small_integer_scores(shape: tuple[int, int, int], data: st.DataObject) -> None:
    b, t, _ = shape
    # small integers: ties everywhere, exact sums, so values must match bit for bit
    x = torch.randint(
        -3, 4, shape, generator=torch.Generator().manual_seed(data.draw(st.integers(0, 99)))
    )
    x = x.to(torch.float32).to(DEVICE)
    ks = [data.draw(st.integers(1, t)) for _ in range(b)]
    res = _run(x, torch.tensor(ks, device=DEVICE))
    means, picks = _reference(x.cpu(), ks)
    torch.testing.assert_close(res.values.double().cpu(), means, rtol=0, atol=1e-6)
    for n, k in enumerate(ks):
        assert res.indices[n, :k].T.tolist() == picks[n]


_EXTREMES = {
    # the largest magnitudes stay small enough that a sum of 24 cannot overflow
    torch.float32: [-1e37, -1.0, -1.2e-38, -1e-45, -0.0, 0.0, 1e-45, 1.2e-38, 1.0, 1e37],
    torch.float64: [-1e306, -1.0, -2.2e-308, -5e-324, -0.0, 0.0, 5e-324, 2.2e-308, 1.0, 1e306],
}


@settings(max_examples=25)
@given(
    st.sampled_from([torch.float32, torch.float64]),
    # on CUDA each power-of-two bucket of T is another compilation (seconds each): one bucket
    # there, every small T under the interpreter
    st.tuples(
        st.integers(1, 3),
        st.integers(17, 32) if DEVICE.type == "cuda" else st.integers(1, 24),
        st.integers(1, 3),
    ),
    st.booleans(),
    st.booleans(),
    st.data(),
)
def test_property_extreme_values_masks_and_k(
    dtype: torch.dtype,
    shape: tuple[int, int, int],
    use_mask: bool,
    one_k: bool,
    data: st.DataObject,
) -> None:
    """The select works on the floats' bit patterns: extremes, subnormals, +-0 and ties
    across the sign must order exactly as the numbers do, with and without a mask."""
    b, t, c = shape
    pool = _EXTREMES[dtype]
    values = data.draw(
        st.lists(
            st.one_of(st.sampled_from(pool), st.floats(-1e3, 1e3, width=32)),
            min_size=b * t * c,
            max_size=b * t * c,
        )
    )
    x = torch.tensor(values, dtype=dtype).reshape(shape)
    lengths = [data.draw(st.integers(1, t)) for _ in range(b)] if use_mask else [t] * b
    mask = torch.arange(t)[None, :] < torch.tensor(lengths)[:, None] if use_mask else None
    if one_k:
        ks = [data.draw(st.integers(1, min(lengths)))] * b
        k: int | torch.Tensor = ks[0]
    else:
        ks = [data.draw(st.integers(1, n)) for n in lengths]
        k = torch.tensor(ks, device=DEVICE)
    x_dev = x.to(DEVICE)
    res = _run(x_dev, k, None if mask is None else mask.to(DEVICE))
    _, picks = _reference(x, ks, mask)
    indices = res.indices.cpu()
    for n, kn in enumerate(ks):
        assert indices[n, :kn].T.tolist() == picks[n], f"video {n}"
        assert not bool(indices[n, kn:].any())
        # the mean of exactly the selected values, up to the rounding of a sum in another
        # order (cancellation between extremes: the bound scales with the magnitudes)
        chosen = x[n].gather(0, indices[n, :kn]).double()
        expected = chosen.sum(0) / kn
        scale = chosen.abs().sum(0) / kn
        # plus the smallest subnormal: a mean of subnormals rounds to the result dtype's grid,
        # an error of up to half that step (e.g. (-1e-45 + 0) / 2 is -0.0 in float32)
        tiny = float(torch.finfo(dtype).smallest_normal) * float(torch.finfo(dtype).eps)
        bound = (2e-6 if dtype == torch.float32 else 1e-14) * scale + tiny
        err = (res.values[n].cpu().double() - expected).abs()
        assert bool((err <= bound).all()), (res.values[n], expected)


def test_rejects_unsupported_input() -> None:
    k = torch.ones(1, dtype=torch.long)
    with pytest.raises(ValueError, match=rf"1 <= T <= {MAX_TIME} segments, got T={MAX_TIME + 1}"):
        topk_mean_triton(torch.zeros(1, MAX_TIME + 1, 1), k, 1)
    with pytest.raises(ValueError, match=r"scores dtype must be one of"):
        topk_mean_triton(torch.zeros(1, 4, 1, dtype=torch.int32), k, 1)
    with pytest.raises(ValueError, match=r"k must be an integer tensor of shape \(1,\)"):
        topk_mean_triton(torch.zeros(1, 4, 1), torch.ones(2, dtype=torch.long), 1)
    with pytest.raises(ValueError, match=r"k_max must satisfy 1 <= k_max <= T=4, got 5"):
        topk_mean_triton(torch.zeros(1, 4, 1), k, 5)
    with pytest.raises(ValueError, match=r"mask must be a bool tensor of shape \(1, 4\)"):
        topk_mean_triton(torch.zeros(1, 4, 1), k, 1, torch.ones(1, 4))


def test_empty_batch_and_classes() -> None:
    res = _run(torch.zeros(2, 5, 0, device=DEVICE), 2)
    assert res.values.shape == (2, 0) and res.indices.shape == (2, 2, 0)
    res = _run(torch.zeros(0, 5, 3, device=DEVICE), 2)
    assert res.values.shape == (0, 3) and res.indices.shape == (0, 2, 3)


def test_torch_path_never_imports_triton() -> None:
    code = (
        "import sys, torch; from wtal_blocks import topk_mil_pooling; "
        "topk_mil_pooling(torch.randn(1, 4, 2), k=1); "
        "assert 'triton' not in sys.modules, 'triton imported by the torch path'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


# Compiles the kernel for sm_90 without a GPU. The interpreter runs the kernel as plain
# Python, so it accepts code the compiler rejects (it did: a constexpr rebound in a loop).
# Exit code 3: this Triton lacks the ahead-of-time API or ptxas, and the test is skipped.
_COMPILE_FOR_SM90 = r"""
import sys
try:
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
except ImportError as exc:
    print(f"no ahead-of-time compile API: {exc}")
    sys.exit(3)
from wtal_blocks.kernels import topk_triton as m

kernel = m._topk_mean_kernel
for dtype, log_t, block_c, has_mask, per_video_k, warps in [
    ("fp32", 6, 4, True, True, 2), ("fp64", 5, 1, False, False, 2), ("bf16", 3, 2, True, False, 2),
    ("fp32", 12, 1, False, False, 8), ("fp16", 10, 2, True, True, 4), ("fp64", 13, 1, True, True, 16),
]:
    types = {"scores_ptr": f"*{dtype}", "mask_ptr": "*u8", "k_ptr": "*i64",
             "values_ptr": f"*{dtype}", "indices_ptr": "*i64"}
    const = {"HAS_MASK": has_mask, "PER_VIDEO_K": per_video_k, "ACC_FP64": dtype == "fp64",
             "BLOCK_C": block_c, "LOG_T": log_t, "NBITS": 63 if dtype == "fp64" else 31,
             "WRITE_INDICES": log_t != 12}
    if not per_video_k and log_t < 8:
        const["K"] = 1  # Triton specialises an int argument equal to 1 into a constexpr
    names = kernel.arg_names
    signature = {n: "constexpr" if n in const else types.get(n, "i32") for n in names}
    try:
        src = ASTSource(fn=kernel, signature=signature,
                        constexprs={(names.index(n),): v for n, v in const.items()})
    except TypeError as exc:
        print(f"unknown ASTSource signature: {exc}")
        sys.exit(3)
    try:
        triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"num_warps": warps})
    except Exception as exc:  # compile errors fail the test; a missing assembler skips it
        if "ptxas" in str(exc) and "CompilationError" not in type(exc).__name__:
            print(f"no ptxas: {exc}")
            sys.exit(3)
        raise
"""


def test_kernel_compiles_for_sm90_without_a_gpu() -> None:
    proc = run_without_triton_interpreter(_COMPILE_FOR_SM90)
    if proc.returncode == 3:
        pytest.skip(proc.stdout.strip())
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]


@pytest.mark.gpu
@pytest.mark.parametrize("shape", [(16, 750, 20), (16, 4096, 200), (2, 8192, 8)])
@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_large_shapes_on_cuda(shape: tuple[int, int, int], dtype: torch.dtype) -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device (the interpreter is too slow for these shapes)")
    b, t, c = shape
    g = torch.Generator(device="cuda").manual_seed(7)
    # a random permutation of 0..T-1 per row (scaled: the torch path sums in fp16): no ties,
    # so selections and gradients must agree with torch.topk exactly (fp16 cannot hold T
    # distinct values: values only)
    x = (torch.rand(shape, generator=g, device="cuda").argsort(dim=1) / t).to(dtype)
    distinct = dtype != torch.float16
    lengths = torch.randint(t // 2, t + 1, (b,), device="cuda", generator=g)
    for mask in (None, torch.arange(t, device="cuda")[None, :] < lengths[:, None]):
        res = topk_mil_pooling_with_indices(x, ratio=9, mask=mask, backend="triton")
        expected = topk_mil_pooling_with_indices(x, ratio=9, mask=mask, backend="torch")
        torch.testing.assert_close(res.values, expected.values, **TOL[dtype])
        picked = torch.where(res.valid[:, :, None], x.gather(1, res.indices), 0)
        assert torch.equal(
            picked, torch.where(expected.valid[:, :, None], x.gather(1, expected.indices), 0)
        )
        if distinct:
            assert torch.equal(res.indices, expected.indices)
        weights = torch.randn(b, c, device="cuda", dtype=dtype, generator=g)
        grads = []
        for backend in ("triton", "torch"):
            xg = x.clone().requires_grad_()
            out = topk_mil_pooling(xg, ratio=9, mask=mask, backend=backend)  # type: ignore[arg-type]
            (out * weights).sum().backward()
            grads.append(xg.grad)
        if distinct:
            torch.testing.assert_close(grads[0], grads[1])


def test_torch_path_limit_constant_matches_kernel() -> None:
    from wtal_blocks import pooling
    from wtal_blocks.kernels import topk_triton

    assert pooling._TRITON_MAX_TIME == topk_triton.MAX_TIME
