"""Upsampled sequences without upsampling: the x``scale`` linear interpolation as pieces.

The official pipeline interpolates every class activation sequence to ``scale × T`` points
(18,000 for THUMOS'14) and then thresholds, groups and averages them. Between two segments
the interpolated values lie on one line, so everything the proposal generator needs can be
computed per *piece* (one per segment, ``T`` of them) instead of per upsampled point:

* the value at any point, with exactly the arithmetic of the dense interpolation
  (:func:`wtal_blocks.segments.upsample_linear`, itself SciPy's ``interp1d``), so threshold
  comparisons agree bit for bit;
* how many thresholds each point reaches ("level"): monotone along a piece, so it only needs
  evaluating at the two ends of each piece, plus every point of the few pieces where it changes;
* sums over any range of points, from per-piece sums and prefix sums of the interpolation
  fractions.

Work is O(rows × T) plus O(number of level changes), instead of O(rows × scale × T).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["PiecewiseLinear"]

_WINDOW = 2  # points checked on each side of a computed crossing (a miss falls back to the piece)


class _Grid:
    """The upsampled positions shared by all rows of length ``<= T``: ``pos_j = j / scale``."""

    def __init__(self, t: int, scale: int, device: torch.device) -> None:
        j = torch.arange(scale * t, device=device)
        self.pos = j.to(torch.float64) * (1.0 / scale)  # NumPy's arange values
        # SciPy's bracket: lo = clip(searchsorted_left(arange(T), pos), 1, T_b-1) - 1;
        # searchsorted on integers is ceil(pos); the clip at T_b - 1 is applied per row
        self.piece = torch.ceil(self.pos).long().clamp(min=1) - 1  # piece index before the top clip
        self.start = torch.searchsorted(
            self.piece, torch.arange(t + 1, device=device)
        )  # first point of each piece
        frac = self.pos - self.piece.to(torch.float64)
        self.frac_prefix = torch.nn.functional.pad(
            torch.cumsum(frac, 0), (1, 0)
        )  # Σ_{j'<j} frac_j'
        # one extra entry so that "one past the last point" has a piece too
        self.piece_ext = torch.cat([self.piece, self.piece[-1:]])
        last = j.shape[0] - 1
        self.pos_first = self.pos[self.start[:t].clamp(max=last)]  # first point of each piece
        self.pos_last = self.pos[
            (self.start[1:] - 1).clamp(max=last)
        ]  # its last point (before the row's tail)
        self.max_width = int((self.start[1:] - self.start[:-1]).max()) if t > 1 else scale
        self.scale = scale


class PiecewiseLinear:
    """Rows ``y (R, T)`` seen as their x``scale`` linear interpolation (see module docstring).

    Args:
        y: ``(R, T)`` values (any float dtype; differences are taken in it, as SciPy does).
        lengths: ``(R,)`` valid lengths ``T_r >= 1``.
        scale: upsampling factor.
        extrapolate: linear extrapolation past the last segment (else hold the last value).
    """

    def __init__(self, y: Tensor, lengths: Tensor, scale: int, *, extrapolate: bool = True) -> None:
        f64 = torch.float64
        rows, t = y.shape
        self.grid = _Grid(t, scale, y.device)
        self.scale = scale
        self.lengths = lengths
        self.extrapolate = extrapolate
        g = torch.arange(t, device=y.device)[None, :]
        self.valid = g < lengths[:, None]  # (R, T) pieces that exist
        # piece g of row r interpolates between segments lo and lo + 1, lo = min(g, T_r - 2)
        self.lo = torch.minimum(g, (lengths[:, None] - 2).clamp(min=0)).expand(rows, t)
        y_lo = torch.gather(y, 1, self.lo)
        y_hi = torch.gather(y, 1, (self.lo + 1).clamp(max=t - 1))
        single = (lengths == 1)[:, None]
        self.a = y_lo.to(f64)
        self.b = torch.where(
            single, torch.zeros((), dtype=f64, device=y.device), (y_hi - y_lo).to(f64)
        )
        self.extra = (g - self.lo).to(
            f64
        )  # 1 on the tail piece, whose points have piece index lo + 1
        self.tail = g == (lengths[:, None] - 1)
        self.hold = self.tail & ~torch.tensor(extrapolate, device=y.device) & ~single
        grid = self.grid
        self.first = grid.start[:t].expand(rows, t)
        end_next = grid.start[1 : t + 1].expand(rows, t)
        self.end = torch.where(self.tail, (scale * lengths)[:, None].expand(rows, t), end_next)
        self.valid &= self.end > self.first  # with scale 1 the tail piece holds no point
        self.all_valid = bool(self.valid.all())  # unpadded batches skip the masking below
        self.lo_f64 = self.lo.to(f64)
        n = (self.end - self.first).to(f64)
        frac_sum = grid.frac_prefix[self.end] - grid.frac_prefix[self.first] + n * self.extra
        frac_sum = torch.where(self.hold, n, frac_sum)
        piece_sum = torch.where(
            self.valid, n * self.a + self.b * frac_sum, torch.zeros((), dtype=f64, device=y.device)
        )
        self.before = torch.nn.functional.pad(torch.cumsum(piece_sum, 1), (1, 0))  # (R, T+1)
        self._t = t
        self._a_flat = self.a.reshape(-1)
        self._b_flat = self.b.reshape(-1)
        self._before_flat = self.before[:, :-1].reshape(-1)

    # -- point values and sums (sparse queries) -----------------------------------------
    def _pieces(self, row: Tensor, piece: Tensor) -> Tensor:
        """Per query: before, a, b, lo, extra, first, hold (3 gathers; the rest is arithmetic)."""
        flat = row * self._t + piece
        length = self.lengths[row]
        lo = torch.minimum(piece, (length - 2).clamp(min=0))
        hold = (
            (piece == length - 1) & (length > 1)
            if not self.extrapolate
            else torch.zeros_like(piece, dtype=torch.bool)
        )
        f64 = torch.float64
        return torch.stack(
            [
                self._before_flat.index_select(0, flat),
                self._a_flat.index_select(0, flat),
                self._b_flat.index_select(0, flat),
                lo.to(f64),
                (piece - lo).to(f64),
                self.grid.start.index_select(0, piece).to(f64),
                hold.to(f64),
            ],
            dim=-1,
        )

    def _position(self, j: Tensor) -> Tensor:
        return j.to(torch.float64) * (1.0 / self.scale)  # the grid's arithmetic, no gather

    def _dense_value(self, pos: Tensor) -> Tensor:
        """Values at one position ``pos (R, T)`` (in grid units) of every piece, without gathers."""
        frac = pos - self.lo_f64
        if not self.extrapolate:
            frac = torch.where(self.hold, frac.clamp(max=1.0), frac)
        return self.b * frac + self.a  # two roundings, as the dense form (no fused multiply-add)

    @staticmethod
    def _value_from(rec: Tensor, pos: Tensor) -> Tensor:
        frac = pos - rec[..., 3]
        frac = torch.where(rec[..., 6] > 0, frac.clamp(max=1.0), frac)
        return rec[..., 2] * frac + rec[..., 1]

    def value(self, row: Tensor, piece: Tensor, j: Tensor) -> Tensor:
        """Interpolated value at point ``j`` (in ``piece`` of ``row``), bit-identical to the dense form."""
        return self._value_from(self._pieces(row, piece), self._position(j))

    def piece_of(self, row: Tensor, j: Tensor) -> Tensor:
        """The piece holding point ``j`` (``0 <= j <= scale * T_r``; the end maps to the last piece)."""
        return torch.minimum(self.grid.piece_ext[j], self.lengths[row] - 1)

    def cumulative(self, row: Tensor, j: Tensor) -> Tensor:
        """``Σ_{i < j} value_i`` of ``row``, for ``0 <= j <= scale * T_r``."""
        length = self.lengths[row]
        piece = torch.minimum(self.grid.piece_ext[j], length - 1)
        flat = row * self._t + piece
        first = self.grid.start[piece]
        count = (j - first).to(torch.float64)
        lo = torch.minimum(piece, (length - 2).clamp(min=0))
        frac_sum = self.grid.frac_prefix[j] - self.grid.frac_prefix[first] + count * (piece - lo)
        if not self.extrapolate:
            frac_sum = torch.where((piece == length - 1) & (length > 1), count, frac_sum)
        return (
            self._before_flat.index_select(0, flat)
            + count * self._a_flat.index_select(0, flat)
            + self._b_flat.index_select(0, flat) * frac_sum
        )

    # -- thresholds -------------------------------------------------------------------
    def level_changes(self, thresholds: Sequence[float]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Where the level (number of thresholds ``<=`` the value, 0 where ``value <= 0``)
        changes: ``(row, position, level before, level at position)``, one entry per change,
        including the rise at position 0 and the fall one past the last point."""
        device = self.a.device
        thr = torch.tensor(sorted(thresholds), dtype=torch.float64, device=device)

        def level(v: Tensor) -> Tensor:
            return torch.where(
                v > 0,
                torch.searchsorted(thr, v.contiguous(), right=True),
                torch.zeros((), dtype=torch.long, device=device),
            )

        rows = self.a.shape[0]
        # levels at the first and last point of every piece, with dense (rows, T) arithmetic
        last_pos = torch.where(
            self.tail, self.grid.pos[(self.scale * self.lengths - 1)][:, None], self.grid.pos_last
        )
        v_first = self._dense_value(self.grid.pos_first.expand_as(self.a))
        v_last = self._dense_value(last_pos)
        zero = torch.zeros((), dtype=torch.long, device=device)
        lf, ll = level(v_first), level(v_last)
        if not self.all_valid:
            lf, ll = torch.where(self.valid, lf, zero), torch.where(self.valid, ll, zero)
        # between pieces (and the rise at 0): the level just before each piece's first point
        prev_last = torch.nn.functional.pad(ll[:, :-1], (1, 0))
        all_rows = torch.arange(rows, device=device)
        last_point = self.scale * self.lengths - 1
        at_end = level(self.value(all_rows, self.piece_of(all_rows, last_point), last_point))
        change = self.valid & (lf != prev_last)
        cr, cp = torch.nonzero(change, as_tuple=True)
        rows_out = [cr, all_rows]
        pos_out = [self.first[cr, cp], self.scale * self.lengths]
        from_out = [prev_last[cr, cp], at_end]
        to_out = [lf[cr, cp], torch.zeros_like(at_end)]
        ir, ip = torch.nonzero(self.valid & (lf != ll), as_tuple=True)
        # inside the pieces whose two ends differ: the level is monotone along a piece, so each
        # threshold it passes is crossed once; locate the crossing from the line's equation,
        # then settle it exactly by evaluating the neighbouring points
        if ir.numel():
            rec = self._pieces(ir, ip)
            lo_lv, hi_lv = lf[ir, ip], ll[ir, ip]
            rising = hi_lv > lo_lv
            base = torch.minimum(lo_lv, hi_lv)
            count = (hi_lv - lo_lv).abs()
            k = torch.repeat_interleave(torch.arange(ir.shape[0], device=device), count)
            step = torch.arange(k.shape[0], device=device) - (torch.cumsum(count, 0) - count)[k]
            h = base[k] + step  # the threshold (rank) crossed: level goes h -> h+1 (or back)
            rk = rec[k]
            first, end = self.first[ir, ip][k], self.end[ir, ip][k]
            # the first point whose level is > h (rising) or <= h (falling): from the line's
            # equation, then settled among the nearest points with the exact arithmetic
            slope = torch.where(rk[:, 2] != 0, rk[:, 2], torch.ones_like(rk[:, 2]))
            guess = self.scale * (rk[:, 3] + (thr[h] - rk[:, 1]) / slope)
            j0 = torch.ceil(torch.nan_to_num(guess, nan=0.0).clamp(-1e15, 1e15)).long()
            cand = j0[:, None] + torch.arange(-_WINDOW, _WINDOW + 1, device=device)[None, :]
            cand = torch.minimum(torch.maximum(cand, first[:, None]), end[:, None] - 1)
            lv = level(self._value_from(rk[:, None, :], self._position(cand)))
            up = rising[k][:, None]
            hit = torch.where(up, lv > h[:, None], lv <= h[:, None])
            prev = torch.nn.functional.pad(hit[:, :-1], (1, 0), value=False)
            edge = hit & ~prev
            found = edge.any(1) & ~hit[:, 0]  # the window holds the crossing and a point before it
            pos = torch.gather(cand, 1, edge.long().argmax(1, keepdim=True))[:, 0]
            if not bool(found.all()):  # rare: the equation was off by more than 2 points
                miss = torch.nonzero(~found).flatten()
                offs = torch.arange(self.grid.max_width, device=device)
                jj = first[miss][:, None] + offs[None, :]
                jj = torch.minimum(jj, end[miss][:, None] - 1)
                lvm = level(self._value_from(rk[miss][:, None, :], self._position(jj)))
                hitm = torch.where(up[miss], lvm > h[miss][:, None], lvm <= h[miss][:, None])
                pos[miss] = torch.gather(jj, 1, hitm.long().argmax(1, keepdim=True))[:, 0]
            rows_out.append(ir[k])
            pos_out.append(pos)
            from_out.append(torch.where(rising[k], h, h + 1))
            to_out.append(torch.where(rising[k], h + 1, h))
        row = torch.cat(rows_out)
        pos = torch.cat(pos_out)
        before = torch.cat(from_out)
        after = torch.cat(to_out)
        keep = before != after
        return row[keep], pos[keep], before[keep], after[keep]

    def runs(self, thresholds: Sequence[float]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Every maximal run of points at or above every threshold (and > 0):
        ``(row, threshold rank, start, end)`` sorted by (row, rank, start); rank ``h`` is the
        position of the threshold in ascending order."""
        row, pos, before, after = self.level_changes(thresholds)
        up = after > before
        r_s, p_s, h_s = _expand(row[up], pos[up], before[up], after[up])
        r_e, p_e, h_e = _expand(row[~up], pos[~up] - 1, after[~up], before[~up])
        count = len(thresholds)
        width = self.scale * self.a.shape[1] + 1
        order_s = torch.argsort((r_s * count + h_s) * width + p_s)
        order_e = torch.argsort((r_e * count + h_e) * width + p_e)
        return r_s[order_s], h_s[order_s], p_s[order_s], p_e[order_e]


def _expand(row: Tensor, pos: Tensor, low: Tensor, high: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """One entry per level ``h`` in ``[low, high)`` of every change."""
    count = high - low
    rep = torch.repeat_interleave(torch.arange(count.shape[0], device=count.device), count)
    first = torch.cumsum(count, 0) - count
    h = low[rep] + (torch.arange(rep.shape[0], device=rep.device) - first[rep])
    return row[rep], pos[rep], h
